"""`mnd`'s argument parser: every subcommand, its flags and their help, each mapped to its handler
(pipeline/commands/)."""
import argparse

from mnd.pipeline import __version__, cli_args
from mnd.pipeline.commands.environment import cmd_doctor, cmd_targets
from mnd.pipeline.commands.exports import cmd_evaluate, cmd_export, cmd_measure, cmd_quantize_report, cmd_report
from mnd.pipeline.commands.models import cmd_analyze, cmd_summary, cmd_train
from mnd.pipeline.commands.sweeps import cmd_sweep
from mnd.pipeline.export.formats import ALL_FORMATS, FORMATS_HELP
from mnd.pipeline.sweep import grid as sweep_grid


def _add_data_flags(parser) -> None:
    """--calib, --eval and --eval-samples, as export and quantize-report read them."""
    parser.add_argument("--calib", help="calibration data: built-in name or image folder (default: the training set)")
    parser.add_argument("--eval", help="evaluation data, disjoint from --calib (default: held-out part; "
                        "the same data as --calib is split in half, shared images are refused)")
    parser.add_argument("--eval-samples", type=cli_args.evaluation_count,
                        help=f"evaluate on at most N samples, 1 to {cli_args.MAX_EVALUATION_SAMPLES} (default: all)")


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


def _add_measure_flags(parser) -> None:
    parser.add_argument("--runs", type=cli_args.run_count, default=100,
                        help=f"timed runs per runtime, 1 to {cli_args.MAX_RUNS} (default 100)")
    parser.add_argument("--warmup", type=cli_args.warmup_count, default=10,
                        help=f"untimed runs first, 0 to {cli_args.MAX_WARMUP} (default 10)")
    parser.add_argument("--threads", type=cli_args.thread_counts, help="comma list of thread counts, each 1 to "
                        f"{cli_args.MAX_THREADS}, one row each for the multi-threaded runtimes (default: 1; "
                        "rpi4/rpi5/linux-arm64: 1,2,4)")
    parser.add_argument("--clock-mhz", type=cli_args.positive_real, help="emulated targets: also print the estimated "
                        "cycles / clock in milliseconds (labelled an estimate; QEMU has no timing model)")
    parser.add_argument("--flash-wait-states", type=cli_args.flash_wait_states, default=0, metavar="N",
                        help="Cortex-M targets: add N cycles per 32-bit code fetch from flash to the cycle estimate "
                        "(default 0: zero wait states)")
    parser.add_argument("--kernels", choices=("auto", "portable"), default="auto",
                        help="Cortex-M targets: the core's optimized kernels where a layer fits them (auto: DSP "
                        "extension on cortex-m4/m7/m33, MVE (Helium) on cortex-m55) or the portable C99 kernels only")
    parser.add_argument("--tflm-source", metavar="DIR", help="Cortex-M targets: a tflite-micro checkout (CMSIS-NN "
                        "beside it as ../CMSIS-NN); also measure the export's TFLite-Micro C arrays with TFLM + "
                        "CMSIS-NN (runtime tflm-cmsis-nn) beside mnd-c (default: $MND_TFLM_SOURCE)")
    parser.add_argument("--tflm-runtimes", metavar="LIST", type=cli_args.tflm_runtimes, default=("tflm-cmsis-nn",),
                        help="with --tflm-source: which TFLM builds to measure, a comma list of tflm-cmsis-nn (TFLM + "
                        "CMSIS-NN) and tflm-reference (TFLM's portable reference kernels), or all (default: "
                        "tflm-cmsis-nn)")
    probe = parser.add_argument_group("Cortex-M boards (cortex-m4, cortex-m7, cortex-m33, cortex-m55)")
    probe.add_argument("--probe", metavar="gdb://HOST:PORT", type=cli_args.probe_address,
                       help="run the firmware on the --board's board through this GDB server (OpenOCD, pyOCD, "
                       "J-Link) with gdb-multiarch, linked for the preset's flash and RAM: cycles from its DWT "
                       "counter, milliseconds at the preset's clock; without --board, linked for QEMU's map of the "
                       "core (for QEMU's own gdbstub, -s -S)")
    probe.add_argument("--probe-reset", metavar="'monitor ...'", type=cli_args.probe_reset,
                       help="with --probe: the GDB server's command that resets and halts the board, sent before "
                       "the firmware is loaded (OpenOCD and pyOCD: 'monitor reset halt'; J-Link: 'monitor reset'); "
                       "default: none, the harness takes over the stack, VTOR and interrupts itself")
    board = parser.add_argument_group("board targets (rpi4, rpi5, linux-arm64)")
    board.add_argument("--ssh", metavar="[USER@]HOST[:PORT]", type=cli_args.ssh_destination, action="append",
                       help="measure on this board over SSH (your ~/.ssh/config applies); default: emulated here. "
                       "Give it more than once to spread the measurement over several boards (one runtime and "
                       "artifact per board at a time, each row naming its board; a board that drops out is "
                       "reported and its work moves to another)")
    board.add_argument("--identity", metavar="FILE", help="SSH private key (ssh -i)")
    board.add_argument("--ssh-config", metavar="FILE", help="SSH client configuration file (ssh -F)")
    board.add_argument("--accept-new-host-key", action="store_true",
                       help="trust the board's host key on first contact (StrictHostKeyChecking=accept-new)")
    board.add_argument("--remote-python", metavar="PATH", help="the board's Python (default: ~/mnd-venv/bin/python "
                       "when it exists, else python3)")
    board.add_argument("--setup", action="store_true", help="create ~/mnd-venv on the board and install numpy, "
                       "ai-edge-litert and onnxruntime there first (says what it runs)")
    phone = parser.add_argument_group("android")
    phone.add_argument("--serial", type=cli_args.adb_serial, action="append",
                       help="the phone's adb serial (default: the only device; see 'adb devices'). Give it more "
                       "than once to spread the measurement over several phones (mnd-c and each benchmark_model run "
                       "on one phone at a time, each row naming its phone; a phone that drops out is reported and its "
                       "work moves to another)")
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
    summary.set_defaults(handler=cmd_summary)

    analyze = commands.add_parser("analyze", parents=[common], help="per-layer MACs and parameters, arena, flash "
                                  "and whether an int8 .tflite fits a board, in seconds (no emulator)",
                                  epilog=_boards_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    analyze.add_argument("model", metavar="MODEL", help="an int8 or uint8 .tflite file, or an 'mnd export' run directory")
    analyze.add_argument("--board", help="a board preset (below): the arena is planned for its core, and the verdict "
                         "says whether flash and RAM fit, with the margins")
    analyze.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    analyze.set_defaults(handler=cmd_analyze)

    train = commands.add_parser("train", parents=[common], help="train a MobileNet v1 on a built-in dataset or an image folder",
                                epilog="Distributed: global batch = --batch-size x replicas; peak learning rate = --lr "
                                "x replicas (linear scaling, Goyal et al. 2017, made safe by the warm-up). Each epoch "
                                "writes a checkpoint; model.keras holds the best validation accuracy's epoch. "
                                "See docs/TRAINING.md.")
    train.add_argument("--model", help="registry name such as mobilenet_v1_025_32, mobilenet_v2_035_96 "
                       "or mobilenet_v3_small_075_96 (required unless --resume)")
    train.add_argument("--dataset", help="'digits' (built in, in memory), a folder with one sub-folder per class or a "
                       "y_labels.csv / labels.csv dataset (decoded once into a cache under MND_CACHE and streamed "
                       "from it; required unless --resume)")
    train.add_argument("--out", help="run directory to create (required unless --resume)")
    train.add_argument("--epochs", type=cli_args.positive_int, default=30)
    train.add_argument("--batch-size", type=cli_args.positive_int, default=32, help="per replica: the global batch is "
                       "--batch-size x the replicas in sync (all workers' devices)")
    train.add_argument("--lr", type=cli_args.positive_real, default=2e-3, help="peak learning rate for one replica; "
                       "with n replicas training uses n x --lr (linear scaling rule, after the warm-up)")
    train.add_argument("--seed", type=cli_args.seed, default=0)
    train.add_argument("--val-split", type=float, default=0.2, help="fraction held out for validation")
    train.add_argument("--channels", type=int, choices=(1, 3), help="default: the dataset's own (1 for digits)")
    train.add_argument("--activation", help="mobilenet_v1 only: relu6 (default) or relu")
    train.add_argument("--preprocess", help="unit (x/255), signed (x/127.5-1) or raw (default: unit; signed with --init)")
    train.add_argument("--init", default="none", help="starting weights: none (from scratch), imagenet (Keras "
                       "Applications' for the family and alpha, downloaded once) or a file (*_no_top.h5, .keras)")
    train.add_argument("--frozen-epochs", type=cli_args.non_negative_int, help="with --init: epochs training the new "
                       "head with the backbone frozen, of --epochs in all (default max(1, epochs // 3)); the rest "
                       "train everything but the backbone's batch norm at --fine-tune-lr-factor x --lr")
    train.add_argument("--fine-tune-lr-factor", type=cli_args.positive_real, help="with --init: the second phase's "
                       "peak learning rate as a fraction of --lr (default 0.01, following Keras' fine-tuning guide)")
    train.add_argument("--augment", default="shift", help="training augmentation, a comma list of shift (translate "
                       "up to 8%% of the side), crop (random resized crop), flip (horizontal), color (brightness and "
                       "contrast); or none (default: shift)")
    train.add_argument("--class-weights", default="none", choices=("none", "balanced"), help="weigh each example's "
                       "loss by its class: balanced = n / (classes x count of the class) in the training split")
    train.add_argument("--to-gray", action="store_true", help="convert colour images for 1-channel models")
    train.add_argument("--strategy", choices=("default", "mirrored", "multi-worker"), default="default",
                       help="default: one device; mirrored: every local GPU (MirroredStrategy); multi-worker: "
                       "several machines (MultiWorkerMirroredStrategy; the cluster from TF_CONFIG or --workers)")
    train.add_argument("--workers", metavar="HOST:PORT,...", help="with --strategy multi-worker: every worker's "
                       "address, the same list on each machine (builds TF_CONFIG; replaces one set in the environment)")
    train.add_argument("--task-index", type=cli_args.non_negative_int, metavar="I",
                       help="with --workers: this machine's position in the list, from 0 (0 is the chief, which "
                       "writes the checkpoints)")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its last checkpoint with "
                       "the options its manifest recorded (--strategy, --workers, --task-index choose where)")
    train.add_argument("--force", action="store_true", help="replace an existing --out")
    train.add_argument("--json", action="store_true", help="print the manifest (one JSON document) on stdout; logs stay on stderr")
    train.set_defaults(handler=cmd_train)

    export = commands.add_parser("export", parents=[common], help="int8 PTQ, TFLite/ONNX/C-array export, validation, measurement")
    export.add_argument("--target", help="where to measure (see 'mnd targets'; default: host, or --board's core)")
    export.add_argument("--board", help="a board preset such as nucleo-l4r5zi (see 'mnd targets'): measures on its "
                        "core and says whether the firmware fits the part's flash and RAM")
    export.add_argument("--model", help="registry name, .keras file or 'mnd train' run directory "
                        "(default: mobilenet_v1_025_32 trained on digits, cached)")
    _add_data_flags(export)
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
    export.set_defaults(handler=cmd_export)

    evaluate = commands.add_parser("evaluate", parents=[common], help="top-1/top-5 accuracy of a model on a dataset, with a 95%% interval")
    evaluate.add_argument("--model", required=True, help="registry name, run directory, .keras/.h5/.tflite file, "
                          "or SavedModel directory")
    evaluate.add_argument("--data", required=True, help="image folder, y_labels.csv + .bin, labels.csv, or 'digits'")
    evaluate.add_argument("--runtime", choices=("litert", "litert-ref"), default="litert",
                          help=".tflite models: LiteRT default kernels or reference kernels")
    evaluate.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    _add_preprocessing_flags(evaluate)
    evaluate.set_defaults(handler=cmd_evaluate)

    measure = commands.add_parser("measure", parents=[common], help="re-measure an exported run without re-exporting",
                                  description="Re-measure an exported run on a target. Each new row replaces the "
                                  "earlier row with the same target, runtime, artifact and thread count; every "
                                  "other row stays (with --eval DATA, earlier rows are dropped: other data).")
    measure.add_argument("run_dir", metavar="RUN", help="an out/RUN directory from 'mnd export'")
    measure.add_argument("--target", help="where to measure (see 'mnd targets'; default: host, or --board's core)")
    measure.add_argument("--board", help="a board preset (see 'mnd targets'): measures on its core and says whether "
                         "the firmware fits the part; with --probe, the board the probe is attached to")
    measure.add_argument("--eval", metavar="DATA", help="evaluate on DATA instead of the data the export recorded "
                         "(which is read only while it matches the fingerprint taken at export)")
    _add_measure_flags(measure)
    measure.add_argument("--json", action="store_true", help="print the manifest (one JSON document) on stdout; logs stay on stderr")
    measure.set_defaults(handler=cmd_measure)

    report = commands.add_parser("report", parents=[common], help="re-render a run's report.md and report.html, "
                                 "or compare several runs in one report")
    report.add_argument("runs", nargs="+", metavar="RUN", help="out/RUN directories from 'mnd export'")
    report.add_argument("--out", help="with several RUNs: the folder to create for the comparison report")
    report.add_argument("--force", action="store_true", help="replace an existing --out (an earlier mnd run "
                        "directory or an empty one)")
    report.set_defaults(handler=cmd_report)

    quality = commands.add_parser("quantize-report", parents=[common], help="int8 top-1 and per-layer quantization "
                                  "error (SQNR) of a float model under PTQ settings, or --compare four of them")
    quality.add_argument("--model", help="registry name, .keras/.h5 file, SavedModel or 'mnd train' run directory "
                         "(default: mobilenet_v1_025_32 trained on digits, cached)")
    _add_data_flags(quality)
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
    quality.set_defaults(handler=cmd_quantize_report)

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
    sweep.add_argument("--executor", choices=("local", "ray"), default="local",
                       help="what runs the variants: local (this machine, --jobs processes) or ray (each variant a "
                            "Ray task: a local Ray started for the run, or --address's cluster; needs "
                            "pip install 'mobilenet-deploy[ray]'). Default local")
    sweep.add_argument("--jobs", type=cli_args.positive_int, metavar="N",
                       help="variants run at once (default: every CPU this process may use for a Cortex-M target "
                            "emulated here, whose instruction counts do not change under load; 1 for targets that "
                            "time latencies or use a board). --executor ray: the CPUs of the local Ray it starts, or "
                            "the tasks in flight on --address's cluster (default: its CPUs)")
    sweep.add_argument("--address", help="--executor ray: the cluster, 'auto' (the one `ray start` runs on this "
                                         "machine) or ray://HOST:PORT; default: a local Ray started for the run")
    _add_measure_flags(sweep)
    sweep.add_argument("--json", action="store_true", help="print sweep.json on stdout; logs stay on stderr")
    sweep.set_defaults(handler=cmd_sweep)

    targets = commands.add_parser("targets", parents=[common],
                                  help="registered targets, what they need, whether ready here (tools and device)")
    targets.add_argument("--json", action="store_true")
    targets.add_argument("--serial", type=cli_args.adb_serial, help="android: check this phone (default: the only one)")
    targets.add_argument("--ssh", metavar="[USER@]HOST[:PORT]", type=cli_args.ssh_destination,
                         help="rpi4, rpi5, linux-arm64: check this board by logging in (default: the emulated board)")
    targets.add_argument("--identity", metavar="FILE", help="with --ssh: SSH private key (ssh -i)")
    targets.add_argument("--ssh-config", metavar="FILE", help="with --ssh: SSH client configuration file (ssh -F)")
    targets.set_defaults(handler=cmd_targets)

    doctor = commands.add_parser("doctor", parents=[common], help="tools and package versions found, what is missing and how to install")
    doctor.add_argument("--json", action="store_true")
    doctor.set_defaults(handler=cmd_doctor)
    return parser

