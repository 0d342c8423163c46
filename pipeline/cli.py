"""`mnd` command line: parses flags and environment, then calls pipeline stages."""
import argparse
import json
import logging
import os
import signal
import sys
from pathlib import Path

from mnd.pipeline import __version__, cli_args, interrupts
from mnd.pipeline.control_chars import visible
from mnd.pipeline.errors import Interrupted, MndError
from mnd.pipeline.export.formats import ALL_FORMATS, FORMATS_HELP
from mnd.pipeline.progress import disable_bars
from mnd.pipeline.quiet import import_tensorflow_quietly, stdout_reserved
from mnd.pipeline.refused_writes import refused_write
from mnd.pipeline.sweep import grid as sweep_grid

log = logging.getLogger("mnd")


def _configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("mnd: %(message)s"))
    logger = logging.getLogger("mnd")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False  # TensorFlow installs a root handler that would print every line twice
    logging.captureWarnings(True)
    logging.getLogger("py.warnings").setLevel(logging.WARNING if verbose else logging.CRITICAL)
    # TensorFlow's and absl's native log lines (E0000 ... node_def_util.cc ...) reach fd 2 below level 3
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if verbose else "3")


def _cmd_summary(args) -> None:
    from mnd.pipeline.model import inverted_residual_summary, summary
    from mnd.pipeline.model.inverted_residual import InvertedResidualSpec

    if args.grid:
        if (args.family or "v1") == "v1":
            _print_result(args, summary.grid(classes=args.classes or 1000, channels=args.channels), summary.format_grid)
        else:
            classes = args.classes or inverted_residual_summary.PUBLISHED_CLASSES
            rows = inverted_residual_summary.grid(args.family, classes, args.channels)
            _print_result(args, rows, inverted_residual_summary.format_grid)
        return
    from mnd.pipeline.model.registry import spec_from_options

    spec = spec_from_options(args.model, args.family, alpha=args.alpha, side=args.resolution,
                             classes=args.classes or 1000, channels=args.channels, activation=args.activation,
                             shallow=args.shallow, full_conv=args.full_conv)
    if isinstance(spec, InvertedResidualSpec):
        _print_result(args, inverted_residual_summary.summarize(spec), inverted_residual_summary.format_table)
    else:
        _print_result(args, summary.summarize(spec), summary.format_table)
    log.info("next: mnd train --model %s --dataset digits --out runs/%s", spec.name, spec.name)


def _cmd_analyze(args) -> None:
    from mnd.pipeline.analyze.render import format_analysis
    from mnd.pipeline.analyze.run import analyze
    from mnd.targets.cortex_m.boards import resolve_board

    board, _ = resolve_board(args.board, None)
    doc = analyze(args.model, board)
    _print_result(args, doc, format_analysis)
    log.info("next: mnd export --model %s --board %s   (measures it on the emulated core)", args.model,
             args.board or "NAME")


def _cmd_train(args) -> None:
    from mnd.pipeline import rundir
    from mnd.pipeline.data.datasets import check_split_fraction
    from mnd.pipeline.model.registry import parse_model_name

    parse_model_name(args.model, args.activation)  # a typo answers at once, before TensorFlow starts
    check_split_fraction(args.val_split)
    _check_inputs(args, args.dataset)
    destination = rundir.claim(Path(args.out), args.force, _local_paths(args.dataset, _cache_dir()))
    import_tensorflow_quietly()
    from mnd.pipeline.progress import EpochBar
    from mnd.pipeline.training.fit import TrainConfig
    from mnd.pipeline.training.run import run_training

    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr, seed=args.seed)
    manifest = run_training(args.model, args.dataset, destination, config, val_split=args.val_split,
                            channels=args.channels, activation=args.activation, preprocess=args.preprocess,
                            to_gray=args.to_gray, progress=EpochBar)
    from mnd.pipeline.report.intervals import accuracy_interval

    _emit_json(args, json.dumps(manifest, indent=2) + "\n")
    validation_samples = manifest["dataset"]["val_samples"]
    log.info("final validation accuracy %s (95%% interval) after %d epochs (%d validation images); run saved to %s",
             accuracy_interval(manifest["val_accuracy"], validation_samples), manifest["epochs_completed"],
             validation_samples, args.out)
    log.info("next: mnd export --model %s --target host", args.out)


def _print_result(args, doc, formatter) -> None:
    if args.json:
        _emit_json(args, json.dumps(doc, indent=2) + "\n")
    else:
        print(formatter(doc))


def _emit_json(args, document: str) -> None:
    """With --json, the one document stdout carries (for train, export and measure: the manifest as written)."""
    if getattr(args, "json", False):
        args.json_stream.write(document)


def _cache_dir() -> Path:
    return Path(os.environ.get("MND_CACHE") or Path.home() / ".cache" / "mnd")


def _measure_settings(args):
    from mnd.targets.base import BoardAccess, MeasureSettings

    board = BoardAccess(ssh=args.ssh, identity=args.identity and Path(args.identity).resolve(),
                        ssh_config=args.ssh_config and Path(args.ssh_config).resolve(),
                        accept_new_host_key=args.accept_new_host_key, remote_python=args.remote_python,
                        setup=args.setup, serial=args.serial,
                        benchmark_model=args.benchmark_model and Path(args.benchmark_model).resolve(),
                        delegates=args.delegate or (), cpu_affinity=args.cpu_affinity)
    return MeasureSettings(warmup=args.warmup, runs=args.runs, threads=args.threads, clock_mhz=args.clock_mhz,
                           kernels=args.kernels, board=board)


def _check_inputs(args, *datasets) -> None:
    """The input arguments' cheap checks, before TensorFlow starts (each is the one its loader runs again): the
    datasets there or built in and, for commands that import models (--arch, --labels), --model and --labels."""
    from mnd.pipeline.data.datasets import check_dataset
    from mnd.pipeline.sources.resolve import check_labels_file, check_model

    if hasattr(args, "arch"):
        check_model(args.model, args.arch)
    for dataset in filter(None, datasets):
        check_dataset(dataset)
    if getattr(args, "labels", None):
        check_labels_file(Path(args.labels))


def _local_paths(*candidates) -> list:
    """The arguments that name existing files or folders: inputs that --out must stay clear of."""
    return [Path(c) for c in candidates if c and Path(c).exists()]


def _cmd_export(args) -> None:
    from mnd.pipeline import rundir
    from mnd.pipeline.export.run import ExportConfig, check_target, export
    from mnd.targets.cortex_m.boards import resolve_board

    board, target = resolve_board(args.board, args.target)
    args.target = target or "host"
    check_target(args.target, _measure_settings(args))  # before TensorFlow starts: mistakes answer at once
    _check_inputs(args, args.calib, args.eval)
    inputs = _local_paths(args.model, args.calib, args.eval, args.labels, _cache_dir())
    destination = rundir.claim(Path(args.out), args.force, inputs) if args.out else None
    import_tensorflow_quietly()
    from mnd.pipeline.progress import EpochBar
    from mnd.pipeline.sources.resolve import resolve_model

    source = resolve_model(args.model, _cache_dir(), args.train_epochs, args.seed, progress=EpochBar,
                           prep_overrides=_prep_overrides(args), labels_file=args.labels, arch=args.arch,
                           classes=args.classes)
    destination = destination or rundir.claim(Path(f"out/{source.name}-{args.target}"), args.force, inputs)
    out = args.out or destination.path
    config = ExportConfig(target=args.target, calib=args.calib, evaluation=args.eval,
                          quant=_quant_config(args),
                          evaluation_samples=args.eval_samples, max_drop=args.max_drop,
                          allow_drift=args.allow_drift, requantize_int8=args.requantize_int8,
                          measure=_measure_settings(args), board=board, formats=args.formats)
    manifest = export(source, destination, config, shown_out=str(out))
    _emit_json(args, manifest.to_json())
    failed = [v.name for v in manifest.validations if not v.passed]
    if failed:
        log.warning("kept despite failed validations (--allow-drift): %s", ", ".join(failed))
    _log_summary(manifest)
    log.info("wrote %d artifacts, manifest.json, report.md and report.html to %s", len(manifest.artifacts), out)
    log.info("next: cat %s/report.md   (plots: %s/report.html; re-measure: mnd measure %s --target %s)", out, out,
             out, args.target)


def _log_summary(manifest) -> None:
    """The report's summary on stderr: accuracy [95% interval] and speed per runtime, fit and validation verdicts."""
    from mnd.pipeline.report.summary import terminal_lines

    for line in terminal_lines(manifest):
        log.info("%s", line)


def _prep_overrides(args) -> dict:
    overrides = {"mode": args.preprocess, "crop_fraction": args.crop, "resize": args.resize,
                 "to_gray": True if args.to_gray else None}
    return {key: value for key, value in overrides.items() if value is not None}


def _cmd_evaluate(args) -> None:
    _check_inputs(args, args.data)
    import_tensorflow_quietly()
    from mnd.pipeline.evaluate import evaluate, format_result
    from mnd.pipeline.sources.resolve import resolve_model

    source = resolve_model(args.model, _cache_dir(), 30, 0, prep_overrides=_prep_overrides(args),
                           labels_file=args.labels, arch=args.arch, classes=args.classes)
    result = evaluate(source, args.data, args.runtime)
    _print_result(args, result, format_result)
    log.info("next: mnd export --model %s --eval %s --target host", args.model, args.data)


def _add_preprocessing_flags(parser) -> None:
    parser.add_argument("--preprocess", choices=("unit", "signed", "raw"),
                        help="unit: x/255; signed: x/127.5-1; raw: pixel values (quantized models: the bytes) — "
                             "default: the model's own (recorded in the manifest)")
    parser.add_argument("--crop", type=cli_args.unit_fraction, help="centre-crop fraction before resizing (0.875 for ImageNet)")
    parser.add_argument("--resize", choices=("bilinear", "nearest", "bicubic", "antialias"),
                        help="bilinear (default: half-pixel centres, no antialiasing, as TensorFlow), nearest, "
                             "bicubic, or antialias (PIL's area-aware bilinear)")
    parser.add_argument("--to-gray", action="store_true", help="convert colour images to gray (ITU-R 601 luma) "
                        "for 1-channel models")
    parser.add_argument("--labels", help="class names, one per line in output order (default: indices)")
    parser.add_argument("--arch", help="for a weights-only .h5: the registry architecture to load it into")
    parser.add_argument("--classes", type=cli_args.positive_int, help="with --arch: the number of classes")


def _cmd_measure(args) -> None:
    from mnd.pipeline.export.remeasure import remeasure

    manifest = remeasure(Path(args.run_dir), args.target, _measure_settings(args), args.eval)
    _emit_json(args, manifest.to_json())
    _log_summary(manifest)
    log.info("%d measurements on %s written to %s/manifest.json, report.md and report.html",
             len(manifest.measurements), args.target, args.run_dir)
    log.info("next: cat %s/report.md", args.run_dir)


def _cmd_report(args) -> None:
    from mnd.pipeline import rundir
    from mnd.pipeline.errors import UsageError
    from mnd.pipeline.report.write import rerender_run, write_comparison

    runs = [Path(run) for run in args.runs]
    if len(runs) == 1 and args.out:
        raise UsageError("--out is for comparing several runs; with one RUN, mnd report rewrites RUN/report.md and "
                         "RUN/report.html in place")
    if len(runs) == 1:
        html = rerender_run(runs[0])
    elif not args.out:
        raise UsageError(f"comparing {len(runs)} runs needs --out DIR, a new folder for the comparison report")
    else:
        html = write_comparison(runs, rundir.claim(Path(args.out), args.force, runs))
    log.info("wrote %s and report.md beside it", html)
    log.info("next: xdg-open %s   (or open it in any browser; it loads nothing from the network)", html)


def _cmd_quantize_report(args) -> None:
    from mnd.pipeline import rundir
    from mnd.pipeline.quality.render import render_markdown
    from mnd.pipeline.quality.run import ReportConfig, quantize_report, write_report

    from mnd.pipeline.errors import UsageError
    from mnd.quantize.config import QuantConfig

    quant, default = _quant_config(args), QuantConfig()
    if args.compare and (quant.weights, quant.equalize, quant.bias_correct) != \
            (default.weights, default.equalize, default.bias_correct):
        raise UsageError("--compare sets the weight scheme, equalization and bias correction itself; drop --weights, "
                         "--equalize and --bias-correct/--no-bias-correct, or drop --compare")
    _check_inputs(args, args.calib, args.eval)
    inputs = _local_paths(args.model, args.calib, args.eval, args.labels, _cache_dir())
    destination = rundir.claim(Path(args.out), args.force, inputs) if args.out else None
    import_tensorflow_quietly()
    from mnd.pipeline.sources.resolve import resolve_model

    source = resolve_model(args.model, _cache_dir(), args.train_epochs, args.seed, prep_overrides=_prep_overrides(args),
                           labels_file=args.labels, arch=args.arch, classes=args.classes)
    doc = quantize_report(source, ReportConfig(calib=args.calib, evaluation=args.eval, quant=quant,
                                               compare=args.compare, evaluation_samples=args.eval_samples,
                                               quality_samples=args.quality_samples))
    if destination:
        staging = rundir.staging_dir(destination)
        try:
            write_report(doc, staging)
        except BaseException:
            rundir.discard(staging, destination)
            raise
        rundir.publish(staging, destination)
        log.info("wrote quantization.md, quantization.json and the SQNR plots to %s", args.out)
    _print_result(args, doc, lambda report: render_markdown(report).rstrip("\n"))


def _cmd_sweep(args) -> None:
    from mnd.pipeline.errors import UsageError
    from mnd.pipeline.export.run import check_target

    if bool(args.dataset) == args.cost_only:
        raise UsageError("give either --dataset D (train each variant, measure accuracy) or --cost-only (random "
                         "weights: counts, sizes and speed only)")
    if args.dataset and (args.classes or args.channels):
        raise UsageError("--classes and --channels are for --cost-only; with --dataset they are the dataset's own")
    sweep_grid.check_family(args.family, args.alpha)
    part = _sweep_board(args)
    sweep_grid.check_size(args.alpha, args.resolution, args.max_variants)
    check_target(args.target, _measure_settings(args))  # before TensorFlow starts: mistakes answer at once
    _check_inputs(args, args.dataset)
    import_tensorflow_quietly()
    from mnd.pipeline.sweep.run import SweepConfig, run_sweep

    config = SweepConfig(target=args.target, alphas=args.alpha, sides=args.resolution, dataset=args.dataset,
                         epochs=args.epochs, classes=args.classes or 1000, channels=args.channels or 3,
                         seed=args.seed, flash_kb=args.flash_kb, ram_kb=args.ram_kb, measure=_measure_settings(args),
                         family=args.family, part=part)
    out = Path(args.out or f"out/sweep-{args.target}")
    doc = run_sweep(config, out, args.force, _local_paths(args.dataset, _cache_dir()))
    _emit_json(args, json.dumps(doc, indent=2) + "\n")
    log.info("wrote %s/sweep.json, report.md and report.html (%d variants)", out, len(doc["rows"]))
    log.info("next: xdg-open %s/report.html", out)


def _sweep_board(args) -> str | None:
    """--board: its core is the target and its flash and RAM the budgets (args updated); the preset's name or None."""
    from mnd.pipeline.errors import UsageError
    from mnd.targets.cortex_m.boards import resolve_board

    board, target = resolve_board(args.board, args.target)
    args.target = target or "host"
    if board is None:
        return None
    if args.flash_kb is not None or args.ram_kb is not None:
        raise UsageError(f"--board {board.name} sets the flash and RAM budgets to the {board.part}'s; drop "
                         "--flash-kb/--ram-kb, or drop --board and give --target with your own budgets")
    args.flash_kb, args.ram_kb = board.flash_bytes / 1024, board.ram_bytes / 1024
    return board.name


def _cmd_targets(args) -> None:
    from mnd.pipeline.target_list import access_given, format_rows, list_targets

    rows = list_targets(access_given(args))
    if args.json:
        _emit_json(args, json.dumps(rows, indent=2) + "\n")
        return
    print(format_rows(rows))
    ready = [row["name"] for row in rows if row["available"]]
    log.info("next: mnd export --target host   (ready here: %s)", ", ".join(ready))


def _cmd_doctor(args) -> None:
    from mnd.pipeline.doctor import diagnose, format_report

    report = diagnose()
    _print_result(args, report, format_report)
    missing = [tool["name"] for tool in report["tools"] if not tool["found"]]
    log.info("next: %s", report["install_debian"] or ("make toolchain (registers qemu-aarch64 with binfmt_misc)"
                                                      if missing else "mnd export --target host"))


def _add_quantization_flags(parser, onnx: bool = True) -> None:
    from mnd.quantize.config import CALIBRATION_METHODS, WEIGHT_SCHEMES, QuantConfig

    default = QuantConfig()
    group = parser.add_argument_group("int8 post-training quantization (TFLite and ONNX alike)")
    group.add_argument("--calib-samples", type=cli_args.calibration_count, default=default.calibration_samples,
                       help=f"calibration samples, 1 to {cli_args.MAX_CALIBRATION_SAMPLES} "
                       f"(default {default.calibration_samples})")
    group.add_argument("--weights", choices=WEIGHT_SCHEMES, default=default.weights,
                       help="int8 weight scales per output channel, or one per tensor (for accelerators and delegates "
                       "that need it; MobileNet v1 then usually needs --equalize)")
    group.add_argument("--calibration", choices=CALIBRATION_METHODS, default=default.calibration,
                       help="activation ranges: observed min/max, clipped at percentiles, or the clip with the least "
                       f"quantization error (default: {default.calibration})")
    group.add_argument("--equalize", action=argparse.BooleanOptionalAction, default=default.equalize,
                       help="cross-layer equalization of each depthwise -> pointwise pair of the float model "
                       "(exact; evens out per-channel weight ranges for per-tensor weights)")
    group.add_argument("--bias-correct", action=argparse.BooleanOptionalAction, default=default.bias_correct,
                       help="correct biases for the mean output shift int8 weights introduce, from the calibration "
                       "data (default: auto, kept where it clearly lowers the int8 error on half the calibration "
                       "data when fitted on the other half)")
    if onnx:
        group.add_argument("--onnx-reduce-range", action="store_true",
                           help="7-bit ONNX int8 weights, for ONNX Runtime on x86 CPUs without VNNI (there 8-bit "
                           "weights can saturate 16-bit sums and change predictions); costs a little accuracy")


def _quant_config(args):
    from mnd.quantize.config import QuantConfig

    return QuantConfig(calibration_samples=args.calib_samples, weights=args.weights, calibration=args.calibration,
                       equalize=args.equalize, bias_correct=args.bias_correct,
                       onnx_reduce_range=getattr(args, "onnx_reduce_range", False))


def _add_measure_flags(parser) -> None:
    parser.add_argument("--runs", type=cli_args.run_count, default=100,
                        help=f"timed runs per runtime, 1 to {cli_args.MAX_RUNS} (default 100)")
    parser.add_argument("--warmup", type=cli_args.warmup_count, default=10,
                        help=f"untimed runs first, 0 to {cli_args.MAX_WARMUP} (default 10)")
    parser.add_argument("--threads", type=cli_args.thread_counts, help="comma list of thread counts, each 1 to "
                        f"{cli_args.MAX_THREADS}, one row each for the multi-threaded runtimes (default: 1; "
                        "rpi4/rpi5/linux-arm64: 1,2,4)")
    parser.add_argument("--clock-mhz", type=cli_args.positive_real, help="emulated targets: also print instructions/clock as an "
                        "estimate (labelled so; QEMU has no timing model)")
    parser.add_argument("--kernels", choices=("auto", "portable"), default="auto",
                        help="Cortex-M targets: the core's optimized kernels where a layer fits them (auto: DSP "
                        "extension on cortex-m4/m7/m33, MVE (Helium) on cortex-m55) or the portable C99 kernels only")
    board = parser.add_argument_group("board targets (rpi4, rpi5, linux-arm64)")
    board.add_argument("--ssh", metavar="[USER@]HOST[:PORT]", type=cli_args.ssh_destination,
                       help="measure on this board over SSH (your ~/.ssh/config applies); default: emulated here")
    board.add_argument("--identity", metavar="FILE", help="SSH private key (ssh -i)")
    board.add_argument("--ssh-config", metavar="FILE", help="SSH client configuration file (ssh -F)")
    board.add_argument("--accept-new-host-key", action="store_true",
                       help="trust the board's host key on first contact (StrictHostKeyChecking=accept-new)")
    board.add_argument("--remote-python", metavar="PATH", help="the board's Python (default: ~/mnd-venv/bin/python "
                       "when it exists, else python3)")
    board.add_argument("--setup", action="store_true", help="create ~/mnd-venv on the board and install numpy, "
                       "ai-edge-litert and onnxruntime there first (says what it runs)")
    phone = parser.add_argument_group("android")
    phone.add_argument("--serial", type=cli_args.adb_serial,
                       help="the phone's adb serial (default: the only device; see 'adb devices')")
    phone.add_argument("--benchmark-model", metavar="FILE", help="LiteRT's benchmark_model for android_aarch64, "
                       "to also measure the .tflite files with LiteRT on the phone (download the nightly "
                       "'android_aarch64_benchmark_model' linked from ai.google.dev/edge/litert/models/measurement)")
    phone.add_argument("--delegate", type=cli_args.delegates, help="benchmark_model delegates, a comma list of cpu, "
                       "xnnpack, gpu, nnapi (default: xnnpack)")
    phone.add_argument("--cpu-affinity", metavar="MASK", type=cli_args.cpu_mask,
                       help="hexadecimal CPU mask for taskset on the phone, e.g. f0 for the big cores of many SoCs")


def _boards_epilog() -> str:
    from mnd.targets.cortex_m.boards import BOARDS, board_names

    return "board presets:\n" + "\n".join(f"  {BOARDS[name].describe()}" for name in board_names())


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (the fix is in `--help`), exit code 2, like every other mnd error."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mnd", description="MobileNet v1 deployment pipeline")
    parser.add_argument("--version", action="version", version=f"mnd {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _Parser(add_help=False)
    common.add_argument("--verbose", action="store_true",
                        help="also show TensorFlow's native log lines and the libraries' Python warnings")

    summary = commands.add_parser("summary", parents=[common], help="per-layer mult-adds and parameters (v1: paper Tables 1-7; v2/v3: per bottleneck)")
    summary.add_argument("--model", help="registry name such as mobilenet_v1_025_96, mobilenet_v2_140_224, "
                         "mobilenet_v3_small_075_224 (instead of --alpha/--resolution)")
    summary.add_argument("--family", choices=("v1", "v2", "v3"), help="with --grid: the published models of that "
                         "family with their published ImageNet figures; with --alpha/--resolution: v1 or v2 "
                         "(default v1, or --model's family)")
    summary.add_argument("--alpha", type=cli_args.unit_fraction, default=1.0, help="width multiplier, 0 < alpha <= 1")
    summary.add_argument("--resolution", type=cli_args.positive_int, default=224, help="input side in pixels, at least 32")
    summary.add_argument("--classes", type=cli_args.positive_int,
                         help="classifier outputs (default 1000; 1001 for --grid --family v2/v3, as published)")
    summary.add_argument("--channels", type=int, default=3, help="1 (grayscale) or 3 (RGB)")
    summary.add_argument("--activation", help="mobilenet_v1 only: relu6 (default) or relu")
    summary.add_argument("--shallow", action="store_true", help="drop the five 14x14x512 separable blocks")
    summary.add_argument("--full-conv", action="store_true", help="the paper's Conv MobileNet (Table 4)")
    summary.add_argument("--grid", action="store_true", help="v1: the 16 models alpha x {224,192,160,128}; v2: the 22 "
                         "models of the slim README; v3: its 6 models, with the V3 paper's figures")
    summary.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    summary.set_defaults(handler=_cmd_summary)

    analyze = commands.add_parser("analyze", parents=[common], help="per-layer MACs and parameters, arena, flash "
                                  "and whether an int8 .tflite fits a board, in seconds (no emulator)",
                                  epilog=_boards_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    analyze.add_argument("model", metavar="MODEL", help="an int8 or uint8 .tflite file, or an 'mnd export' run directory")
    analyze.add_argument("--board", help="a board preset (below): the arena is planned for its core, and the verdict "
                         "says whether flash and RAM fit, with the margins")
    analyze.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    analyze.set_defaults(handler=_cmd_analyze)

    train = commands.add_parser("train", parents=[common], help="train a MobileNet v1 on a built-in dataset or an image folder")
    train.add_argument("--model", required=True, help="registry name such as mobilenet_v1_025_32, mobilenet_v2_035_96 "
                       "or mobilenet_v3_small_075_96")
    train.add_argument("--dataset", required=True, help="'digits' (built in) or a folder with one sub-folder per class")
    train.add_argument("--out", required=True, help="run directory to create")
    train.add_argument("--epochs", type=cli_args.positive_int, default=30)
    train.add_argument("--batch-size", type=cli_args.positive_int, default=32)
    train.add_argument("--lr", type=cli_args.positive_real, default=2e-3, help="peak learning rate")
    train.add_argument("--seed", type=cli_args.seed, default=0)
    train.add_argument("--val-split", type=float, default=0.2, help="fraction held out for validation")
    train.add_argument("--channels", type=int, choices=(1, 3), help="default: the dataset's own (1 for digits)")
    train.add_argument("--activation", help="mobilenet_v1 only: relu6 (default) or relu")
    train.add_argument("--preprocess", default="unit", help="unit (x/255), signed (x/127.5-1) or raw")
    train.add_argument("--to-gray", action="store_true", help="convert colour images for 1-channel models")
    train.add_argument("--force", action="store_true", help="replace an existing --out")
    train.add_argument("--json", action="store_true", help="print the manifest (one JSON document) on stdout; logs stay on stderr")
    train.set_defaults(handler=_cmd_train)

    export = commands.add_parser("export", parents=[common], help="int8 PTQ, TFLite/ONNX/C-array export, validation, measurement")
    export.add_argument("--target", help="where to measure (see 'mnd targets'; default: host, or --board's core)")
    export.add_argument("--board", help="a board preset such as nucleo-l4r5zi (see 'mnd targets'): measures on its "
                        "core and says whether the firmware fits the part's flash and RAM")
    export.add_argument("--model", help="registry name, .keras file or 'mnd train' run directory "
                        "(default: mobilenet_v1_025_32 trained on digits, cached)")
    export.add_argument("--calib", help="calibration data: built-in name or image folder (default: the training set)")
    export.add_argument("--eval", help="evaluation data, disjoint from --calib (default: held-out part; "
                        "the same data as --calib is split in half, shared images are refused)")
    export.add_argument("--eval-samples", type=cli_args.evaluation_count,
                        help=f"evaluate on at most N samples, 1 to {cli_args.MAX_EVALUATION_SAMPLES} (default: all)")
    export.add_argument("--out", help="run directory to create (default out/<model>-<target>)")
    export.add_argument("--force", action="store_true", help="replace an existing --out")
    export.add_argument("--max-drop", type=cli_args.non_negative_real, default=2.0, help="allowed int8 accuracy drop, in points")
    export.add_argument("--allow-drift", action="store_true", help="record failed validations instead of stopping")
    export.add_argument("--train-epochs", type=cli_args.non_negative_int, default=30,
                        help="epochs when --model is a registry name or omitted (0: untrained; such a model rarely quantizes sensibly)")
    export.add_argument("--seed", type=cli_args.seed, default=0, help="training seed for a registry-name model")
    export.add_argument("--formats", type=cli_args.export_formats, default=ALL_FORMATS, metavar="LIST",
                        help=FORMATS_HELP)
    export.add_argument("--requantize-int8", action="store_true",
                        help="uint8 .tflite only: lossy conversion to int8 so TFLite-Micro can run it")
    _add_quantization_flags(export)
    _add_preprocessing_flags(export)
    _add_measure_flags(export)
    export.add_argument("--json", action="store_true", help="print the manifest (one JSON document) on stdout; logs stay on stderr")
    export.set_defaults(handler=_cmd_export)

    evaluate = commands.add_parser("evaluate", parents=[common], help="top-1/top-5 accuracy of a model on a dataset, with a 95%% interval")
    evaluate.add_argument("--model", required=True, help="registry name, run directory, .keras/.h5/.tflite file, "
                          "or SavedModel directory")
    evaluate.add_argument("--data", required=True, help="image folder, y_labels.csv + .bin, labels.csv, or 'digits'")
    evaluate.add_argument("--runtime", choices=("litert", "litert-ref"), default="litert",
                          help=".tflite models: LiteRT default kernels or reference kernels")
    evaluate.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    _add_preprocessing_flags(evaluate)
    evaluate.set_defaults(handler=_cmd_evaluate)

    measure = commands.add_parser("measure", parents=[common], help="re-measure an exported run without re-exporting",
                                  description="Re-measure an exported run on a target. Each new row replaces the "
                                  "earlier row with the same target, runtime, artifact and thread count; every "
                                  "other row stays (with --eval DATA, earlier rows are dropped: other data).")
    measure.add_argument("run_dir", metavar="RUN", help="an out/RUN directory from 'mnd export'")
    measure.add_argument("--target", default="host")
    measure.add_argument("--eval", metavar="DATA", help="evaluate on DATA instead of the data the export recorded "
                         "(which is read only while it matches the fingerprint taken at export)")
    _add_measure_flags(measure)
    measure.add_argument("--json", action="store_true", help="print the manifest (one JSON document) on stdout; logs stay on stderr")
    measure.set_defaults(handler=_cmd_measure)

    report = commands.add_parser("report", parents=[common], help="re-render a run's report.md and report.html, "
                                 "or compare several runs in one report")
    report.add_argument("runs", nargs="+", metavar="RUN", help="out/RUN directories from 'mnd export'")
    report.add_argument("--out", help="with several RUNs: the folder to create for the comparison report")
    report.add_argument("--force", action="store_true", help="replace an existing --out (an earlier mnd run "
                        "directory or an empty one)")
    report.set_defaults(handler=_cmd_report)

    quality = commands.add_parser("quantize-report", parents=[common], help="int8 top-1 and per-layer quantization "
                                  "error (SQNR) of a float model under PTQ settings, or --compare four of them")
    quality.add_argument("--model", help="registry name, .keras/.h5 file, SavedModel or 'mnd train' run directory "
                         "(default: mobilenet_v1_025_32 trained on digits, cached)")
    quality.add_argument("--calib", help="calibration data: built-in name or image folder (default: the training set)")
    quality.add_argument("--eval", help="evaluation data, disjoint from --calib (default: held-out part; "
                         "the same data as --calib is split in half, shared images are refused)")
    quality.add_argument("--eval-samples", type=cli_args.evaluation_count,
                         help=f"evaluate on at most N samples, 1 to {cli_args.MAX_EVALUATION_SAMPLES}")
    quality.add_argument("--quality-samples", type=cli_args.positive_int, default=50,
                         help="evaluation samples through the per-layer check (default 50)")
    quality.add_argument("--compare", action="store_true", help="per-channel, per-tensor, per-tensor + equalize and "
                         "per-tensor + equalize + bias-correct side by side (instead of --weights, --equalize and "
                         "--bias-correct; --calibration still applies)")
    quality.add_argument("--train-epochs", type=cli_args.non_negative_int, default=30,
                         help="epochs when --model is a registry name or omitted")
    quality.add_argument("--seed", type=cli_args.seed, default=0, help="training seed for a registry-name model")
    quality.add_argument("--out", help="folder to create for quantization.md, quantization.json and the plots")
    quality.add_argument("--force", action="store_true", help="replace an existing --out")
    _add_quantization_flags(quality, onnx=False)
    _add_preprocessing_flags(quality)
    quality.add_argument("--json", action="store_true", help="print the report (one JSON document) on stdout")
    quality.set_defaults(handler=_cmd_quantize_report)

    sweep = commands.add_parser("sweep", parents=[common], help="the alpha x resolution trade-off (paper Figures 4 "
                                "and 5) measured on a target: sweep.json, report.md, report.html")
    sweep.add_argument("--target", help="where to measure (see 'mnd targets'; default: host, or --board's core)")
    sweep.add_argument("--board", help="a board preset (see 'mnd targets'): its core, with its flash and RAM as the "
                       "budgets")
    sweep.add_argument("--family", choices=sweep_grid.FAMILIES, default="v1",
                       help="architecture of every variant: mobilenet_v1 (default), v2, v3_small or v3_large")
    sweep.add_argument("--alpha", type=sweep_grid.alpha_list, default=sweep_grid.alpha_list(sweep_grid.DEFAULT_ALPHAS),
                       help=f"comma list of width multipliers (default {sweep_grid.DEFAULT_ALPHAS})")
    sweep.add_argument("--resolution", type=sweep_grid.side_list,
                       default=sweep_grid.side_list(sweep_grid.DEFAULT_SIDES),
                       help=f"comma list of input sides, each at least 32 (default {sweep_grid.DEFAULT_SIDES})")
    sweep.add_argument("--dataset", help="train each variant on 'digits' or an image folder; float and int8 accuracy")
    sweep.add_argument("--epochs", type=cli_args.positive_int, default=10,
                       help="training epochs per variant (--dataset)")
    sweep.add_argument("--cost-only", action="store_true", help="random weights, no training: mult-adds, parameters, "
                       "sizes and speed only (an int8 TFLite model per variant, no ONNX or TFLite-Micro artifacts)")
    sweep.add_argument("--classes", type=cli_args.positive_int, help="--cost-only: classifier outputs (default 1000)")
    sweep.add_argument("--channels", type=int, choices=(1, 3), help="--cost-only: input channels (default 3)")
    sweep.add_argument("--flash-kb", type=cli_args.positive_real,
                       help="flash budget in KiB: variants over it are marked not fitting")
    sweep.add_argument("--ram-kb", type=cli_args.positive_real,
                       help="RAM budget in KiB: variants over it are marked not fitting")
    sweep.add_argument("--seed", type=cli_args.seed, default=0, help="weights (--cost-only) or training seed")
    sweep.add_argument("--max-variants", type=cli_args.positive_int, metavar="N",
                       help=f"run grids of up to N variants (default {sweep_grid.MAX_VARIANTS}: a larger alpha x "
                       "resolution grid is refused)")
    sweep.add_argument("--out", help="sweep folder (default out/sweep-<target>); the same command again resumes it")
    sweep.add_argument("--force", action="store_true", help="discard an earlier sweep in --out and start over")
    _add_measure_flags(sweep)
    sweep.add_argument("--json", action="store_true", help="print sweep.json on stdout; logs stay on stderr")
    sweep.set_defaults(handler=_cmd_sweep)

    targets = commands.add_parser("targets", parents=[common],
                                  help="registered targets, what they need, whether ready here (tools and device)")
    targets.add_argument("--json", action="store_true")
    targets.add_argument("--serial", type=cli_args.adb_serial, help="android: check this phone (default: the only one)")
    targets.add_argument("--ssh", metavar="[USER@]HOST[:PORT]", type=cli_args.ssh_destination,
                         help="rpi4, rpi5, linux-arm64: check this board by logging in (default: the emulated board)")
    targets.add_argument("--identity", metavar="FILE", help="with --ssh: SSH private key (ssh -i)")
    targets.add_argument("--ssh-config", metavar="FILE", help="with --ssh: SSH client configuration file (ssh -F)")
    targets.set_defaults(handler=_cmd_targets)

    doctor = commands.add_parser("doctor", parents=[common], help="tools and package versions found, what is missing and how to install")
    doctor.add_argument("--json", action="store_true")
    doctor.set_defaults(handler=_cmd_doctor)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose)
    interrupts.install()
    try:
        if getattr(args, "json", False):
            disable_bars()
            with stdout_reserved() as args.json_stream:
                args.handler(args)
        else:
            args.handler(args)
    except MndError as error:
        if interrupts.received() and not isinstance(error, Interrupted):  # a child process died of the same signal
            error = Interrupted(f"interrupted by {signal.Signals(interrupts.received()).name}")
        print(f"mnd: error: {visible(str(error))}", file=sys.stderr)  # one line, whatever names it quotes
        return error.exit_code
    except KeyboardInterrupt:
        name = signal.Signals(interrupts.received() or signal.SIGINT).name
        print(f"mnd: error: interrupted by {name}", file=sys.stderr)
        return interrupts.exit_code()
    except Exception as error:  # a disk full or a read-only folder, wherever a write was refused
        refused = refused_write(error)
        if refused is None:
            raise
        print(f"mnd: error: {refused}", file=sys.stderr)
        return refused.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
