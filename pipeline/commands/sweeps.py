"""`mnd sweep`."""
import json
import logging
from pathlib import Path

from mnd.base.cache_folder import cache_dir
from mnd.base.quiet import import_tensorflow_quietly
from mnd.pipeline.commands.common import check_inputs, emit_json, local_paths, measure_settings
from mnd.pipeline.sweep import grid as sweep_grid

log = logging.getLogger("mnd")


def cmd_sweep(args) -> None:
    from mnd.base.errors import UsageError
    from mnd.pipeline.export.run import check_target

    if bool(args.dataset) == args.cost_only:
        raise UsageError("give either --dataset D (train each variant, measure accuracy) or --cost-only (random "
                         "weights: counts, sizes and speed only)")
    if args.dataset and (args.classes or args.channels):
        raise UsageError("--classes and --channels are for --cost-only; with --dataset they are the dataset's own")
    _check_executor(args)
    sweep_grid.check_family(args.family, args.alpha)
    part = _sweep_board(args)
    sweep_grid.check_size(args.alpha, args.resolution, args.max_variants)
    check_target(args.target, measure_settings(args))  # before TensorFlow starts: mistakes answer at once
    check_inputs(args, args.dataset)
    import_tensorflow_quietly()
    from mnd.pipeline.sweep.run import ExecutorChoice, SweepConfig, run_sweep

    config = SweepConfig(target=args.target, alphas=args.alpha, sides=args.resolution, dataset=args.dataset,
                         epochs=args.epochs, classes=args.classes or 1000, channels=args.channels or 3,
                         seed=args.seed, flash_kb=args.flash_kb, ram_kb=args.ram_kb, measure=measure_settings(args),
                         family=args.family, part=part, cache=cache_dir())
    out = Path(args.out or f"out/sweep-{args.target}")
    choice = ExecutorChoice(args.executor, args.jobs, args.address)
    doc = run_sweep(config, out, args.force, local_paths(args.dataset, cache_dir()), choice)
    emit_json(args, json.dumps(doc, indent=2) + "\n")
    log.info("wrote %s/sweep.json, report.md and report.html (%d variants)", out, len(doc["rows"]))
    log.info("next: xdg-open %s/report.html", out)


def _check_executor(args) -> None:
    from mnd.base.errors import UsageError

    if args.address is not None and args.executor != "ray":
        raise UsageError("--address is the Ray cluster of --executor ray; add --executor ray, or drop --address")
    if args.executor == "ray":
        from mnd.pipeline.sweep.ray_executor import check_ray_installed

        check_ray_installed()
    if args.address is not None:  # before TensorFlow starts and anything is written
        from mnd.pipeline.sweep.ray_address import check_cluster_answers

        check_cluster_answers(args.address)


def _sweep_board(args) -> str | None:
    """--board: its core is the target and its flash and RAM the budgets (args updated); the preset's name or None."""
    from mnd.base.errors import UsageError
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

