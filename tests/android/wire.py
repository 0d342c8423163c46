"""The adb wire protocol's framing (AOSP packages/modules/adb protocol.txt): every message is a 24-byte
little-endian header (command, arg0, arg1, data_length, data_check, magic) and then data_length bytes.
data_check is the byte sum of the data (checked only by peers older than version 0x01000001, sent right anyway);
magic is command ^ 0xffffffff."""
import socket
import struct
from dataclasses import dataclass

HEADER = struct.Struct("<6I")
VERSION = 0x01000001  # the version without checksums and without delayed acknowledgement
MAX_PAYLOAD = 256 * 1024

CNXN = int.from_bytes(b"CNXN", "little")
AUTH = int.from_bytes(b"AUTH", "little")
OPEN = int.from_bytes(b"OPEN", "little")
OKAY = int.from_bytes(b"OKAY", "little")
CLSE = int.from_bytes(b"CLSE", "little")
WRTE = int.from_bytes(b"WRTE", "little")

AUTH_TOKEN, AUTH_SIGNATURE, AUTH_RSAPUBLICKEY = 1, 2, 3


class ProtocolError(Exception):
    """The peer sent something that is not an adb message; the connection is dropped."""


@dataclass(frozen=True)
class Message:
    command: int
    arg0: int
    arg1: int
    data: bytes = b""

    @property
    def name(self) -> str:
        return self.command.to_bytes(4, "little").decode("ascii", "replace")

    def encode(self) -> bytes:
        header = HEADER.pack(self.command, self.arg0, self.arg1, len(self.data), sum(self.data),
                             self.command ^ 0xFFFFFFFF)
        return header + self.data


def read_exactly(connection: socket.socket, size: int) -> bytes | None:
    """`size` bytes, or None when the peer closed the connection before the first of them."""
    chunks, missing = [], size
    while missing:
        chunk = connection.recv(missing)
        if not chunk:
            if missing == size:
                return None
            raise ProtocolError(f"the connection closed {missing} bytes short of a {size}-byte read")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def read_message(connection: socket.socket, max_data: int = 16 * 1024 * 1024) -> Message | None:
    """The next message, or None at a clean end of the connection; ProtocolError for a bad header."""
    header = read_exactly(connection, HEADER.size)
    if header is None:
        return None
    command, arg0, arg1, length, _check, magic = HEADER.unpack(header)
    if magic != command ^ 0xFFFFFFFF:
        raise ProtocolError(f"bad magic {magic:#x} for command {command:#x}")
    if length > max_data:
        raise ProtocolError(f"a {length}-byte payload is larger than the {max_data} agreed")
    data = read_exactly(connection, length) if length else b""
    if length and data is None:
        raise ProtocolError("the connection closed inside a message")
    return Message(command, arg0, arg1, data)
