"""Everything that comes back from a target (a board over SSH, the emulated board, a phone over adb, the Cortex-M
harness under QEMU) is untrusted: a broken or compromised board can send anything. This is the one reader of it:
JSON against its expected shape, arrays as plain .npy (never unpickled) or raw int8 bytes of the expected shape,
latencies as finite numbers; anything else is one BoardOutputError line naming the board and what was wrong,
raised before anything is written."""
import io
import json
import math

import numpy as np

from mnd.base.errors import MndError
from mnd.base.json_shape import check

MAX_JSON_BYTES = 64 << 20
MAX_ARRAY_BYTES = 1 << 30
MAX_STRING = 1000
SHOWN = 200


class BoardOutputError(MndError):
    """A target sent back something malformed; the message names the target and what was wrong."""


def refuse(board: str, what: str, problem: str) -> BoardOutputError:
    problem = " ".join(str(problem).split())
    problem = problem if len(problem) <= SHOWN else problem[:SHOWN] + "..."
    return BoardOutputError(f"{board}: {what} {problem}; the target is broken or not running mnd's code (nothing "
                            "was written: check the board, then measure again)")


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def parse_json(data, board: str, what: str, shape):
    """`data` (bytes or str) as JSON of `shape` (base.json_shape); NaN and Infinity are refused."""
    if len(data) > MAX_JSON_BYTES:
        raise refuse(board, what, f"is larger than {MAX_JSON_BYTES >> 20} MiB")
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        value = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as reason:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise refuse(board, what, f"is not valid JSON ({reason})") from None
    problems = check(value, shape) or _long_strings(value)
    if problems:
        more = f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
        raise refuse(board, what, f"is not as mnd's code writes it: {'; '.join(problems[:3])}{more}")
    return value


def _long_strings(value) -> list:
    """Text from a board lands in the manifest and the report: none of mnd's runners writes more than a line."""
    if isinstance(value, str):
        return [f"a string of {len(value)} characters (at most {MAX_STRING})"] if len(value) > MAX_STRING else []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    return [problem for key, item in items for problem in _long_strings(key) + _long_strings(item)]


def last_json_line(data: bytes, board: str, what: str, shape):
    """The last non-empty line of a program's stdout as JSON of `shape`."""
    lines = [line for line in data.decode("utf-8", "replace").splitlines() if line.strip()]
    if not lines:
        raise refuse(board, what, "is empty")
    return parse_json(lines[-1], board, what, shape)


def latencies(values: list, board: str, what: str) -> list:
    """Timed runs in ms: finite, not negative."""
    bad = [value for value in values if not (isinstance(value, (int, float)) and not isinstance(value, bool)
                                             and math.isfinite(value) and value >= 0)]
    if bad:
        raise refuse(board, what, f"has latencies that are not durations in ms: {repr(bad[0])[:40]}")
    return [float(value) for value in values]


def load_array(data: bytes, board: str, what: str, samples: int, width: int) -> np.ndarray:
    """A .npy file's bytes as a numeric array of `samples` rows of `width` values; object arrays (pickles) are
    refused without being unpickled."""
    if len(data) > MAX_ARRAY_BYTES:
        raise refuse(board, what, f"is larger than {MAX_ARRAY_BYTES >> 30} GiB")
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as reason:  # numpy's header parser raises many types (ValueError, SyntaxError, TokenError...)
        raise refuse(board, what, f"is not a plain .npy array ({reason})") from None
    if not isinstance(array, np.ndarray):
        raise refuse(board, what, "is not a plain .npy array")
    if array.dtype.kind not in "iuf":
        raise refuse(board, what, f"holds {array.dtype} values, not numbers")
    return _rows(array, board, what, samples, width)


def int8_rows(data: bytes, board: str, what: str, samples: int, width: int) -> np.ndarray:
    """Raw int8 bytes (mnd-c's and the Cortex-M harness's outputs) as `samples` rows of `width` values."""
    if len(data) != samples * width:
        raise refuse(board, what, f"holds {len(data)} bytes; expected {samples} samples x {width}")
    return np.frombuffer(data, np.int8).reshape(samples, width)


def _rows(array: np.ndarray, board: str, what: str, samples: int, width: int) -> np.ndarray:
    if array.ndim < 1 or array.shape[0] != samples or array.size != samples * width:
        raise refuse(board, what, f"has shape {tuple(array.shape)}; expected {samples} samples of {width} values")
    return array.reshape(samples, width)
