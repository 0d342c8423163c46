"""`mnd` command line: parses flags and environment, then calls pipeline stages."""
import logging
import signal
import sys

from mnd.base import interrupts
from mnd.base.control_chars import visible
from mnd.base.errors import Interrupted, MndError
from mnd.base.progress import disable_bars
from mnd.base.quiet import stdout_reserved
from mnd.base.refused_writes import refused_write
from mnd.pipeline.cli_parser import build_parser
from mnd.pipeline.log_setup import configure_logging

log = logging.getLogger("mnd")


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
