"""mnd's log lines: one line each, `mnd: ` first, on stderr (the CLI and the sweep's worker processes alike)."""
import logging
import os
import sys

from mnd.base.control_chars import visible


class OneLineFormatter(logging.Formatter):
    """Every log line on one line, `mnd: ` first, whatever names it quotes (a class or file name with a line break
    or an escape sequence is shown escaped, as error lines are); `info_prefix` goes before each progress line's
    message (warnings and errors name what they are about themselves and keep `mnd: warning: `)."""

    def __init__(self, info_prefix: str = ""):
        super().__init__("mnd: %(message)s")
        self.info_prefix = info_prefix

    def formatMessage(self, record) -> str:
        prefix = self.info_prefix if record.levelno < logging.WARNING else ""
        return visible(f"mnd: {prefix}{record.message}")


def configure_logging(verbose: bool, info_prefix: str = "") -> None:
    """`info_prefix`: what each progress line names after `mnd: ` (a sweep's worker: the variant it runs)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter(info_prefix))
    logger = logging.getLogger("mnd")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False  # TensorFlow installs a root handler that would print every line twice
    logging.captureWarnings(True)
    logging.getLogger("py.warnings").setLevel(logging.WARNING if verbose else logging.CRITICAL)
    # TensorFlow's and absl's native log lines (E0000 ... node_def_util.cc ...) reach fd 2 below level 3
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if verbose else "3")
