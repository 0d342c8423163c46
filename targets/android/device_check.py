"""Is a phone there? `adb devices -l` alone, bounded, before any work: the device `--serial` names (or the only
one), in state "device". `mnd targets` asks without starting an adb server: a listing leaves no daemon behind."""
import os
import shutil
import socket

from mnd.base.errors import TargetUnavailable
from mnd.targets.toolchain import install_hint
from mnd.targets.transport.adb import ListedDevice, choose_device, parse_devices, state_problem
from mnd.targets.transport.base import TransportError, run_in_own_group

CHECK_TIMEOUT_S = 15  # starting the adb server and listing its devices takes a second or two
PROBE_TIMEOUT_S = 1
DEFAULT_SERVER = ("127.0.0.1", 5037)
NO_SERVER = ("no adb server is running, so no phone is known: `adb devices` starts it and lists the phones "
             "(plug one in by USB with USB debugging on, or `adb connect HOST:PORT`)")


def find_phone(serial: str | None, *, start_server: bool = True) -> ListedDevice:
    """The phone to use, from `adb devices -l`: the one `serial` names, or the only one, in state "device";
    TransportError with the one line naming the fix otherwise."""
    return choose_device(listed_devices(start_server=start_server), serial)


def listed_devices(*, start_server: bool = True) -> list:
    """`adb devices -l` as ListedDevices, bounded; without `start_server`, a server that is not running is
    reported (TransportError) instead of started."""
    adb = shutil.which("adb")
    if adb is None:
        raise TargetUnavailable(f"adb not found — {install_hint('adb')}")
    if not start_server and not server_answers():
        raise TransportError(NO_SERVER)
    listing = run_in_own_group([adb, "devices", "-l"], timeout=CHECK_TIMEOUT_S,
                               timeout_message=f"`adb devices` gave no answer within {CHECK_TIMEOUT_S} s: restart "
                                               "the adb server (`adb kill-server; adb devices`)")
    if listing.returncode != 0:
        lines = listing.stderr.decode(errors="replace").strip().splitlines() or ["no output"]
        raise TransportError(f"`adb devices` failed ({lines[-1].strip()}): start the adb server with "
                             "`adb start-server` (or fix ADB_SERVER_SOCKET)")
    return parse_devices(listing.stdout.decode(errors="replace"))


def several_ready(devices: list) -> str | None:
    """'N phones (a, b): pass --serial to choose one' when more than one is ready to use, else None."""
    ready = [device.serial for device in devices if state_problem(device) is None]
    return f"{len(ready)} phones ({', '.join(ready)}): pass --serial to choose one" if len(ready) > 1 else None


def describe(device: ListedDevice) -> str:
    model = device.details.get("model")
    return f"adb {device.serial}" + (f" ({model})" if model else "")


def server_address() -> tuple | None:
    """(host, port) of the adb server the client would use; None for an address other than TCP."""
    socket_spec = os.environ.get("ADB_SERVER_SOCKET")
    if socket_spec:
        kind, _, rest = socket_spec.partition(":")
        host, _, port = rest.rpartition(":")
        if kind != "tcp" or not port.isdigit():
            return None
        return host or DEFAULT_SERVER[0], int(port)
    port = os.environ.get("ANDROID_ADB_SERVER_PORT", "")
    return (os.environ.get("ANDROID_ADB_SERVER_ADDRESS") or DEFAULT_SERVER[0],
            int(port) if port.isdigit() else DEFAULT_SERVER[1])


def server_answers() -> bool:
    """Whether something listens at the adb server's address (True for an address we cannot probe)."""
    address = server_address()
    if address is None:
        return True
    try:
        with socket.create_connection(address, timeout=PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False
