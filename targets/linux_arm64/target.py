"""Raspberry Pi 4/5 and any 64-bit Arm Linux board: the exported models and mnd's C engine (a static aarch64
executable) run on the board over SSH, or on an emulated one here (arm64 Debian under qemu-user, CPU pinned to
the board's), and accuracy, latency and the board's facts come back into the manifest."""
import logging
from pathlib import Path

import numpy as np

from mnd.base.errors import ModelError, TargetUnavailable
from mnd.base.progress import phase
from mnd.base.runtimes.inputs import artifact_inputs
from mnd.base.runtimes.sandbox import run_model
from mnd.pipeline.manifest import Measurement, Validation
from mnd.pipeline.validate import accuracy, bit_exact, top1, top1_agreement
from mnd.targets.base import (NO_DEVICE, READY, READY_EMULATED, UNAVAILABLE, BoardAccess, MeasureSettings, Readiness,
                              Target, TargetResult)
from mnd.targets.board_output import load_array
from mnd.targets.engine_remote import ENGINE, EngineFailed, run_mnd_c
from mnd.targets.latency import latency_summary
from mnd.targets.linux_arm64.board_job import BoardJob, plan_job
from mnd.targets.linux_arm64.boards import BOARDS
from mnd.targets.linux_arm64.facts import FACTS_SCRIPT, board_record, parse_facts
from mnd.targets.linux_arm64.result import read_result
from mnd.targets.registry import register_target
from mnd.targets.run_folder import build_in_run
from mnd.targets.toolchain import problem

log = logging.getLogger("mnd")
RUNNER = Path(__file__).resolve().parent / "runner.py"
HOST_REFERENCE = "host litert-ref"
EMULATED, SSH = ("arm64-emulated",), ("arm64-ssh",)  # targets/toolchain.py's needs of each way
LOGIN_CONNECT_TIMEOUT_S = 5  # the --ssh check before any work


def emulation_problem() -> str | None:
    """Why the emulated board cannot run here (tools, binfmt_misc), with the fix; None when it can."""
    from mnd.targets.linux_arm64.rootfs import binfmt_ready

    return problem(EMULATED) or binfmt_ready()


def ssh_problem() -> str | None:
    return problem(SSH)


class BoardTarget(Target):
    board = None
    requires = ("tflite_int8", "tflite_float", "onnx_int8", "onnx_float", "tflite_uint8", "onnx_uint8")
    options = {"ssh": "[user@]host[:port] of the board (default: emulated here)", "identity": "ssh -i",
               "ssh_config": "ssh -F", "accept_new_host_key": "StrictHostKeyChecking=accept-new",
               "remote_python": "the board's Python", "setup": "create ~/mnd-venv with the runtimes on the board",
               "threads": "comma list (default 1,2,4); reference kernels and mnd-c run single-threaded"}
    default_threads = (1, 2, 4)
    runner = RUNNER
    accepts = ("ssh", "identity", "ssh_config", "accept_new_host_key", "remote_python", "setup")
    needs = EMULATED + SSH

    def check(self):
        emulated, ssh = emulation_problem(), ssh_problem()
        return f"emulated mode: {emulated}; --ssh mode: {ssh}" if emulated and ssh else None

    def modes(self) -> list:
        """What each way of reaching the board needs here, for 'mnd targets' and 'mnd doctor'."""
        return [f"emulated (default): {emulation_problem() or 'ready'}", f"--ssh: {ssh_problem() or 'ready'}"]

    def check_access(self, access: BoardAccess):
        return super().check_access(access) or (ssh_problem() if access.ssh else emulation_problem())

    def check_device(self, access: BoardAccess):
        """--ssh: a BatchMode login that runs `true` (the emulated board needs none). Several boards: each that does
        not answer is reported (the measurement reports it again as dropped out); refused only when none answers."""
        if not access.ssh_boards:
            return _login_problem(access, access.ssh) if access.ssh else None
        problems = {ssh: _login_problem(access, ssh) for ssh in access.ssh_boards}
        for ssh, reason in problems.items():
            if reason:
                log.warning("warning: %s: board %s does not answer: %s", self.name, ssh, reason)
        if all(problems.values()):
            return f"none of the {len(problems)} --ssh boards answers (the first: {problems[access.ssh]})"
        return None

    def readiness(self, access: BoardAccess = BoardAccess()) -> Readiness:
        """Emulated unless --ssh is given; a real board is only checked then."""
        reason = self.check() or (ssh_problem() if access.ssh else None)
        if reason:
            return Readiness(UNAVAILABLE, reason)
        if access.ssh:
            problem = self.check_access(access) or self.check_device(access)
            return Readiness(NO_DEVICE, problem) if problem else Readiness(READY, device=f"ssh {access.ssh}")
        emulated = emulation_problem()
        if emulated:
            return Readiness(NO_DEVICE, f"emulated mode: {emulated}; a real board: give --ssh USER@HOST")
        return Readiness(READY_EMULATED, device=f"qemu-user as a {self.board.qemu_cpu}; a real board: give --ssh "
                                                "USER@HOST to check it")

    def connect(self, access: BoardAccess):
        if access.ssh:
            from mnd.targets.transport.ssh import SshTransport

            return SshTransport(access.ssh, identity=access.identity, config=access.ssh_config,
                                accept_new_host_key=access.accept_new_host_key)
        from mnd.targets.linux_arm64.rootfs import ensure_rootfs
        from mnd.targets.transport.emulated import EmulatedTransport

        return EmulatedTransport(ensure_rootfs(), self.board.qemu_cpu)

    def measure(self, run_dir: Path, manifest, evaluation, settings: MeasureSettings) -> TargetResult:
        if manifest.artifact("tflite_int8") is None and manifest.artifact("tflite_float") is None:
            raise ModelError(f"{self.name} runs .tflite models, and this export has none; re-export the model")
        return build_in_run(run_dir, self.name,
                            lambda project: self._measure_in(project, run_dir, manifest, evaluation, settings))

    def _measure_in(self, project: Path, run_dir: Path, manifest, evaluation, settings) -> TargetResult:
        from mnd.engine.linux_build import build_executable, write_linux_project

        engine = None
        if manifest.artifact("tflite_int8") is not None:
            write_linux_project(run_dir / manifest.artifact("tflite_int8").path, project,
                                manifest.model.get("tflm_arena_bytes"), cpu=self.board.gcc_cpu)
            engine = build_executable(project, project / ENGINE, cpu=self.board.gcc_cpu)
        job = plan_job(run_dir, manifest, evaluation, settings, settings.thread_counts(self.default_threads),
                       engine)
        if settings.board.ssh_boards:
            from mnd.targets.linux_arm64.several_boards import measure_on_boards

            board, results = measure_on_boards(self, job, settings)
        else:
            transport = self.connect(settings.board)
            log.info("%s: measuring on %s", self.name, transport.describe())
            board, results = self._run_on_board(transport, job, settings)
        return self._result(job, board, results, evaluation, run_dir, manifest)

    def _run_on_board(self, transport, job: BoardJob, settings: MeasureSettings) -> tuple:
        from mnd.targets.linux_arm64.remote_python import ready_python

        with transport.workdir() as workdir, job.staged() as local:
            transport.push([RUNNER], workdir)
            before = self._facts(transport, workdir)
            probe = None
            if job.runner_items:
                python, probe = ready_python(transport, workdir, self.name, settings.board.remote_python,
                                             settings.board.setup)
            transport.push(sorted(local.iterdir()), workdir)
            results = {}
            if job.runner_items:
                results.update(self._run_runner(transport, workdir, python, job, local))
            if job.engine_item:
                results[ENGINE] = self._run_engine(transport, workdir, job, local)
            after = self._facts(transport, workdir)
        return board_record(before, after, probe), results

    def _facts(self, transport, workdir: str) -> dict:
        result = transport.run(["sh", "-c", FACTS_SCRIPT], cwd=workdir, timeout=60)
        return parse_facts(result.stdout.decode(errors="replace"))

    def _run_runner(self, transport, workdir: str, python: str, job: BoardJob, local: Path) -> dict:
        with phase(f"{self.name}: LiteRT and ONNX Runtime on the board, {len(job.runner_items)} runs of "
                   f"{job.samples} samples + {job.warmup} warm-up + {job.runs} timed"):
            result = transport.run([python, "runner.py", "job.json"], cwd=workdir, timeout=job.runner_timeout_s)
        if result.returncode != 0:
            detail = result.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise ModelError(f"{self.name}: the runner failed on the board (exit {result.returncode}: "
                             f"{detail[0][:300]})")
        transport.pull(workdir, ["result.json"], local)
        board = f"{self.name} ({transport.describe()})"
        report = read_result((local / "result.json").read_bytes(), board, job.runner_items, job.runs)
        if report["fatal"]:
            raise TargetUnavailable(f"{self.name}: {' '.join(report['fatal'].split())[:300]}")
        if report["machine"] != "aarch64":
            raise ModelError(f"{self.name}: the runner ran on {report['machine']!r:.40}, not aarch64: this is not "
                             "an arm64 board")
        produced = [item["outputs"] for item in report["items"] if item["outputs"]]
        transport.pull(workdir, produced, local)
        outcomes = {}
        for item in report["items"]:
            outputs = None
            if item["outputs"]:
                outputs = load_array((local / item["outputs"]).read_bytes(), board, item["outputs"], job.samples,
                                     job.width)
            outcomes[item["id"]] = (item, outputs)
        return outcomes

    def _run_engine(self, transport, workdir: str, job: BoardJob, local: Path) -> tuple:
        item, board = job.engine_item, f"{self.name} ({transport.describe()})"
        with phase(f"{self.name}: mnd-c on the board, {job.samples} samples + {job.warmup} warm-up + {job.runs} timed"):
            try:
                outputs, latencies = run_mnd_c(transport, workdir, local, inputs=item["inputs"],
                                               outputs=item["outputs"], warmup=job.warmup, runs=job.runs,
                                               timeout=job.engine_timeout_s, board=board, shape=(job.samples, job.width))
            except EngineFailed as error:
                return {"id": ENGINE, "ok": False, "error": str(error)}, None
        return {"id": ENGINE, "ok": True, "error": None, "latencies_ms": latencies}, outputs

    def _result(self, job: BoardJob, board: dict, results: dict, evaluation, run_dir: Path, manifest):
        emulated = board["qemu_cpu"] is not None
        if emulated:
            log.warning("warning: %s is emulated here (QEMU_CPU=%s): its latency says nothing about the board",
                        self.name, board["qemu_cpu"])
        measurements, validations, references = [], [], {}
        for spec in job.rows:
            item, outputs = results.get(spec.id, ({"ok": False, "error": "did not run"}, None))
            twin = _tflite_twin(manifest, spec.kind)  # ONNX rows compare with their .tflite's reference outputs
            if twin not in references:
                references[twin] = self._host_reference(run_dir, manifest, evaluation, twin)
            reference = references[twin]
            if not item["ok"]:
                log.warning("warning: %s: %s on %s failed on the board: %s", self.name, spec.runtime, spec.kind,
                            item.get("error"))
            if spec.runtime in ("litert-ref", ENGINE) and spec.kind in ("tflite_int8", "tflite_uint8"):
                validations.append(self._bit_exact(spec, outputs, reference, item))
            if outputs is None:
                continue
            agreement = None
            if spec.runtime in ("litert", "onnxruntime"):
                agreement = {"reference": HOST_REFERENCE, "n": len(reference),
                             "top1_differing": int(np.sum(top1(outputs) != top1(reference))),
                             "reference_accuracy": accuracy(reference, evaluation.labels), "note": None}
                if spec.runtime == "litert" and spec.threads == job.threads[0]:
                    check = top1_agreement(f"{self.name} litert {spec.kind} vs {HOST_REFERENCE} top-1", outputs,
                                           reference)
                    validations.append(Validation(check.name, True, check.value, check.threshold,
                                                  check.detail + " (XNNPACK: reported, not gated)", False))
            latencies = item.get("latencies_ms") or []
            measurements.append(Measurement(
                target=self.name, runtime=spec.runtime, artifact=spec.kind,
                accuracy=accuracy(outputs, evaluation.labels), n=len(outputs), latency_ms=latency_summary(latencies),
                runs=len(latencies), threads=spec.threads, warmup=job.warmup, emulated=emulated, agreement=agreement,
                board=item.get("board")))
        return TargetResult(tuple(measurements), tuple(validations), board)

    def _host_reference(self, run_dir: Path, manifest, evaluation, kind: str) -> np.ndarray:
        """What the host's LiteRT reference kernels give on the same inputs (ONNX Runtime's exact arithmetic for an
        ONNX artifact without a .tflite twin)."""
        path = run_dir / manifest.artifact(kind).path
        inputs = artifact_inputs(path, evaluation, manifest.model.get("input_quantization"))
        runtime = "litert-ref" if path.suffix == ".tflite" else "onnxruntime-exact"
        return run_model(runtime, path, inputs).outputs

    def _bit_exact(self, spec, outputs, reference: np.ndarray, item: dict):
        name = f"{self.name} {spec.runtime} vs {HOST_REFERENCE}"
        if outputs is None:
            return Validation(name, False, float(len(reference)), 0.0, f"did not run on the board: {item.get('error')}")
        return bit_exact(name, outputs.reshape(reference.shape), reference)


def _login_problem(access: BoardAccess, ssh: str) -> str | None:
    from mnd.targets.transport.base import TransportError
    from mnd.targets.transport.ssh import SshTransport

    try:
        SshTransport(ssh, identity=access.identity, config=access.ssh_config,
                     accept_new_host_key=access.accept_new_host_key,
                     connect_timeout=LOGIN_CONNECT_TIMEOUT_S).check_login()
    except TransportError as error:
        return str(error)
    return None


def _tflite_twin(manifest, kind: str) -> str:
    twin = kind.replace("onnx_", "tflite_")
    return twin if manifest.artifact(twin) is not None else kind


for _name, _board in BOARDS.items():
    register_target(type(_name.replace("-", "_"), (BoardTarget,), {
        "name": _name, "board": _board,
        "description": f"{_board.description} over SSH (--ssh), or emulated here: LiteRT, ONNX Runtime and "
                       "mnd's C engine (mnd-c)"}))
