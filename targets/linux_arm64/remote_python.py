"""Which Python the board runs the runner with, what it has installed, and --setup: a venv with the runtimes
(Raspberry Pi OS Bookworm refuses system-wide pip, so always a venv)."""
import logging

from mnd.base.errors import TargetUnavailable
from mnd.targets.linux_arm64.result import read_probe

log = logging.getLogger("mnd")
VENV = "$HOME/mnd-venv"
PACKAGES = ("numpy", "ai-edge-litert", "onnxruntime")
SETUP_COMMAND = f'python3 -m venv "{VENV}" && "{VENV}/bin/python" -m pip install {" ".join(PACKAGES)}'
FIND_PYTHON = (f'if [ -x "{VENV}/bin/python" ]; then echo "{VENV}/bin/python"; '
               'elif command -v python3 >/dev/null 2>&1; then command -v python3; fi')
PROBE_TIMEOUT_S = 300  # LiteRT's import alone takes a while under emulation


def find_python(transport, workdir: str) -> str | None:
    """~/mnd-venv/bin/python when it exists, else python3 on PATH, else None."""
    found = transport.run(["sh", "-c", FIND_PYTHON], cwd=workdir, timeout=60).stdout.decode(errors="replace").strip()
    return found.splitlines()[-1] if found else None


def probe(transport, python: str, workdir: str, board: str) -> dict | None:
    """The runner's --probe facts (python, machine, packages, litert_module), or None when it cannot run;
    BoardOutputError when what it printed is not that."""
    result = transport.run([python, "runner.py", "--probe"], cwd=workdir, timeout=PROBE_TIMEOUT_S)
    if result.returncode != 0:
        return None
    return read_probe(result.stdout, board)


def missing_packages(facts: dict | None) -> list:
    if facts is None:
        return ["python3"]
    packages = facts.get("packages") or {}
    missing = [] if packages.get("numpy") else ["numpy"]
    if not facts.get("litert_module"):
        missing.append("ai-edge-litert (or tflite-runtime)")
    return missing


def ready_python(transport, workdir: str, target: str, given: str | None, setup: bool) -> tuple:
    """(python, probe facts) ready to run the runner; with `setup`, creates the venv first when needed. A board
    without them is refused with the command that installs them."""
    python = given or find_python(transport, workdir)
    facts = probe(transport, python, workdir, target) if python else None
    missing = missing_packages(facts)
    if missing and setup and not given:
        log.info("%s: setting up the board's Python: %s", target, SETUP_COMMAND)
        result = transport.run(["sh", "-c", SETUP_COMMAND], cwd=workdir, timeout=1800)
        if result.returncode != 0:
            detail = result.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise TargetUnavailable(f"{target}: --setup failed ({detail[0][:200]}); run it on the board yourself: "
                                    f"{SETUP_COMMAND}")
        python = find_python(transport, workdir)
        facts = probe(transport, python, workdir, target) if python else None
        missing = missing_packages(facts)
    if missing:
        where = ("no python3 on the board" if not python else f"{python} does not run there" if facts is None
                 else f"{python} lacks {', '.join(missing)}")
        raise TargetUnavailable(f"{target}: the board's Python is not ready ({where}); install numpy and LiteRT "
                                f"there with: {SETUP_COMMAND}  (or rerun with --setup, which runs exactly "
                                "that; --remote-python PATH picks another interpreter)")
    return python, facts
