"""`mnd` command line: parses flags and environment, then calls pipeline stages."""
import logging
import os
import signal
import sys

from mnd.pipeline import interrupts
from mnd.pipeline.cli_parser import build_parser
from mnd.pipeline.control_chars import visible
from mnd.pipeline.errors import Interrupted, MndError
from mnd.pipeline.progress import disable_bars
from mnd.pipeline.quiet import stdout_reserved
from mnd.pipeline.refused_writes import refused_write

log = logging.getLogger("mnd")


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


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    interrupts.install()
    try:
        if getattr(args, "json", False):
            disable_bars()
            with stdout_reserved() as args.json_stream:
                args.handler(args)
        else:
            args.handler(args)
    except MndError as error:
        if interrupts.received() and not isinstance(error, Interrupted):  # a child process died of the same signal
            error = Interrupted(f"interrupted by {signal.Signals(interrupts.received()).name}")
        print(f"mnd: error: {visible(str(error))}", file=sys.stderr)  # one line, whatever names it quotes
        return error.exit_code
    except KeyboardInterrupt:
        name = signal.Signals(interrupts.received() or signal.SIGINT).name
        print(f"mnd: error: interrupted by {name}", file=sys.stderr)
        return interrupts.exit_code()
    except Exception as error:  # a disk full or a read-only folder, wherever a write was refused
        refused = refused_write(error)
        if refused is None:
            raise
        print(f"mnd: error: {refused}", file=sys.stderr)
        return refused.exit_code
    return 0



if __name__ == "__main__":
    sys.exit(main())
