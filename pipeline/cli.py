"""`mnd` command line: parses flags and environment, then calls pipeline stages."""
import argparse
import json
import logging
import os
import sys
from pathlib import Path

from pipeline import __version__
from pipeline.errors import MndError

log = logging.getLogger("mnd")


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("mnd: %(message)s"))
    logging.getLogger("mnd").handlers[:] = [handler]
    logging.getLogger("mnd").setLevel(logging.INFO)
    logging.captureWarnings(True)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _cmd_summary(args) -> None:
    from pipeline.architecture import ModelSpec, parse_model_name
    from pipeline.summary import format_grid, format_table, grid, summarize

    if args.grid:
        rows = grid(classes=args.classes, channels=args.channels)
        print(json.dumps(rows, indent=2) if args.json else format_grid(rows))
        return
    fields = dict(classes=args.classes, channels=args.channels, activation=args.activation, full_conv=args.full_conv)
    if args.model:
        spec = parse_model_name(args.model, **fields)
        if args.shallow:
            spec = ModelSpec(**{**spec.__dict__, "shallow": True})
    else:
        spec = ModelSpec(alpha=args.alpha, side=args.resolution, shallow=args.shallow, **fields)
    doc = summarize(spec)
    print(json.dumps(doc, indent=2) if args.json else format_table(doc))
    log.info("next: mnd train --model %s --dataset digits --out runs/%s", spec.name, spec.name)


def _cmd_train(args) -> None:
    from pipeline.progress import EpochBar
    from pipeline.stages import run_training
    from pipeline.train import TrainConfig

    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr, seed=args.seed)
    manifest = run_training(args.model, args.dataset, Path(args.out), config, val_split=args.val_split,
                            channels=args.channels, activation=args.activation, preprocess=args.preprocess,
                            force=args.force, progress=EpochBar)
    log.info("final validation accuracy %.2f%% after %d epochs (%d validation images); run saved to %s",
             100 * manifest["val_accuracy"], manifest["epochs_completed"],
             manifest["dataset"]["val_samples"], args.out)
    log.info("next: mnd export --model %s --target host", args.out)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mnd", description="MobileNet v1 deployment pipeline")
    parser.add_argument("--version", action="version", version=f"mnd {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    summary = commands.add_parser("summary", help="per-layer mult-adds and parameters (paper Tables 1-7)")
    summary.add_argument("--model", help="registry name such as mobilenet_v1_025_96 (instead of --alpha/--resolution)")
    summary.add_argument("--alpha", type=float, default=1.0, help="width multiplier, 0 < alpha <= 1")
    summary.add_argument("--resolution", type=int, default=224, help="input side in pixels, at least 32")
    summary.add_argument("--classes", type=int, default=1000)
    summary.add_argument("--channels", type=int, default=3, help="1 (grayscale) or 3 (RGB)")
    summary.add_argument("--activation", default="relu6")
    summary.add_argument("--shallow", action="store_true", help="drop the five 14x14x512 separable blocks")
    summary.add_argument("--full-conv", action="store_true", help="the paper's Conv MobileNet (Table 4)")
    summary.add_argument("--grid", action="store_true", help="the 16 models alpha x {224,192,160,128}")
    summary.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    summary.set_defaults(run=_cmd_summary)

    train = commands.add_parser("train", help="train a MobileNet v1 on a built-in dataset or an image folder")
    train.add_argument("--model", required=True, help="registry name such as mobilenet_v1_025_32")
    train.add_argument("--dataset", required=True, help="'digits' (built in) or a folder with one sub-folder per class")
    train.add_argument("--out", required=True, help="run directory to create")
    train.add_argument("--epochs", type=_positive_int, default=30)
    train.add_argument("--batch-size", type=_positive_int, default=32)
    train.add_argument("--lr", type=float, default=2e-3, help="peak learning rate")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--val-split", type=float, default=0.2, help="fraction held out for validation")
    train.add_argument("--channels", type=int, choices=(1, 3), help="default: the dataset's own (1 for digits)")
    train.add_argument("--activation", default="relu6")
    train.add_argument("--preprocess", default="unit", help="unit (x/255), signed (x/127.5-1) or raw")
    train.add_argument("--force", action="store_true", help="replace an existing --out")
    train.set_defaults(run=_cmd_train)
    return parser


def main(argv=None) -> int:
    _configure_logging()
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except MndError as error:
        print(f"mnd: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("mnd: error: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
