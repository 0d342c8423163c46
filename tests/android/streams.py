"""One adb stream (an OPEN the host made) as the device's services see it: `read` and `read_exactly` for what the
host writes, `write` for what goes back, `close` when done. Flow control is version 0x01000001's: a WRTE is
followed by no other WRTE on its stream until the peer's OKAY; the device answers each host WRTE with OKAY only
once a service has taken its data, so a slow service slows the host down instead of piling data up here."""
import queue
import threading

from tests.android.wire import CLSE, OKAY, WRTE, Message


class Stream:
    def __init__(self, send, local_id: int, remote_id: int, max_payload: int):
        self._send = send  # sends one Message on the connection (thread-safe)
        self.local_id, self.remote_id, self.max_payload = local_id, remote_id, max_payload
        self._incoming = queue.Queue()  # host data (bytes); None once closed by either side
        self._buffer = b""
        self._ready_to_send = threading.Condition()
        self._acknowledged = True
        self._closed = False
        self._writing = threading.Lock()  # one writer at a time, so a packet of several WRTEs stays whole

    # Called by the connection's reader thread.
    def deliver(self, data: bytes) -> None:
        self._incoming.put(data)

    def acknowledge(self) -> None:
        with self._ready_to_send:
            self._acknowledged = True
            self._ready_to_send.notify_all()

    def closed_by_host(self) -> None:
        with self._ready_to_send:
            self._closed = True
            self._ready_to_send.notify_all()
        self._incoming.put(None)

    # Called by the service.
    @property
    def closed(self) -> bool:
        return self._closed

    def read(self) -> bytes | None:
        """The next data the host wrote (acknowledged now), or None once the stream is closed."""
        data = self._incoming.get()
        if data is None:
            self._incoming.put(None)  # every later read sees the end too
            return None
        if not self._closed:
            self._send(Message(OKAY, self.local_id, self.remote_id))
        return data

    def read_exactly(self, size: int) -> bytes | None:
        """`size` bytes of the host's byte stream across WRTE boundaries; None when it ends first."""
        while len(self._buffer) < size:
            data = self.read()
            if data is None:
                return None
            self._buffer += data
        taken, self._buffer = self._buffer[:size], self._buffer[size:]
        return taken

    def write(self, data: bytes) -> bool:
        """Sends data in WRTEs of at most max_payload bytes, each after the previous one's OKAY; False when the
        stream closed first (the rest is dropped)."""
        with self._writing:
            for start in range(0, len(data), self.max_payload):
                with self._ready_to_send:
                    self._ready_to_send.wait_for(lambda: self._acknowledged or self._closed)
                    if self._closed:
                        return False
                    self._acknowledged = False
                self._send(Message(WRTE, self.local_id, self.remote_id, data[start:start + self.max_payload]))
        return True

    def close(self) -> None:
        """Ends the stream from the device's side (CLSE), once; a stream the host closed is left as it is."""
        with self._ready_to_send:
            already, self._closed = self._closed, True
            self._ready_to_send.notify_all()
        if not already:
            self._send(Message(CLSE, self.local_id, self.remote_id))
        self._incoming.put(None)
