"""A write the operating system refused (disk full, quota, file size limit, read-only or unwritable folder) as the
one OutputError line the CLI prints: the one place that recognizes such errors, wherever they surface."""
import errno
import os
import re

from mnd.base.errors import OutputError

ELSEWHERE = "or write elsewhere (another --out, or a copy of the run)"
FIXES = {
    errno.ENOSPC: f"free space on that file system {ELSEWHERE}; temporary files follow TMPDIR",
    errno.EDQUOT: f"free space within your quota {ELSEWHERE}; temporary files follow TMPDIR",
    errno.EFBIG: "raise the file size limit ('ulimit -f') or write to a file system that takes larger files",
    errno.EROFS: "that file system is mounted read-only: write elsewhere (another --out, or a copy of the run)",
    errno.EACCES: f"make it writable (or readable) for this user {ELSEWHERE}",
    errno.EPERM: f"it is immutable or protected ('lsattr'): make it writable {ELSEWHERE}",
}
PERMISSION = (errno.EACCES, errno.EPERM)
KEPT = "what this run had written was removed and an earlier run kept as it was"
# Libraries that report an OS error only as text (TensorFlow's file ops, h5py's OSError without an errno): these
# are unambiguous in a message.
TEXTUAL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS)


def refused_write(error: BaseException) -> OutputError | None:
    """The one-line error for a write the OS refused, or None when `error` is something else."""
    if isinstance(error, OSError) and error.errno in FIXES:
        if error.errno in PERMISSION and not error.filename:
            return None  # a permission error without a file (say, signalling a process) is not about writing
        verb = "cannot access" if error.errno in PERMISSION else "cannot write"
        where = f" '{error.filename}'" if error.filename else ""
        return OutputError(f"{verb}{where}: {os.strerror(error.errno)}; {FIXES[error.errno]}; {KEPT}")
    if isinstance(error, OSError) and error.errno is not None:
        return None
    text = " ".join(re.sub(r"\{\{.*?\}\}", "", str(error)).split())  # without TensorFlow's {{node ...}} prefix
    for code in TEXTUAL:
        if os.strerror(code) in text:
            return OutputError(f"cannot write a temporary or output file ({text[-240:]}); {FIXES[code]}; {KEPT}")
    return None
