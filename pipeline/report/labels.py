"""Strings as the reports show them: shortened to one line, op types abbreviated (no plotting library needed)."""
from mnd.base.control_chars import visible

SHORT_OPS = {"CONV_2D": "conv", "DEPTHWISE_CONV_2D": "dw", "FULLY_CONNECTED": "fc", "AVERAGE_POOL_2D": "avgpool",
             "MAX_POOL_2D": "maxpool", "SOFTMAX": "softmax", "RESHAPE": "reshape", "ADD": "add"}


def short(text, limit: int = 40) -> str:
    """A name as a figure draws it: one line (control characters and lone surrogates as escapes), at most `limit`."""
    text = visible(" ".join(str(text).split()))
    return text if len(text) <= limit else text[:limit - 1] + "…"
