"""The `sync:` service (AOSP adb SYNC.TXT, file_sync_protocol.h), version 1 requests only (the device advertises
neither stat_v2 nor ls_v2): every request is a 4-byte id and a 4-byte little-endian length, then that many bytes.

STAT path -> STAT mode size mtime (lstat; all zero when missing); LIST path -> DENT mode size mtime namelen name
per entry, then DONE; SEND "path,mode" -> DATA chunks (64 KiB at most) and DONE mtime from the host, then OKAY,
or FAIL message once DONE was read (the session then ends, as adbd's does); the file gets mode & 0777 and the
mtime, like adbd's fchmod and utime, and replaces what was there only when complete; RECV path -> DATA chunks
then DONE, or FAIL for a missing or unreadable file; QUIT ends the session. Paths are the phone's: absolute,
inside ROOT; one that leaves ROOT (through '..' or a link) is treated as missing."""
import os
import posixpath
import stat
import struct
import tempfile
from pathlib import Path

REQUEST = struct.Struct("<4sI")
STAT_REPLY = struct.Struct("<4sIII")
DENT = struct.Struct("<4sIIII")
SYNC_DATA_MAX = 64 * 1024
MAX_PATH = 1024


def serve_sync(stream, root: Path) -> None:
    root = Path(os.path.realpath(root))
    while True:
        request = stream.read_exactly(REQUEST.size)
        if request is None:
            return
        kind, length = REQUEST.unpack(request)
        if kind == b"QUIT":
            return
        if kind not in (b"STAT", b"LIST", b"SEND", b"RECV") or length > MAX_PATH:
            stream.write(_fail(f"unknown sync request {kind!r} (or a path over {MAX_PATH} bytes)"))
            return
        argument = stream.read_exactly(length)
        if argument is None:
            return
        text = argument.decode("utf-8", "surrogateescape")
        if kind == b"STAT":
            stream.write(_stat(root, text))
        elif kind == b"LIST":
            stream.write(_list(root, text))
        elif kind == b"RECV":
            _send_file(stream, root, text)
        elif not _receive_file(stream, root, text):
            return


def inside_root(root: Path, phone_path: str, *, follow_last: bool) -> Path | None:
    """The host path for an absolute phone path, or None when it is not absolute or leads out of ROOT. Links are
    resolved by the host, so an absolute link inside ROOT that points out of it counts as leaving it."""
    if not phone_path.startswith("/") or "\0" in phone_path:
        return None
    normal = posixpath.normpath(phone_path).lstrip("/")
    parent, name = posixpath.split(normal)
    resolved_parent = Path(os.path.realpath(root / parent))
    if resolved_parent != root and root not in resolved_parent.parents:
        return None
    if not name:
        return resolved_parent
    candidate = resolved_parent / name
    if follow_last:
        candidate = Path(os.path.realpath(candidate))
        if candidate != root and root not in candidate.parents:
            return None
    return candidate


def _stat(root: Path, phone_path: str) -> bytes:
    path = inside_root(root, phone_path, follow_last=False)
    try:
        info = os.lstat(path) if path is not None else None
    except OSError:
        info = None
    if info is None:
        return STAT_REPLY.pack(b"STAT", 0, 0, 0)
    return STAT_REPLY.pack(b"STAT", info.st_mode & 0xFFFFFFFF, info.st_size & 0xFFFFFFFF, int(info.st_mtime))


def _list(root: Path, phone_path: str) -> bytes:
    path = inside_root(root, phone_path, follow_last=True)
    entries = []
    try:
        names = sorted(os.listdir(path)) if path is not None else []
    except OSError:
        names = []
    for name in names:
        try:
            info = os.lstat(path / name)
        except OSError:
            continue
        encoded = name.encode("utf-8", "surrogateescape")
        entries.append(DENT.pack(b"DENT", info.st_mode, info.st_size & 0xFFFFFFFF, int(info.st_mtime),
                                 len(encoded)) + encoded)
    return b"".join(entries) + DENT.pack(b"DONE", 0, 0, 0, 0)


def _send_file(stream, root: Path, phone_path: str) -> None:
    path = inside_root(root, phone_path, follow_last=True)
    try:
        if path is None:
            raise FileNotFoundError(2, "No such file or directory")
        with open(path, "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                raise IsADirectoryError(21, "not a regular file")
            while chunk := file.read(SYNC_DATA_MAX):
                if not stream.write(REQUEST.pack(b"DATA", len(chunk)) + chunk):
                    return
    except OSError as error:
        stream.write(_fail(f"open failed: {error.strerror}"))
        return
    stream.write(REQUEST.pack(b"DONE", 0))


def _receive_file(stream, root: Path, argument: str) -> bool:
    """One SEND; False when the session must end (a failure was reported, or the host went away)."""
    phone_path, comma, mode_text = argument.rpartition(",")
    path = inside_root(root, phone_path, follow_last=False) if comma and mode_text.isdigit() else None
    failure = None
    if path is None or path == root:
        failure = f"bad SEND {argument!r}: expected an absolute path inside the phone, a comma and a mode"
    elif stat.S_ISLNK(int(mode_text)):
        failure = "symbolic links are not supported by this device"
    elif phone_path.endswith("/"):
        failure = f"couldn't create file {phone_path}: Is a directory"
    staged = None
    if failure is None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)  # adbd creates missing directories too
            descriptor, staged_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            staged = os.fdopen(descriptor, "wb")
        except OSError as error:
            failure = f"couldn't create file: {error.strerror}"
    try:
        while True:
            header = stream.read_exactly(REQUEST.size)
            if header is None:
                return False
            kind, length = REQUEST.unpack(header)
            if kind == b"DONE":
                break
            if kind != b"DATA" or length > SYNC_DATA_MAX:
                stream.write(_fail(f"bad upload: {kind!r} of {length} bytes where DATA (at most 64 KiB) or DONE"))
                return False
            data = stream.read_exactly(length)
            if data is None:
                return False
            if staged is not None:
                staged.write(data)
        if failure is None:
            staged.close()
            os.chmod(staged_name, int(mode_text) & 0o777)
            os.utime(staged_name, (length, length))  # DONE's length field holds the mtime
            os.replace(staged_name, path)
            staged = None
    except OSError as error:
        failure = f"couldn't write file: {error.strerror}"
    finally:
        if staged is not None:
            staged.close()
            os.unlink(staged_name)
    if failure is not None:
        stream.write(_fail(failure))
        return False
    stream.write(REQUEST.pack(b"OKAY", 0))
    return True


def _fail(message: str) -> bytes:
    encoded = message.encode()
    return REQUEST.pack(b"FAIL", len(encoded)) + encoded
