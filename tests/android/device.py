"""A minimal adb device for tests: `python -m tests.android.device --port P --root DIR [--serial-name NAME]
[--state device|unauthorized|offline] [--no-shell-v2] [--vanish-on-sync MARK] [--answer-after MARK]` listens on
127.0.0.1:P, prints `ready` once listening and serves the real adb server (`adb connect 127.0.0.1:P`) until killed.
`--vanish-on-sync MARK` makes a phone that dies when a file transfer starts (it creates MARK and exits, closing
every connection); `--answer-after MARK` one whose services wait until MARK exists (a phone that is slow to answer
until another has gone), so tests can order several phones without sleeping.

The handshake (protocol.txt): the host's CNXN is answered with CNXN(version 0x01000001, the smaller max
payload, "device::ro.product.name=...;ro.product.model=...;ro.product.device=...;features=shell_v2"); there is no
AUTH. `--state unauthorized` answers CNXN with AUTH TOKEN and every signature with a new token, and never accepts
the public key the host sends at last, so adb lists the device as unauthorized. `--state offline` accepts the TCP
connection and never answers (adb lists it as offline). Streams: OPEN(host id, 0, service) -> OKAY(device id,
host id) and the service, or CLSE(0, host id) for an unknown service. Services: shell
(tests/android/shell_service.py) and sync (tests/android/sync_service.py), inside ROOT (see
tests/android/phone_root.py). Every connection and every stream has its own thread."""
import argparse
import itertools
import os
import secrets
import socket
import sys
import threading
import time
from pathlib import Path

from tests.android import wire
from tests.android.shell_service import parse_shell_service, serve_shell
from tests.android.streams import Stream
from tests.android.sync_service import serve_sync
from tests.android.wire import Message

PRODUCT = "ro.product.name=mnd_test;ro.product.model=mnd test device;ro.product.device=mnd_test"


ANSWER_AFTER_LIMIT_S = 300


class Device:
    def __init__(self, root: Path, state: str = "device", shell_v2: bool = True, vanish_on_sync: Path | None = None,
                 answer_after: Path | None = None):
        self.root, self.state = Path(root).resolve(), state
        self.features = ["shell_v2"] if shell_v2 else []
        self.vanish_on_sync, self.answer_after = vanish_on_sync, answer_after

    def wait_to_answer(self) -> None:
        deadline = time.monotonic() + ANSWER_AFTER_LIMIT_S
        while self.answer_after is not None and not self.answer_after.exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    def vanish(self) -> None:
        """Leaves MARK behind and exits at once: the kernel closes every connection, as when a phone is unplugged."""
        self.vanish_on_sync.touch()
        print("vanished on a file transfer", file=sys.stderr, flush=True)
        os._exit(0)

    @property
    def banner(self) -> bytes:
        return f"device::{PRODUCT};features={','.join(self.features)}".encode()

    def serve_forever(self, listener: socket.socket) -> None:
        while True:
            connection, _ = listener.accept()
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=Connection(self, connection).serve, daemon=True).start()


class Connection:
    """One adb server's TCP connection: the reader loop here, each stream's service in its own thread."""

    def __init__(self, device: Device, connection: socket.socket):
        self.device, self.socket = device, connection
        self.max_payload = wire.MAX_PAYLOAD
        self.online = False
        self.streams = {}  # device id -> Stream
        self._ids = itertools.count(1)
        self._sending = threading.Lock()

    def send(self, message: Message) -> None:
        with self._sending:
            try:
                self.socket.sendall(message.encode())
            except OSError:
                pass  # the reader notices the broken connection and closes every stream

    def serve(self) -> None:
        try:
            while (message := wire.read_message(self.socket)) is not None:
                if self.device.state != "offline":
                    self.handle(message)
        except (OSError, wire.ProtocolError):
            pass
        finally:
            for stream in list(self.streams.values()):
                stream.closed_by_host()
            self.socket.close()

    def handle(self, message: Message) -> None:
        if message.command == wire.CNXN:
            self.max_payload = max(4096, min(wire.MAX_PAYLOAD, message.arg1))
            if self.device.state == "unauthorized":
                self.send(Message(wire.AUTH, wire.AUTH_TOKEN, 0, secrets.token_bytes(20)))
            else:
                self.online = True
                self.send(Message(wire.CNXN, wire.VERSION, self.max_payload, self.device.banner))
        elif message.command == wire.AUTH:
            if message.arg0 == wire.AUTH_SIGNATURE:  # no key is ever accepted; RSAPUBLICKEY waits for a prompt forever
                self.send(Message(wire.AUTH, wire.AUTH_TOKEN, 0, secrets.token_bytes(20)))
        elif not self.online:
            return
        elif message.command == wire.OPEN:
            self.open_stream(message.arg0, message.data.rstrip(b"\0").decode("utf-8", "surrogateescape"))
        elif message.command in (wire.WRTE, wire.OKAY, wire.CLSE):
            stream = self.streams.get(message.arg1)
            if stream is None or (message.arg0 and message.arg0 != stream.remote_id):
                return
            if message.command == wire.WRTE:
                stream.deliver(message.data)
            elif message.command == wire.OKAY:
                stream.acknowledge()
            else:
                self.streams.pop(message.arg1, None)
                stream.closed_by_host()

    def open_stream(self, remote_id: int, service: str) -> None:
        shell = parse_shell_service(service)
        if shell is not None and shell[0] and "shell_v2" not in self.device.features:
            shell = None  # a host that read our features never asks for it
        if shell is None and service != "sync:":
            self.send(Message(wire.CLSE, 0, remote_id))
            return
        stream = Stream(self.send, next(self._ids), remote_id, self.max_payload)
        self.streams[stream.local_id] = stream
        self.send(Message(wire.OKAY, stream.local_id, remote_id))
        threading.Thread(target=self.run_service, args=(stream, shell), daemon=True).start()

    def run_service(self, stream: Stream, shell: tuple | None) -> None:
        try:
            self.device.wait_to_answer()
            if shell is None and self.device.vanish_on_sync is not None:
                self.device.vanish()
            if shell is None:
                serve_sync(stream, self.device.root)
            else:
                serve_shell(stream, self.device.root, shell[1], shell_protocol=shell[0])
        finally:
            stream.close()
            self.streams.pop(stream.local_id, None)


def _make_root(root: Path) -> None:
    """The phone's file system in a new folder, with busybox from mnd's cached arm64 root filesystem."""
    from mnd.targets.linux_arm64.rootfs import ensure_rootfs
    from tests.android.phone_root import make_phone_root

    make_phone_root(root, ensure_rootfs() / "bin" / "busybox")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.android.device", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", type=Path, required=True, help="the phone's file system (phone_root.py); a new or "
                        "empty folder gets one")
    parser.add_argument("--serial-name", default=None, help="a name for logs; adb names the device HOST:PORT")
    parser.add_argument("--state", choices=("device", "unauthorized", "offline"), default="device")
    parser.add_argument("--no-shell-v2", action="store_true", help="advertise no shell protocol (old phones)")
    parser.add_argument("--vanish-on-sync", type=Path, metavar="MARK", help="create MARK and exit when a file "
                        "transfer (adb push or pull) starts")
    parser.add_argument("--answer-after", type=Path, metavar="MARK", help="hold every shell and file transfer until "
                        f"MARK exists (at most {ANSWER_AFTER_LIMIT_S} s)")
    args = parser.parse_args(argv)
    if not (args.root / "system" / "bin" / "sh").exists():
        if args.root.exists() and any(args.root.iterdir()):
            parser.error(f"{args.root} has no system/bin/sh: give a new or empty folder (the phone's file system is "
                         "made there) or one made by tests.android.phone_root.make_phone_root")
        _make_root(args.root)
    device = Device(args.root, args.state, shell_v2=not args.no_shell_v2, vanish_on_sync=args.vanish_on_sync,
                    answer_after=args.answer_after)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(16)
    print("ready", flush=True)
    name = args.serial_name or f"127.0.0.1:{args.port}"
    print(f"{name}: {args.state}, root {device.root}, pid {os.getpid()}", file=sys.stderr, flush=True)
    device.serve_forever(listener)


if __name__ == "__main__":
    main()
