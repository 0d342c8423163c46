"""mnd's log lines: one line each, `mnd: ` first, on stderr (the CLI and the sweep's worker processes alike)."""
import logging
import os
import sys

from mnd.pipeline.control_chars import visible


class OneLineFormatter(logging.Formatter):
    """Every log line on one line, whatever names it quotes (a class or file name with a line break or an escape
    sequence is shown escaped, as error lines are)."""

    def formatMessage(self, record) -> str:
        return visible(super().formatMessage(record))


def configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter("mnd: %(message)s"))
    logger = logging.getLogger("mnd")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False  # TensorFlow installs a root handler that would print every line twice
    logging.captureWarnings(True)
    logging.getLogger("py.warnings").setLevel(logging.WARNING if verbose else logging.CRITICAL)
    # TensorFlow's and absl's native log lines (E0000 ... node_def_util.cc ...) reach fd 2 below level 3
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if verbose else "3")
