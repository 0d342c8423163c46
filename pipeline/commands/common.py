"""What several commands share: --json output, the cache folder, the measurement settings and the
inputs' cheap checks before TensorFlow starts."""
import json
from pathlib import Path


def print_result(args, doc, formatter) -> None:
    if args.json:
        emit_json(args, json.dumps(doc, indent=2) + "\n")
    else:
        print(formatter(doc))


def emit_json(args, document: str) -> None:
    """With --json, the one document stdout carries (for train, export and measure: the manifest as written)."""
    if getattr(args, "json", False):
        args.json_stream.write(document)


def measure_settings(args):
    from mnd.base.errors import UsageError
    from mnd.targets.base import BoardAccess, MeasureSettings

    if args.probe_reset and not args.probe:
        raise UsageError("--probe-reset is for a board behind --probe gdb://HOST:PORT; give --probe or drop "
                         "--probe-reset")
    boards = tuple(dict.fromkeys(args.ssh or ()))  # --ssh given more than once: several boards, each once
    phones = tuple(dict.fromkeys(args.serial or ()))  # --serial given more than once: several phones, each once
    board = BoardAccess(ssh=boards[0] if boards else None, ssh_boards=boards if len(boards) > 1 else (),
                        identity=args.identity and Path(args.identity).resolve(),
                        ssh_config=args.ssh_config and Path(args.ssh_config).resolve(),
                        accept_new_host_key=args.accept_new_host_key, remote_python=args.remote_python,
                        setup=args.setup, serial=phones[0] if phones else None,
                        serials=phones if len(phones) > 1 else (),
                        benchmark_model=args.benchmark_model and Path(args.benchmark_model).resolve(),
                        delegates=args.delegate or (), cpu_affinity=args.cpu_affinity, probe=args.probe,
                        probe_reset=args.probe_reset)
    return MeasureSettings(warmup=args.warmup, runs=args.runs, threads=args.threads, clock_mhz=args.clock_mhz,
                           kernels=args.kernels, flash_wait_states=args.flash_wait_states,
                           tflm_source=args.tflm_source, tflm_runtimes=args.tflm_runtimes, board=board,
                           board_preset=getattr(args, "board", None))


def check_inputs(args, *datasets) -> None:
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


def local_paths(*candidates) -> list:
    """The arguments that name existing files or folders: inputs that --out must stay clear of."""
    return [Path(c) for c in candidates if c and Path(c).exists()]


def prep_overrides(args) -> dict:
    overrides = {"mode": args.preprocess, "crop_fraction": args.crop, "resize": args.resize,
                 "to_gray": True if args.to_gray else None}
    return {key: value for key, value in overrides.items() if value is not None}


def quant_config(args):
    from mnd.quantize.config import QuantConfig

    return QuantConfig(calibration_samples=args.calib_samples, weights=args.weights, calibration=args.calibration,
                       equalize=args.equalize, bias_correct=args.bias_correct,
                       onnx_reduce_range=getattr(args, "onnx_reduce_range", False))

