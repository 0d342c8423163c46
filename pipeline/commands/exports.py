"""`mnd export`, `mnd evaluate`, `mnd measure`, `mnd report`, `mnd quantize-report`."""
import logging
from pathlib import Path

from mnd.base.cache_folder import cache_dir
from mnd.base.quiet import import_tensorflow_quietly
from mnd.pipeline.commands.common import (check_inputs, emit_json, local_paths, measure_settings,
                                          prep_overrides, print_result, quant_config)

log = logging.getLogger("mnd")


def cmd_export(args) -> None:
    from mnd.pipeline import rundir
    from mnd.pipeline.export.run import ExportConfig, check_target, export
    from mnd.targets.cortex_m.boards import resolve_board

    board, target = resolve_board(args.board, args.target)
    args.target = target or "host"
    check_target(args.target, measure_settings(args))  # before TensorFlow starts: mistakes answer at once
    check_inputs(args, args.calib, args.eval)
    inputs = local_paths(args.model, args.calib, args.eval, args.labels, cache_dir())
    destination = rundir.claim(Path(args.out), args.force, inputs) if args.out else None
    import_tensorflow_quietly()
    from mnd.base.progress import EpochBar
    from mnd.pipeline.sources.resolve import resolve_model

    source = resolve_model(args.model, cache_dir(), args.train_epochs, args.seed, progress=EpochBar,
                           prep_overrides=prep_overrides(args), labels_file=args.labels, arch=args.arch,
                           classes=args.classes)
    destination = destination or rundir.claim(Path(f"out/{source.name}-{args.target}"), args.force, inputs)
    out = args.out or destination.path
    config = ExportConfig(target=args.target, calib=args.calib, evaluation=args.eval,
                          quant=quant_config(args),
                          evaluation_samples=args.eval_samples, max_drop=args.max_drop,
                          allow_drift=args.allow_drift, requantize_int8=args.requantize_int8,
                          measure=measure_settings(args), board=board, formats=args.formats)
    manifest = export(source, destination, config, shown_out=str(out))
    emit_json(args, manifest.to_json())
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


def cmd_evaluate(args) -> None:
    check_inputs(args, args.data)
    import_tensorflow_quietly()
    from mnd.pipeline.evaluate import evaluate, format_result
    from mnd.pipeline.sources.resolve import resolve_model

    source = resolve_model(args.model, cache_dir(), 30, 0, prep_overrides=prep_overrides(args),
                           labels_file=args.labels, arch=args.arch, classes=args.classes)
    result = evaluate(source, args.data, args.runtime)
    print_result(args, result, format_result)
    log.info("next: mnd export --model %s --eval %s --target host", args.model, args.data)


def cmd_measure(args) -> None:
    from mnd.pipeline.export.remeasure import remeasure
    from mnd.targets.cortex_m.boards import resolve_board

    board, target = resolve_board(args.board, args.target)
    args.target = target or "host"
    manifest = remeasure(Path(args.run_dir), args.target, measure_settings(args), args.eval, board)
    emit_json(args, manifest.to_json())
    _log_summary(manifest)
    log.info("%d measurements on %s written to %s/manifest.json, report.md and report.html",
             len(manifest.measurements), args.target, args.run_dir)
    log.info("next: cat %s/report.md", args.run_dir)


def cmd_report(args) -> None:
    from mnd.base.errors import UsageError
    from mnd.pipeline import rundir
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


def cmd_quantize_report(args) -> None:
    from mnd.pipeline import rundir
    from mnd.pipeline.quality.render import render_markdown
    from mnd.pipeline.quality.run import ReportConfig, quantize_report, write_report

    from mnd.base.errors import UsageError
    from mnd.quantize.config import QuantConfig

    quant, default = quant_config(args), QuantConfig()
    if args.compare and (quant.weights, quant.equalize, quant.bias_correct) != \
            (default.weights, default.equalize, default.bias_correct):
        raise UsageError("--compare sets the weight scheme, equalization and bias correction itself; drop --weights, "
                         "--equalize and --bias-correct/--no-bias-correct, or drop --compare")
    check_inputs(args, args.calib, args.eval)
    inputs = local_paths(args.model, args.calib, args.eval, args.labels, cache_dir())
    destination = rundir.claim(Path(args.out), args.force, inputs) if args.out else None
    import_tensorflow_quietly()
    from mnd.pipeline.sources.resolve import resolve_model

    source = resolve_model(args.model, cache_dir(), args.train_epochs, args.seed, prep_overrides=prep_overrides(args),
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
    print_result(args, doc, lambda report: render_markdown(report).rstrip("\n"))

