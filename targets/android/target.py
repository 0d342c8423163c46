"""Android phones over adb: mnd's C engine as a static arm64 executable (no app, no bionic, no Python) measures
accuracy and latency on the phone, bit-exact with the host's LiteRT reference kernels; with --benchmark-model,
LiteRT's own benchmark_model adds its timings, memory and per-op profile per delegate and thread count."""
import logging
import shutil
import tempfile
from pathlib import Path

import numpy as np

from mnd.base.errors import ModelError, TargetUnavailable
from mnd.base.progress import phase
from mnd.base.runtimes.inputs import artifact_inputs
from mnd.base.runtimes.sandbox import run_model
from mnd.pipeline.manifest import Measurement
from mnd.pipeline.validate import accuracy, bit_exact, top1
from mnd.targets.android.benchmark_runs import BENCHMARK_URL, benchmark_argv, plan_runs
from mnd.targets.android.device_facts import abi_problem, phone_record
from mnd.targets.base import (NO_DEVICE, READY, UNAVAILABLE, BoardAccess, MeasureSettings, Readiness, Target,
                              TargetResult)
from mnd.targets.board_output import refuse
from mnd.targets.engine_remote import ENGINE, EngineFailed, run_mnd_c
from mnd.targets.latency import latency_summary
from mnd.targets.registry import register_target
from mnd.targets.run_folder import build_in_run

log = logging.getLogger("mnd")
GCC_CPU = "generic"  # any arm64-v8a phone
SECONDS_PER_INFERENCE = 10.0
BASE_TIMEOUT_S = 300.0
HOST_REFERENCE = "host litert-ref"
EMULATED_WARNING = ("emulated phone (ro.kernel.qemu=1): the outputs are the arm64 code's, but the latency says "
                    "nothing about a real phone")


@register_target
class AndroidTarget(Target):
    name = "android"
    description = ("Android phone over adb: mnd's C engine (static arm64, bit-exact) and, with --benchmark-model, "
                   "LiteRT's benchmark_model per delegate")
    requires = ("tflite_int8",)
    options = {"serial": "adb serial (default: the only device)", "threads": "benchmark_model thread counts "
               "(default 1,4); mnd-c is single-threaded", "benchmark_model": f"download: {BENCHMARK_URL}",
               "delegate": "cpu, xnnpack, gpu, nnapi (benchmark_model)", "cpu_affinity": "taskset mask"}
    default_threads = (1, 4)
    accepts = ("serial", "benchmark_model", "delegates", "cpu_affinity")
    needs = ("android",)

    def modes(self) -> list:
        return [f"--benchmark-model: LiteRT's android_aarch64 benchmark_model, downloaded from {BENCHMARK_URL}"]

    def check_access(self, access: BoardAccess):
        problem = super().check_access(access)
        if problem is None and access.benchmark_model is not None and not Path(access.benchmark_model).is_file():
            problem = f"--benchmark-model {access.benchmark_model} is not a file; download it from {BENCHMARK_URL}"
        return problem

    def check_device(self, access: BoardAccess):
        from mnd.targets.android.device_check import find_phone
        from mnd.targets.transport.base import TransportError

        def problem(serial):
            try:
                find_phone(serial)
            except TransportError as error:
                return str(error)
            return None

        if not access.serials:
            return problem(access.serial)
        problems = {serial: problem(serial) for serial in access.serials}
        for serial, reason in problems.items():
            if reason:
                log.warning("warning: android: phone %s does not answer: %s", serial, reason)
        if all(problems.values()):
            return f"none of the {len(problems)} --serial phones answers (the first: {problems[access.serial]})"
        return None

    def readiness(self, access: BoardAccess = BoardAccess()) -> Readiness:
        """Asks the adb server that runs, without starting one."""
        from mnd.targets.android.device_check import describe, listed_devices, several_ready
        from mnd.targets.transport.adb import choose_device
        from mnd.targets.transport.base import TransportError

        reason = self.check() or self.check_access(access)
        if reason:
            return Readiness(UNAVAILABLE, reason)
        try:
            devices = listed_devices(start_server=False)
            several = None if access.serial else several_ready(devices)
            return Readiness(READY, device=several or describe(choose_device(devices, access.serial)))
        except TransportError as error:
            return Readiness(NO_DEVICE, str(error))

    def measure(self, run_dir: Path, manifest, evaluation, settings: MeasureSettings) -> TargetResult:
        if manifest.artifact("tflite_int8") is None:
            raise ModelError("android runs mnd's C engine on full-integer int8 models, and this export has no "
                             "tflite_int8 (see the report's warnings for why); export an int8 model")
        return build_in_run(run_dir, self.name,
                            lambda project: self._measure_in(project, run_dir, manifest, evaluation, settings))

    def _measure_in(self, project: Path, run_dir: Path, manifest, evaluation, settings) -> TargetResult:
        from mnd.engine.linux_build import build_executable, write_linux_project
        from mnd.targets.transport.adb import AdbTransport

        int8 = run_dir / manifest.artifact("tflite_int8").path
        write_linux_project(int8, project, manifest.model.get("tflm_arena_bytes"), cpu=GCC_CPU)
        engine = build_executable(project, project / ENGINE, cpu=GCC_CPU)
        inputs = artifact_inputs(int8, evaluation)
        if settings.board.serials:
            from mnd.targets.android.several_phones import measure_on_phones

            phone, (outputs, latencies, serial), benchmarks = measure_on_phones(self, engine, inputs, run_dir,
                                                                                manifest, settings)
            emulated = {share["serial"]: share["facts"]["emulated"] for share in phone["boards"] if share["facts"]}
        else:
            transport = AdbTransport(settings.board.serial)
            phone = self.phone_facts(transport)
            log.info("android: measuring on %s", transport.describe())
            with transport.workdir() as workdir:
                outputs, latencies = self._run_engine(transport, workdir, engine, inputs,
                                                      manifest.model["classes"], settings)
                benchmarks = [(run, parsed, None) for run, parsed in
                              self._run_benchmarks(transport, workdir, run_dir, manifest, settings)]
            serial, emulated = None, {None: phone["emulated"]}
        if any(emulated.values()):
            log.warning("warning: %s", EMULATED_WARNING)
        reference = run_model("litert-ref", int8, inputs).outputs
        check = bit_exact(f"android {ENGINE} vs {HOST_REFERENCE}", outputs.reshape(reference.shape), reference)
        agreement = {"reference": HOST_REFERENCE, "n": len(reference),
                     "top1_differing": int(np.sum(top1(outputs) != top1(reference))),
                     "reference_accuracy": accuracy(reference, evaluation.labels), "note": None}
        rows = [Measurement(target=self.name, runtime=ENGINE, artifact="tflite_int8",
                            accuracy=accuracy(outputs, evaluation.labels), n=len(outputs),
                            latency_ms=latency_summary(latencies), runs=len(latencies), threads=1,
                            warmup=settings.warmup, emulated=emulated[serial], agreement=agreement,
                            board=serial)]
        rows += [Measurement(target=self.name, runtime=run.runtime, artifact=run.kind, accuracy=None, n=0,
                             latency_ms=None, runs=(parsed.get("inference") or {}).get("count") or settings.runs,
                             threads=run.threads, warmup=settings.warmup, emulated=emulated[measured_on],
                             benchmark=parsed, board=measured_on)
                 for run, parsed, measured_on in benchmarks]
        return TargetResult(tuple(rows), (check,), phone)

    def _prefix(self, settings: MeasureSettings) -> list:
        return ["taskset", settings.board.cpu_affinity] if settings.board.cpu_affinity else []

    def _run_engine(self, transport, workdir: str, engine: Path, inputs: np.ndarray, width: int, settings):
        """(outputs, latencies in ms) of mnd-c over every evaluation input on the phone."""
        with tempfile.TemporaryDirectory(prefix="mnd-android-") as tmp:
            staged = Path(tmp) / "inputs.bin"
            staged.write_bytes(np.ascontiguousarray(inputs).tobytes())
            transport.push([engine, staged], workdir)
        timeout = BASE_TIMEOUT_S + SECONDS_PER_INFERENCE * (len(inputs) + settings.warmup + settings.runs)
        with phase(f"android: mnd-c on the phone, {len(inputs)} samples + {settings.warmup} warm-up + "
                   f"{settings.runs} timed"):
            with tempfile.TemporaryDirectory(prefix="mnd-android-") as tmp:
                try:
                    return run_mnd_c(transport, workdir, Path(tmp), inputs="inputs.bin", outputs="outputs.bin",
                                     warmup=settings.warmup, runs=settings.runs, timeout=timeout,
                                     board=self.name, shape=(len(inputs), width),
                                     prefix=tuple(self._prefix(settings)))
                except EngineFailed as error:
                    raise ModelError(f"android: mnd-c failed on the phone ({error})") from None

    def phone_facts(self, transport) -> dict:
        """The phone's record (device_facts.phone_record); TargetUnavailable for a phone that is not arm64."""
        phone = phone_record(transport.getprop(), transport.serial)
        problem = abi_problem(phone)
        if problem:
            raise TargetUnavailable(f"android: {problem}")
        return phone

    def benchmark_runs(self, manifest, settings) -> list:
        """The BenchmarkRuns of --benchmark-model (each .tflite, delegate and thread count); [] without it."""
        if settings.board.benchmark_model is None:
            return []
        return plan_runs(_phone_models(manifest), settings.board.delegates or ("xnnpack",),
                         settings.thread_counts(self.default_threads))

    def push_benchmark_files(self, transport, workdir: str, run_dir: Path, manifest, settings) -> None:
        """benchmark_model and the .tflite files into the phone's work directory."""
        with tempfile.TemporaryDirectory(prefix="mnd-android-") as tmp:
            staging = Path(tmp)
            shutil.copy(settings.board.benchmark_model, staging / "benchmark_model")
            (staging / "benchmark_model").chmod(0o755)
            for kind, name in _phone_models(manifest).items():
                shutil.copy(run_dir / manifest.artifact(kind).path, staging / name)
            transport.push(sorted(staging.iterdir()), workdir)

    def _run_benchmarks(self, transport, workdir: str, run_dir: Path, manifest, settings) -> list:
        """[(BenchmarkRun, parsed output)] for each .tflite, delegate and thread count; [] without the tool."""
        runs = self.benchmark_runs(manifest, settings)
        if runs:
            self.push_benchmark_files(transport, workdir, run_dir, manifest, settings)
        return [(run, parsed) for run in runs
                if (parsed := self.run_benchmark(transport, workdir, run, settings)) is not None]

    def run_benchmark(self, transport, workdir: str, run, settings):
        """benchmark_model's parsed output for one BenchmarkRun; None (with a warning) when it failed."""
        from mnd.targets.android.benchmark_model import BenchmarkOutputError, parse_benchmark_output

        with phase(f"android: benchmark_model {run.kind} {run.delegate} x{run.threads}"):
            result = transport.run([*self._prefix(settings), *benchmark_argv(run, settings.warmup, settings.runs)],
                                   cwd=workdir, timeout=BASE_TIMEOUT_S + 60.0 * (settings.warmup + settings.runs))
        text = (result.stdout + result.stderr).decode(errors="replace")
        if result.returncode != 0:
            last = [line for line in text.splitlines() if line.strip()][-1:] or ["no output"]
            log.warning("warning: android: benchmark_model %s with %s failed (exit %d): %s", run.kind,
                        run.delegate, result.returncode, last[0][:300])
            return None
        try:
            return parse_benchmark_output(text)
        except BenchmarkOutputError as error:
            raise refuse(self.name, f"benchmark_model's output ({run.kind}, {run.delegate})", str(error)) from None


def _phone_models(manifest) -> dict:
    """{artifact kind: its file's name on the phone} of the .tflite files benchmark_model runs."""
    return {kind: f"model_{kind}.tflite" for kind in ("tflite_int8", "tflite_float") if manifest.artifact(kind)}
