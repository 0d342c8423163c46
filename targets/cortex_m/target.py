"""Cortex-M targets: our ahead-of-time C engine on an emulated core, bit-exact against TFLite-Micro and LiteRT's
reference kernels, with instruction counts (QEMU has no timing model) and a cycle estimate from the core's
published instruction timings beside them (labelled estimated, never measured), RAM and flash; or, with
--probe, on a real board behind a GDB server, with its DWT cycles (targets/cortex_m/probe_measure.py)."""
from pathlib import Path

import numpy as np

from mnd.base.errors import MndError, ModelError
from mnd.base.runtimes.inputs import artifact_inputs
from mnd.base.runtimes.sandbox import run_model
from mnd.base.tempdirs import temporary_directory
from mnd.pipeline.manifest import Measurement
from mnd.pipeline.validate import accuracy, bit_exact
from mnd.targets.base import BoardAccess, Target, TargetResult
from mnd.targets.board_output import int8_rows, refuse
from mnd.targets.registry import register_target
from mnd.targets.run_folder import build_in_run
from mnd.targets.toolchain import problem

PROBE_NEED = ("cortex-m-probe",)


class EngineMismatch(MndError):
    """The C engine's outputs differ from TFLite-Micro or LiteRT's reference kernels."""

    exit_code = 3


class CortexMTarget(Target):
    core = ""
    requires = ("tflite_int8",)
    options = {"clock_mhz": "prints the estimated cycles / clock in milliseconds, labelled as such (not a measurement)",
               "flash_wait_states": "flash wait states added to the cycle estimate per 32-bit code fetch (default 0)",
               "kernels": "auto (the core's DSP kernels, or on cortex-m55 its MVE kernels, where a layer fits them) "
                          "or portable (plain C99 only)"}
    takes_kernels = True
    needs = ("cortex-m",)  # and PROBE_NEED with --probe (not in `needs`: `make demo` installs every need listed)
    accepts = ("probe", "probe_reset")

    def check_access(self, board: BoardAccess):
        missing = problem(PROBE_NEED) if board.probe else None
        return super().check_access(board) or (f"--probe: {missing}" if missing else None)

    def check_device(self, board: BoardAccess):
        """--probe: something answers at the GDB server's address (the emulated core needs nothing)."""
        from mnd.targets.cortex_m.gdb_probe import check_probe

        return check_probe(board.probe) if board.probe else None

    def modes(self) -> list:
        return ["emulated (default): " + (self.check() or "ready"),
                "--probe gdb://HOST:PORT (a board): " + (problem((*self.needs, *PROBE_NEED)) or "ready")]

    def project_dir(self, run_dir: Path) -> Path:
        return run_dir / self.name

    def build(self, project: Path, run_dir: Path, manifest, kernels: str = "auto", probe: bool = False,
              memory=None):
        """Generate the standalone C project into the empty folder `project` (make builds libmnd_model.a) and build
        the harness ELF from the same sources: before any evaluation data is used. `kernels`: "auto" (the core's
        own kernel set) or an engine.ops.KERNEL_SETS name; `probe`: the harness's probe build, in build-probe/,
        linked for `memory` (a board preset's map; by default QEMU's, as for the emulated run)."""
        from mnd.engine.generator import generate
        from mnd.targets.cortex_m.cores import CORES
        from mnd.targets.cortex_m.firmware import build_firmware
        from mnd.targets.cortex_m.project import SOURCES, write_project

        int8_path = run_dir / manifest.artifact("tflite_int8").path
        tflm_arena = manifest.model.get("tflm_arena_bytes")
        core = CORES[self.name]
        generated = generate(int8_path.read_bytes(), project, str(int8_path), tflm_arena,
                             core.kernels if kernels == "auto" else kernels)
        write_project(project, core, generated, tflm_arena,
                      (manifest.model.get("preprocessing") or {}).get("formula"))
        firmware = build_firmware(core, [project / source for source in SOURCES], [project],
                                  project / ("build-probe" if probe else "build"), probe=probe, memory=memory)
        return generated, firmware

    def measure(self, run_dir: Path, manifest, evaluation, settings):
        from mnd.targets.cortex_m.tflm_tree import find_tree, given_source

        if manifest.artifact("tflite_int8") is None:
            raise ModelError(f"{self.name} runs full-integer int8 models, and this export has no tflite_int8 "
                                 "(see the report's warnings for why); export the Keras/SavedModel original or an "
                                 "int8 .tflite")
        source = given_source(settings.tflm_source)
        tree = find_tree(source) if source else None
        if tree and manifest.artifact("tflm_c_source") is None:
            raise ModelError(f"{self.name}: the TFLM runtimes (--tflm-source) run the export's TFLite-Micro "
                             "C arrays, and this run has none; export again with tflm among --formats")
        measurements, validations = build_in_run(
            run_dir, self.name, lambda project: self._measure_in(project, run_dir, manifest, evaluation,
                                                                 settings, tree))
        return TargetResult(measurements, validations)

    def _measure_in(self, project: Path, run_dir: Path, manifest, evaluation, settings, tree=None):
        from mnd.targets.cortex_m.cores import CORES
        from mnd.targets.cortex_m.qemu import run_firmware

        from mnd.targets.cortex_m.probe_measure import probe_memory

        probe = settings.board.probe is not None
        generated, firmware = self.build(project, run_dir, manifest, settings.kernels, probe=probe,
                                         memory=probe_memory(settings.board_preset) if probe else None)
        int8_path = run_dir / manifest.artifact("tflite_int8").path
        inputs = artifact_inputs(int8_path, evaluation)
        if probe:
            from mnd.targets.cortex_m.probe_measure import measure_on_probe

            def check(outputs):
                reference = run_model("litert-ref", int8_path, inputs).outputs.reshape(outputs.shape)
                self._check_bit_exact(project, int8_path, inputs, outputs, generated, reference)

            return (measure_on_probe(self.name, firmware, generated, manifest, evaluation, inputs, settings, check),), ()
        with temporary_directory(f"mnd-{self.name}-") as tmp:
            result = run_firmware(CORES[self.name], firmware, Path(tmp), inputs.tobytes(),
                                  timeout_s=_timeout(len(inputs)), flash_wait_states=settings.flash_wait_states)
        outputs = int8_rows(result.outputs, self.name, "the harness's outputs.bin", len(inputs),
                            manifest.model["classes"])
        if result.samples != len(inputs):
            raise refuse(self.name, "the harness's report", f"says {result.samples} samples; {len(inputs)} were sent")
        reference = run_model("litert-ref", int8_path, inputs).outputs.reshape(outputs.shape)
        self._check_bit_exact(project, int8_path, inputs, outputs, generated, reference)
        rows = (self._mnd_c_row(result, generated, firmware, outputs, evaluation, manifest, len(inputs),
                                 settings.flash_wait_states),)
        checks = (bit_exact(f"{self.name} mnd-c vs litert reference", outputs, reference),)  # passed: else raised
        if tree is None:
            return rows, checks
        measured = [self._tflm(project, run_dir, manifest, evaluation, inputs, generated, tree, reference, settings,
                               runtime) for runtime in settings.tflm_runtimes]
        return rows + tuple(row for row, _ in measured), checks + tuple(exact for _, exact in measured)

    def _tflm(self, project: Path, run_dir: Path, manifest, evaluation, inputs, generated, tree, reference, settings,
              runtime: str):
        from mnd.base.tflite.read import read_tflite
        from mnd.targets.cortex_m.cores import CORES
        from mnd.targets.cortex_m.tflm_runtime import layer_macs, measurement, run_tflm

        int8_bytes = (run_dir / manifest.artifact("tflite_int8").path).read_bytes()
        model = read_tflite(int8_bytes, manifest.artifact("tflite_int8").path)
        core = CORES[self.name]
        run = run_tflm(core, tree, run_dir / manifest.artifact("tflm_c_source").path, model, project / runtime,
                       inputs.tobytes(), _timeout(len(inputs)), manifest.model.get("tflm_arena_bytes"),
                       settings.flash_wait_states, runtime)
        outputs = int8_rows(run.result.outputs, self.name, f"{runtime}'s outputs.bin", len(inputs),
                            manifest.model["classes"])
        row = measurement(core, run, model.ops, layer_macs(int8_bytes, model.ops, generated.macs),
                          accuracy(outputs, evaluation.labels), len(inputs), manifest.model.get("tflm_arena_bytes"),
                          tree.record())
        return row, bit_exact(f"{self.name} {runtime} vs litert reference", outputs, reference)

    def _mnd_c_row(self, result, generated, firmware, outputs, evaluation, manifest, samples: int,
                   flash_wait_states: int = 0):
        from mnd.targets.cortex_m.firmware import memory_fields

        return Measurement(
            target=self.name, runtime="mnd-c", artifact="tflite_int8", accuracy=accuracy(outputs, evaluation.labels),
            n=samples, latency_ms=None, runs=samples, threads=None, warmup=None, emulated=True,
            **result.per_inference(), flash_wait_states=flash_wait_states,
            arena_bytes=generated.arena_bytes, arena_floor_bytes=generated.arena_floor_bytes,
            tflm_arena_bytes=manifest.model.get("tflm_arena_bytes"),
            layers=result.layer_rows(generated.layers, generated.macs),
            **memory_fields(firmware, result.stack_peak_bytes))

    def _check_bit_exact(self, project: Path, int8_path: Path, inputs, outputs, generated, reference) -> None:
        from mnd.engine.diagnose import first_differing_layer

        differing = np.flatnonzero(np.any(reference != outputs, axis=1))
        if len(differing):
            where = first_differing_layer(project, generated, int8_path, inputs[differing[0]])
            raise EngineMismatch(f"{self.name}: the C engine differs from LiteRT's reference kernels on "
                                 f"{len(differing)} of {len(inputs)} samples (first: sample {differing[0]}); {where}")


def _timeout(samples: int) -> float:
    return 120 + 5 * samples


for _core in ("cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55"):
    register_target(type(_core.replace("-", "_"), (CortexMTarget,), {
        "name": _core, "core": _core,
        "description": f"{_core} under QEMU: mnd's C engine, bit-exact checks, instruction counts and estimated "
                       "cycles, RAM/flash"}))
