"""`mnd export`: quantize, write every artifact, validate, measure on the target, report — atomically."""
import logging
import time
from dataclasses import dataclass, replace

import numpy as np

from mnd.base import interrupts
from mnd.base.errors import TargetUnavailable
from mnd.pipeline import rundir, validate
from mnd.pipeline.data.plan import Evaluation, load_evaluation_only, load_export_data
from mnd.pipeline.environment import environment
from mnd.pipeline.export.formats import ALL_FORMATS, Build
from mnd.pipeline.manifest import Manifest
from mnd.pipeline.report.write import write_reports
from mnd.pipeline.sources.resolve import ModelSource
from mnd.quantize.config import QuantConfig
from mnd.targets.base import MeasureSettings
from mnd.targets.registry import get_target

log = logging.getLogger("mnd")


@dataclass(frozen=True)
class ExportConfig:
    target: str = "host"
    calib: str | None = None
    evaluation: str | None = None
    quant: QuantConfig = QuantConfig()
    evaluation_samples: int | None = None
    max_drop: float = 2.0
    allow_drift: bool = False
    requantize_int8: bool = False
    measure: MeasureSettings = MeasureSettings()
    cost_only: bool = False  # `mnd sweep --cost-only`: random data, only the int8 TFLite model, no validations
    board: object = None     # a targets.cortex_m.boards.Board: manifest.target.part says whether the model fits it
    formats: tuple = ALL_FORMATS  # `--formats`: the artifact groups written beside the int8 .tflite (export/formats.py)


COST_ONLY_CALIBRATION_SAMPLES = 8
COST_ONLY_NOTE = ("cost-only export (mnd sweep --cost-only): random weights, calibrated on {calibration} random "
                  "inputs and run on {evaluation} random input; only the int8 TFLite model was written (no ONNX, no "
                  "TFLite-Micro arrays, no validations), and its accuracy says nothing")


def check_target(name: str, settings: MeasureSettings = MeasureSettings(), device: bool = True):
    """The target, refused with one line when its tools are missing here, the board options do not fit it, or
    (with `device`) the phone or board they name does not answer: before any work, so nothing is left behind."""
    from mnd.base.errors import UsageError

    target = get_target(name)
    reason = target.check()
    if reason:
        raise TargetUnavailable(f"{name}: {reason}")
    misfit = target.check_access(settings.board)
    if misfit:
        raise UsageError(f"{name}: {misfit}")
    if settings.kernels != "auto" and not target.takes_kernels:
        raise UsageError(f"{name}: --kernels applies to the cortex-m targets only (their generated C engine)")
    if settings.flash_wait_states and not target.takes_kernels:
        raise UsageError(f"{name}: --flash-wait-states applies to the cortex-m targets only (their cycle estimate); "
                         "drop it")
    if (settings.tflm_source or settings.tflm_runtimes != MeasureSettings.tflm_runtimes) and not target.takes_kernels:
        option = "--tflm-source" if settings.tflm_source else "--tflm-runtimes"
        raise UsageError(f"{name}: {option} applies to the cortex-m targets only (TFLite-Micro on the core)")
    if target.takes_kernels:
        from mnd.targets.cortex_m.tflm_tree import find_tree, given_source

        from mnd.targets.toolchain import problem

        source = given_source(settings.tflm_source)
        if settings.tflm_runtimes != MeasureSettings.tflm_runtimes and not source:
            raise UsageError(f"{name}: --tflm-runtimes needs a TFLite-Micro tree: add --tflm-source DIR (or set "
                             "MND_TFLM_SOURCE)")
        if source:
            find_tree(source)  # a tree in neither layout is refused before any work
            missing = problem(("tflm",))
            if missing:
                raise TargetUnavailable(f"{name}: TFLite-Micro (--tflm-source): {missing}")
    absent = target.check_device(settings.board) if device else None
    if absent:
        raise TargetUnavailable(f"{name}: {absent}")
    return target


def target_record(target, settings: MeasureSettings, board: dict | None = None) -> dict:
    """manifest.target: the target's name, the options it measured with, and the board's facts."""
    options = {"threads": list(settings.thread_counts(target.default_threads)), "clock_mhz": settings.clock_mhz}
    if settings.board.ssh:
        options["ssh"] = settings.board.ssh
    if settings.board.ssh_boards:
        options["ssh_boards"] = list(settings.board.ssh_boards)
    if settings.board.serials:
        options["serials"] = list(settings.board.serials)
    if settings.board.probe:
        options["probe"] = settings.board.probe
    if settings.board.probe_reset:
        options["probe_reset"] = settings.board.probe_reset
    if settings.kernels != "auto":
        options["kernels"] = settings.kernels
    if settings.flash_wait_states:
        options["flash_wait_states"] = settings.flash_wait_states
    return {"name": target.name, "options": options, "board": board}


def with_target_result(manifest: Manifest, target, settings: MeasureSettings, result, kept: tuple = (),
                       allow_drift: bool = False) -> Manifest:
    """The manifest with the target's measurements (after `kept`), its validations (replacing the target's earlier
    ones) and board facts; a failed target validation stops the run unless drift is allowed."""
    from mnd.targets.cortex_m.boards import BOARDS

    own = tuple(v for v in manifest.validations if not v.name.startswith(f"{target.name} "))
    validations = own + tuple(result.validations)
    part = (manifest.target or {}).get("part")  # `mnd export --board`: judged again on the measurements now
    measured = tuple(replace(m, clock_mhz=float(settings.clock_mhz)) if m.emulated and settings.clock_mhz else m
                     for m in result.measurements)
    manifest = replace(manifest.with_measurements(kept + measured), validations=validations,
                       target=target_record(target, settings, result.board))
    validate.enforce(result.validations, allow_drift)  # the export's own were enforced (or allowed) already
    return with_board_fit(manifest, BOARDS.get(part["board"])) if part else manifest


def with_board_fit(manifest: Manifest, board) -> Manifest:
    """manifest.target.part: whether the measured mnd-c firmware fits `board` (a boards.Board, or None: unchanged)."""
    from mnd.targets.cortex_m.board_fit import measured_fit

    measured = [m for m in manifest.measurements
                if board and m.target == board.core and m.runtime == "mnd-c" and m.emulated]
    if not measured:
        return manifest
    return replace(manifest, target={**manifest.target, "part": measured_fit(board, measured[0])})


def random_export_data(source: ModelSource, calibration_samples: int):
    """Cost-only data: uniform random pixels through the model's preprocessing, `calibration_samples` to calibrate
    and one to run (label 0), with the manifest's 'data' record saying so."""
    rng = np.random.default_rng(0)
    shape = (source.prep.side, source.prep.side, source.prep.channels)
    calib_pixels = rng.integers(0, 256, (calibration_samples, *shape), dtype=np.uint8)
    eval_pixels = rng.integers(0, 256, (1, *shape), dtype=np.uint8)
    evaluation = Evaluation(eval_pixels, np.zeros(1, np.int64), source.prep.apply(eval_pixels), source.prep)
    part = lambda samples: {"source": "random pixels (cost-only)", "split": None, "part": "all",  # noqa: E731
                            "samples": samples}
    return source.prep.apply(calib_pixels), evaluation, {"calibration": part(calibration_samples),
                                                         "evaluation": part(1)}


def open_export(source: ModelSource, config: ExportConfig):
    """The exporter for the model's kind: a float Keras graph, or an imported .tflite file."""
    if config.cost_only and source.kind != "keras":
        from mnd.base.errors import UsageError
        raise UsageError("a cost-only export builds a Keras model with random weights; it cannot take a .tflite file")
    if source.kind == "tflite":
        from mnd.pipeline.export.from_tflite import TfliteExport
        return TfliteExport(source, requantize_int8=config.requantize_int8, quant=config.quant)
    if config.requantize_int8:
        from mnd.base.errors import UsageError
        raise UsageError("--requantize-int8 applies to imported uint8 .tflite models only")
    from mnd.pipeline.export.from_keras import KerasExport
    return KerasExport(source, config.quant)


def measure_on(target, run_dir, manifest: Manifest, evaluation, settings: MeasureSettings):
    """target.measure on the artifacts the run has, with one line saying which formats were left out (--formats)
    and one with the measurement's time."""
    if manifest.formats and set(manifest.formats) != set(ALL_FORMATS):  # () is a cost-only export, which says so
        log.info("%s: measuring only what this run has: exported with --formats %s (and the .tflite the others "
                 "derive from, always written)", target.name, ",".join(manifest.formats))
    start = time.monotonic()
    result = target.measure(run_dir, manifest, evaluation, settings)
    log.info("%s: %d measurement(s) in %.1f s", target.name, len(result.measurements), time.monotonic() - start)
    return result


def export(source: ModelSource, destination: rundir.Destination, config: ExportConfig,
           shown_out: str | None = None) -> Manifest:
    """Everything is built in a staging directory beside `destination` (claimed by the caller) and published by
    one rename at the end; any failure or signal leaves nothing behind. `shown_out`: --out as the user wrote it, for
    the log lines naming each artifact where it will be (default: the destination's absolute path)."""
    out = destination.path
    target = check_target(config.target, config.measure, device=False)  # the callers checked the device already
    exporter = open_export(source, config)
    warnings = tuple(exporter.warnings())
    for warning in warnings:
        log.warning("warning: %s", warning)
    if config.cost_only:
        calib_inputs, evaluation, data_doc = random_export_data(source, COST_ONLY_CALIBRATION_SAMPLES)
        warnings += (COST_ONLY_NOTE.format(calibration=len(calib_inputs), evaluation=len(evaluation.labels)),)
    elif exporter.needs_calibration:
        calib_inputs, evaluation, data_doc = load_export_data(
            source, config.calib, config.evaluation, config.quant.calibration_samples, exporter.classes,
            config.evaluation_samples)
    else:
        calib_inputs = None
        evaluation, data_doc = load_evaluation_only(source, config.calib, config.evaluation, exporter.classes,
                                                    config.evaluation_samples)
    manifest = Manifest(
        model={"name": source.name, "alpha": source.alpha, "input_shape": exporter.input_shape,
               "classes": exporter.classes, "labels": list(source.labels), "preprocessing": source.prep.to_dict(),
               "source": str(source.run_dir or source.path),
               "input_quantization": exporter.input_quantization(),
               "repairs": list(exporter.repairs)},
        quantization=exporter.quantization(config, 0 if calib_inputs is None else len(calib_inputs)),
        data=data_doc, target=target_record(target, config.measure),
        environment=environment(), warnings=warnings, formats=() if config.cost_only else tuple(config.formats))
    staging = rundir.staging_dir(destination)
    build = Build(staging, shown_out or str(out), manifest.formats)
    try:
        if config.cost_only:
            manifest = exporter.int8_artifact_only(staging, manifest, calib_inputs, build)
            validations, confusion = (), None
        else:
            manifest = exporter.artifacts(staging, manifest, calib_inputs, evaluation, build)
            interrupts.raise_if_requested()
            validations, confusion = exporter.validations(staging, manifest, evaluation, config)
        manifest = replace(manifest, validations=validations, evaluation=confusion)
        validate.enforce(validations, config.allow_drift)
        interrupts.raise_if_requested()
        result = measure_on(target, staging, manifest, evaluation, config.measure)
        manifest = with_target_result(manifest, target, config.measure, result, allow_drift=config.allow_drift)
        manifest = with_board_fit(manifest, config.board)
        interrupts.raise_if_requested()
        manifest.write(staging)
        write_reports(staging, manifest, str(out))
    except BaseException:
        rundir.discard(staging, destination)
        raise
    rundir.publish(staging, destination)
    return manifest
