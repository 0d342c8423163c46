"""Silence native (C++) log lines that TensorFlow and the TFLite converter write straight to fd 2."""
import contextlib
import os
import sys


@contextlib.contextmanager
def native_stderr_silenced():
    """Point fd 2 at /dev/null for the block; Python-level errors still propagate as exceptions."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow; without it one line names the extra to install."""
    import importlib.util

    if importlib.util.find_spec("tensorflow") is None:
        from mnd.base.errors import UsageError

        raise UsageError("TensorFlow is not installed: pip install 'mobilenet-deploy[cpu]' (or [gpu] on a machine "
                         "with an NVIDIA GPU, docs/TRAINING.md)")
    with native_stderr_silenced():
        import tensorflow  # noqa: F401


@contextlib.contextmanager
def stdout_reserved():
    """Yield a writer to the real stdout while everything else written to fd 1 (Python prints and native code
    alike) goes to stderr: with --json, stdout carries exactly one JSON document."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    real_stdout, sys.stdout = sys.stdout, sys.stderr
    with os.fdopen(os.dup(saved), "w") as reserved:
        try:
            yield reserved
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved, 1)
            os.close(saved)
            sys.stdout = real_stdout
