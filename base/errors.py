"""Typed errors for problems the user can fix; the CLI prints them as one line, no traceback."""
import difflib


class MndError(Exception):
    """Base class: the message names the problem and the fix."""

    exit_code = 2


class UsageError(MndError):
    """A flag or argument has a value that cannot work."""


class DataError(MndError):
    """A dataset is missing, empty, or malformed."""


class ModelError(MndError):
    """A model file or specification cannot be used."""


class OutputExists(MndError):
    """The output location exists and --force was not given."""


class OutputError(MndError):
    """The output location cannot be used: it overlaps an input, cannot be created, or changed meanwhile."""


class TargetUnavailable(MndError):
    """The target's tools are missing here; the message says how to get them."""


class Interrupted(MndError):
    """Ctrl-C, SIGTERM or SIGHUP stopped the run; the exit code is 128 + the signal number."""

    @property
    def exit_code(self) -> int:
        from mnd.base import interrupts

        return interrupts.exit_code()


def did_you_mean(word: str, choices) -> str:
    """'; did you mean X?' for the closest choice, or '' when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)
    return f"; did you mean '{close[0]}'?" if close else ""
