"""`mnd summary`, `mnd analyze`, `mnd train`."""
import json
import logging
from pathlib import Path

from mnd.base.cache_folder import cache_dir
from mnd.base.quiet import import_tensorflow_quietly
from mnd.pipeline.commands.common import check_inputs, emit_json, local_paths, print_result

log = logging.getLogger("mnd")


def cmd_summary(args) -> None:
    from mnd.pipeline.model import inverted_residual_summary, summary
    from mnd.pipeline.model.inverted_residual import InvertedResidualSpec

    if args.grid:
        if (args.family or "v1") == "v1":
            print_result(args, summary.grid(classes=args.classes or 1000, channels=args.channels), summary.format_grid)
        else:
            classes = args.classes or inverted_residual_summary.PUBLISHED_CLASSES
            rows = inverted_residual_summary.grid(args.family, classes, args.channels)
            print_result(args, rows, inverted_residual_summary.format_grid)
        return
    from mnd.pipeline.model.registry import spec_from_options

    spec = spec_from_options(args.model, args.family, alpha=args.alpha, side=args.resolution,
                             classes=args.classes or 1000, channels=args.channels, activation=args.activation,
                             shallow=args.shallow, full_conv=args.full_conv)
    if isinstance(spec, InvertedResidualSpec):
        print_result(args, inverted_residual_summary.summarize(spec), inverted_residual_summary.format_table)
    else:
        print_result(args, summary.summarize(spec), summary.format_table)
    log.info("next: mnd train --model %s --dataset digits --out runs/%s", spec.name, spec.name)


def cmd_analyze(args) -> None:
    from mnd.pipeline.analyze.render import format_analysis
    from mnd.pipeline.analyze.run import analyze
    from mnd.targets.cortex_m.boards import resolve_board

    board, _ = resolve_board(args.board, None)
    doc = analyze(args.model, board)
    print_result(args, doc, format_analysis)
    log.info("next: mnd export --model %s --board %s   (measures it on the emulated core)", args.model,
             args.board or "NAME")


def cmd_train(args) -> None:
    from mnd.base.errors import UsageError
    from mnd.pipeline import rundir
    from mnd.pipeline.training import strategies
    from mnd.pipeline.training.augment import parse_options

    cluster = strategies.cluster_from_options(args.strategy, args.workers, args.task_index)
    augmentation = parse_options(args.augment)
    if args.resume is not None:
        from mnd.pipeline.training.resume import interrupted_run

        if any(value is not None for value in (args.model, args.dataset, args.out)):
            raise UsageError("--resume takes the model, dataset and run directory from the run's manifest; "
                             "drop --model, --dataset and --out")
        interrupted_run(Path(args.resume))  # refused at once, before TensorFlow starts
    else:
        destination = _checked_new_run(args, rundir)
    import_tensorflow_quietly()
    distribution = _distribution(args.strategy, cluster)  # before any other TensorFlow op
    from mnd.base.progress import EpochBar

    if args.resume is not None:
        from mnd.pipeline.training.resume import resume_training

        manifest = resume_training(Path(args.resume), distribution, cache_dir(), progress=EpochBar)
        out = args.resume
    else:
        from mnd.pipeline.training.fit import TrainConfig
        from mnd.pipeline.training.run import run_training

        factor = {} if args.fine_tune_lr_factor is None else {"fine_tune_lr_factor": args.fine_tune_lr_factor}
        config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr, seed=args.seed,
                             frozen_epochs=args.frozen_epochs, augment=augmentation,
                             class_weights=args.class_weights, **factor)
        manifest = run_training(args.model, args.dataset, destination, config, cache_root=cache_dir(),
                                val_split=args.val_split,
                                channels=args.channels, activation=args.activation, preprocess=args.preprocess,
                                to_gray=args.to_gray, progress=EpochBar, init=args.init, distribution=distribution)
        out = args.out
    from mnd.pipeline.report.intervals import accuracy_interval

    emit_json(args, json.dumps(manifest, indent=2) + "\n")
    validation_samples = manifest["dataset"]["val_samples"]
    log.info("best validation accuracy %s (95%% interval) at epoch %d of %d, kept in model.keras (%d validation "
             "images; last epoch %s); run saved to %s", accuracy_interval(manifest["val_accuracy"], validation_samples),
             manifest["best_epoch"], manifest["epochs_completed"], validation_samples,
             accuracy_interval(manifest["last_val_accuracy"], validation_samples), out)
    log.info("next: mnd export --model %s --target host", out)


def _checked_new_run(args, rundir):
    """A new run's options checked, and its --out claimed, before TensorFlow starts."""
    from mnd.base.errors import UsageError
    from mnd.pipeline.data.datasets import check_split_fraction
    from mnd.pipeline.model.init_weights import check_options
    from mnd.pipeline.model.registry import parse_model_name

    missing = [name for name in ("model", "dataset", "out") if getattr(args, name) is None]
    if missing:
        raise UsageError(f"mnd train needs --{', --'.join(missing)} (or --resume RUN_DIR)")
    parse_model_name(args.model, args.activation)  # a typo answers at once, before TensorFlow starts
    check_options(args.init, args.preprocess, args.channels or 3)  # the dataset's channels are checked once read
    check_split_fraction(args.val_split)
    if args.frozen_epochs is not None and (args.init == "none" or args.frozen_epochs > args.epochs):
        raise UsageError(f"--frozen-epochs {args.frozen_epochs} needs --init imagenet|PATH and at most --epochs "
                         f"({args.epochs})")
    if args.fine_tune_lr_factor is not None and args.init == "none":
        raise UsageError(f"--fine-tune-lr-factor {args.fine_tune_lr_factor} needs --init imagenet|PATH (from "
                         "scratch there is no second phase)")
    check_inputs(args, args.dataset)
    return rundir.claim(Path(args.out), args.force, local_paths(args.dataset, cache_dir()))


def _distribution(name: str, cluster):
    from mnd.pipeline.training import strategies

    strategy = strategies.create(name, cluster)
    from mnd.pipeline.training.run import Distribution

    return Distribution(name, cluster, strategy)
