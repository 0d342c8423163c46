"""The Target interface; targets/registry.py finds and registers the modules that implement it."""
from dataclasses import dataclass
from pathlib import Path

from mnd.targets.toolchain import problem


@dataclass(frozen=True)
class BoardAccess:
    """How to reach a board or phone; each field applies only to the targets that list it in `accepts`."""
    ssh: str | None = None               # [user@]host[:port]; None: the emulated board on this machine
    ssh_boards: tuple = ()               # --ssh given more than once: every board (ssh is the first)
    identity: Path | None = None         # ssh -i
    ssh_config: Path | None = None       # ssh -F (default: the user's ~/.ssh/config)
    accept_new_host_key: bool = False    # StrictHostKeyChecking=accept-new
    remote_python: str | None = None     # the board's interpreter (default: ~/mnd-venv/bin/python, else python3)
    setup: bool = False                  # create that venv and install the runtimes on the board first
    serial: str | None = None            # adb -s (default: the only device)
    serials: tuple = ()                  # --serial given more than once: every phone (serial is the first)
    benchmark_model: Path | None = None  # LiteRT's benchmark_model for android_aarch64
    delegates: tuple = ()                # benchmark_model delegates: cpu, xnnpack, gpu, nnapi
    cpu_affinity: str | None = None      # taskset mask on the phone
    probe: str | None = None             # gdb://HOST:PORT: a Cortex-M board behind that GDB server
    probe_reset: str | None = None       # the GDB server's monitor command that resets and halts the board

    def given(self) -> dict:
        """{field: its command-line flag} for every field set to something other than its default."""
        return {name: "--" + name.replace("_", "-").replace("delegates", "delegate")
                for name, value in vars(self).items() if value not in (None, False, ()) and name not in ("ssh_boards", "serials")}


READY, READY_EMULATED, NO_DEVICE, UNAVAILABLE = "ready", "ready (emulated)", "tools present, no device", "unavailable"


@dataclass(frozen=True)
class Readiness:
    """Whether a target can run here now, for 'mnd targets': one of the four statuses above, why not (with the
    fix), and the device found ("adb SERIAL (model)", "ssh pi@board")."""
    status: str
    reason: str | None = None
    device: str | None = None

    @property
    def ready(self) -> bool:
        return self.status in (READY, READY_EMULATED)

    def line(self) -> str:
        detail = self.reason or self.device
        return f"{self.status}: {detail}" if detail else self.status


ACCESS_HELP = ("--ssh, --identity, --ssh-config, --accept-new-host-key, --remote-python, --setup: rpi4, rpi5, "
               "linux-arm64; --serial, --benchmark-model, --delegate, --cpu-affinity: android; --probe, --probe-reset: "
               "cortex-m4, cortex-m7, cortex-m33, cortex-m55")


@dataclass(frozen=True)
class MeasureSettings:
    warmup: int = 10
    runs: int = 100
    threads: tuple | None = None  # thread counts, one row each for multi-threaded runtimes; None: the target's own
    clock_mhz: float | None = None
    kernels: str = "auto"  # Cortex-M: "auto" (the core's optimized kernels) or "portable" (plain C99 only)
    flash_wait_states: int = 0  # Cortex-M: wait states per 32-bit code fetch in the cycle estimate
    tflm_source: str | None = None  # Cortex-M: --tflm-source, a TFLite-Micro tree: also measure TFLM
    tflm_runtimes: tuple = ("tflm-cmsis-nn",)  # Cortex-M: --tflm-runtimes, which TFLM kernel sets (tflm_runtime.py)
    board: BoardAccess = BoardAccess()
    board_preset: str | None = None  # --board: the preset a --probe's board is (its memory map and clock)

    def thread_counts(self, default: tuple) -> tuple:
        return tuple(self.threads) if self.threads else tuple(default)


@dataclass(frozen=True)
class TargetResult:
    """What a target measured: rows for the manifest, contracts it checked (gated like the export's own
    validations), and facts about the board it ran on (manifest.target.board)."""
    measurements: tuple
    validations: tuple = ()
    board: dict | None = None


class Target:
    name = ""
    description = ""
    requires = ()  # artifact kinds the target can use
    options = {}
    default_threads = (1,)
    accepts = ()  # the BoardAccess fields this target uses
    takes_kernels = False  # whether MeasureSettings.kernels (--kernels) applies: the engine's kernel sets
    needs = ()  # what it needs from Debian: names in targets/toolchain.py's NEEDS, every way of reaching it

    def check(self):
        """None when usable here, else the reason and the fix."""
        return problem(self.needs)

    def modes(self) -> list:
        """One line per way of reaching the target and whether it is ready here (for 'mnd targets')."""
        return []

    def check_access(self, board: BoardAccess):
        """None when the target can be reached as `board` says, else the reason and the fix (checked before any
        work starts). Options for other kinds of target are refused by name."""
        foreign = [flag for name, flag in board.given().items() if name not in self.accepts]
        if not foreign:
            return None
        return f"{', '.join(foreign)} do not apply to {self.name} (" + ACCESS_HELP + ")"

    def check_device(self, board: BoardAccess):
        """None when the board or phone `board` names answers (always for emulated and host targets), else one
        line saying what is wrong and the fix; quick (bounded timeouts), run before any work starts."""
        return None

    def readiness(self, board: BoardAccess = BoardAccess()) -> Readiness:
        reason = self.check()
        if reason:
            return Readiness(UNAVAILABLE, reason)
        problem = self.check_access(board) or self.check_device(board)
        return Readiness(NO_DEVICE, problem) if problem else Readiness(READY)

    def measure(self, run_dir, manifest, evaluation, settings: MeasureSettings) -> TargetResult:
        """Measurements (accuracy and latency) of each artifact this target can run."""
        raise NotImplementedError
