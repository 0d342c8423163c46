"""Transfer learning on vww_dev, two-fold (train on one stratified half, evaluate on the other, then swap), through
the real CLI: mobilenet_v1_025_96 from Keras Applications' ImageNet weights (`mnd train --init FILE`) against the same
model from scratch with the same epochs and batch size; the second phase's learning-rate factor compared; the fold-1
fine-tuned run exported to cortex-m4 (`mnd export`, every validation enforced)."""
import json
import math
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from mnd.pipeline.environment import cpu_facts
from mnd.pipeline.report.intervals import DIFFERENCE_METHOD, accuracy_interval, difference_interval
from tests.bench.assets import assets_dir
from tests.bench.label_file_folds import two_folds
from tests.conftest import run_mnd

MODEL = "mobilenet_v1_025_96"
INIT_FILE = Path("keras_mobilenet_025_notop") / "mobilenet_2_5_224_tf_no_top.h5"
EPOCHS = 30  # mnd train's default
BATCH_SIZE = 32
VAL_SPLIT = 0.05  # mnd train needs a validation share; 5 of each 100-image half, the rest trains
SEED = 0
DEFAULT_FACTOR = 0.01  # TrainConfig.fine_tune_lr_factor
OTHER_FACTORS = (0.1, 0.001)
MARGIN = 0.10
TARGET = "cortex-m4"


@dataclass(frozen=True)
class Run:
    """One `mnd train` run evaluated on the other half."""
    name: str
    fold: int
    epochs: int
    cli_seconds: float      # the whole `mnd train` command, TensorFlow's import included
    train_seconds: float    # the epochs alone (the manifest's per-epoch seconds)
    correct: int
    n: int


def _train(name: str, fold: int, train_half: Path, test_half: Path, work: Path, epochs: int, *options) -> Run:
    out = work / f"fold{fold}-{name}"
    started = time.monotonic()
    run_mnd("train", "--model", MODEL, "--dataset", train_half, "--out", out, "--epochs", epochs, "--batch-size",
            BATCH_SIZE, "--val-split", VAL_SPLIT, "--seed", SEED, *options, timeout=3600, check=0)
    cli_seconds = time.monotonic() - started
    manifest = json.loads((out / "manifest.json").read_text())
    result = json.loads(run_mnd("evaluate", "--model", out, "--data", test_half, "--json", timeout=900,
                                check=0).stdout)
    return Run(name, fold, epochs, cli_seconds, sum(epoch["seconds"] for epoch in manifest["history"]),
               result["top1_correct"], result["n"])


def _fine_tune(fold: int, halves: tuple, work: Path, factor: float | None = None) -> Run:
    factor_option = () if factor is None else ("--fine-tune-lr-factor", factor)
    name = f"fine-tune x{factor or DEFAULT_FACTOR:g}"
    run = _train(name, fold, *halves, work, EPOCHS, "--init", assets_dir() / INIT_FILE, *factor_option)
    phases = json.loads((work / f"fold{fold}-{name}" / "manifest.json").read_text())["training"]["phases"]
    if abs(phases[1]["learning_rate"] - phases[0]["learning_rate"] * (factor or DEFAULT_FACTOR)) > 1e-12:
        raise AssertionError(f"{name}: the manifest's second phase ran at {phases[1]['learning_rate']}")
    return run


def pooled(runs: list, name: str) -> tuple:
    """(correct, n) of `name` over both folds."""
    chosen = [run for run in runs if run.name == name]
    if len(chosen) != 2:
        raise ValueError(f"'{name}' has {len(chosen)} folds, not 2")
    return sum(run.correct for run in chosen), sum(run.n for run in chosen)


def difference_text(first: tuple, second: tuple) -> str:
    """first - second in points with Newcombe's 95% interval, from two (correct, n)."""
    a, b = first[0] / first[1], second[0] / second[1]
    low, high = difference_interval(a, first[1], b, second[1])
    return f"{100 * (a - b):+.1f} points [{100 * low:+.1f}, {100 * high:+.1f}]"


def _export(fold_one: Path, calibration: Path, evaluation: Path, work: Path) -> list:
    """The report lines of `mnd export` of the fold-1 fine-tuned run to TARGET, nothing allowed to drift (a failed
    check exits 3: the bench stops with mnd's table of failures)."""
    from mnd.pipeline.manifest import Manifest
    from mnd.pipeline.report.summary import validation_verdict

    out = work / f"export-{TARGET}"
    result = run_mnd("export", "--model", fold_one, "--target", TARGET, "--calib", calibration, "--eval", evaluation,
                     "--out", out, timeout=3600)
    if result.returncode != 0:
        raise AssertionError(f"mnd export exited {result.returncode}:\n{result.stderr[-3000:]}")
    return _export_lines(result.returncode, json.loads((out / "manifest.json").read_text()),
                         validation_verdict(Manifest.read(out)))


def _export_lines(code: int, manifest: dict, verdict: str) -> list:
    lines = [f"`mnd export --model <fold-1 fine-tune> --target {TARGET} --calib half_a --eval half_b` (no "
             f"--allow-drift): exit code {code}; manifest verdict: **{verdict}**.", "",
             "| check | passed | value | threshold | gated |", "|---|---|---|---|---|"]
    for check in manifest["validations"]:
        lines.append(f"| {check['name']} | {'yes' if check['passed'] else '**NO**'} | {check['value']:.4g} | "
                     f"{check['threshold']:.4g} | {'yes' if check.get('gated', True) else 'informational'} |")
    for measurement in manifest["measurements"]:
        lines.append("")
        lines.append(f"int8 on {measurement['target']} ({measurement['runtime']}, {measurement['artifact']}): top-1 "
                     f"{accuracy_interval(measurement['accuracy'], measurement['n'])} on half_b (n={measurement['n']})")
    return lines


def budget_epochs(runs: list) -> int:
    """EPOCHS, or more where scratch's `mnd train` took less wall time than the fine-tune's in a fold: the epochs
    that give scratch the fine-tune's time there (the larger over the folds)."""
    epochs = EPOCHS
    for fold in sorted({run.fold for run in runs}):
        walls = {run.name: run.cli_seconds for run in runs if run.fold == fold}
        fine_tune, scratch = walls[f"fine-tune x{DEFAULT_FACTOR:g}"], walls["scratch"]
        if scratch < fine_tune:
            epochs = max(epochs, math.ceil(EPOCHS * fine_tune / scratch))
    return epochs


def margin_verdict(fine_tuned: tuple, scratch: tuple) -> str:
    """Whether fine-tuned - scratch (each (correct, n)) reaches MARGIN, on the point estimate and on the interval."""
    difference = fine_tuned[0] / fine_tuned[1] - scratch[0] / scratch[1]
    low, _ = difference_interval(fine_tuned[0] / fine_tuned[1], fine_tuned[1], scratch[0] / scratch[1], scratch[1])
    goal = f"goal >= {100 * MARGIN:.0f} points"
    if difference < MARGIN:
        return f"{goal}: **NOT met**"
    if low >= MARGIN:
        return f"{goal}: **met**, the whole 95% interval above it"
    return (f"{goal}: **met on the point estimate only**; the 95% interval's lower end is {100 * low:+.1f} points "
            f"({'above 0: fine-tuning is better, by at least that much' if low > 0 else 'not even above 0'})")


def verdict_lines(runs: list, longer: int) -> list:
    """The comparisons under the tables: the goal, the time budget, the learning-rate factors."""
    fine_tuned, scratch = pooled(runs, f"fine-tune x{DEFAULT_FACTOR:g}"), pooled(runs, "scratch")
    walls = [sum(run.cli_seconds for run in runs if run.name == name) for name in (f"fine-tune x{DEFAULT_FACTOR:g}",
                                                                                  "scratch")]
    lines = [f"- Fine-tune (x{DEFAULT_FACTOR:g}) - scratch, same epochs: {difference_text(fine_tuned, scratch)}; "
             f"{margin_verdict(fine_tuned, scratch)}.",
             f"- Time budget (`mnd train` wall, both folds): fine-tune {walls[0]:.0f} s, scratch {walls[1]:.0f} s. "]
    if longer > EPOCHS:
        lines[-1] += (f"Scratch was faster; given the fine-tune's time as epochs ({longer}): fine-tune - scratch "
                      f"{difference_text(fine_tuned, pooled(runs, f'scratch {longer} epochs'))}.")
    else:
        lines[-1] += "Scratch took at least the fine-tune's time in each fold, so no longer scratch run was needed."
    within = []
    for factor in OTHER_FACTORS:
        other = pooled(runs, f"fine-tune x{factor:g}")
        low, high = difference_interval(fine_tuned[0] / fine_tuned[1], fine_tuned[1], other[0] / other[1], other[1])
        within.append(low <= 0 <= high)
        lines.append(f"- Fine-tune x{DEFAULT_FACTOR:g} - x{factor:g}: {difference_text(fine_tuned, other)}.")
    if all(within):
        lines.append(f"- Every factor's interval includes 0: the default x{DEFAULT_FACTOR:g} is not distinguishable "
                     f"from x{' or x'.join(f'{factor:g}' for factor in OTHER_FACTORS)} at n = {fine_tuned[1]}; it "
                     "is chosen within the noise.")
    return lines


def _rows(runs: list) -> list:
    lines = ["| run | fold (train → evaluate) | epochs | `mnd train` wall s | epochs' s | top-1 on the other half "
             "[95% Wilson] |", "|---|---|---|---|---|---|"]
    for run in runs:
        direction = "a → b" if run.fold == 1 else "b → a"
        lines.append(f"| {run.name} | {run.fold} ({direction}) | {run.epochs} | {run.cli_seconds:.0f} | "
                     f"{run.train_seconds:.0f} | {accuracy_interval(run.correct / run.n, run.n)} (n={run.n}) |")
    return lines


def _pooled_lines(runs: list, names: list) -> list:
    lines = ["| run | pooled top-1 [95% Wilson] | n | `mnd train` wall s, both folds |", "|---|---|---|---|"]
    for name in names:
        correct, n = pooled(runs, name)
        wall = sum(run.cli_seconds for run in runs if run.name == name)
        lines.append(f"| {name} | {accuracy_interval(correct / n, n)} | {n} | {wall:.0f} |")
    return lines


def run() -> str:
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        half_a, half_b = two_folds(assets_dir() / "vww_dev", work)
        folds = {1: (half_a, half_b), 2: (half_b, half_a)}
        runs = []
        for fold, halves in folds.items():
            runs.append(_fine_tune(fold, halves, work))
            runs.append(_train("scratch", fold, *halves, work, EPOCHS, "--init", "none"))
        longer = budget_epochs(runs)
        if longer > EPOCHS:
            for fold, halves in folds.items():
                runs.append(_train(f"scratch {longer} epochs", fold, *halves, work, longer, "--init", "none"))
        for factor in OTHER_FACTORS:
            for fold, halves in folds.items():
                runs.append(_fine_tune(fold, halves, work, factor))
        export = _export(work / f"fold1-fine-tune x{DEFAULT_FACTOR:g}", half_a, half_b, work)
    lines = [f"## Transfer learning: {MODEL} from ImageNet weights vs from scratch on vww_dev, two-fold "
             "(`make bench`)", "",
             f"Machine: {platform.machine()}, {cpu_facts()['cpu_model']}, {os.cpu_count()} cores (shared, loaded). vww_dev's 200 "
             "images in two fixed stratified halves (each class sorted by name, dealt alternately: 56 person + 44 "
             f"not per half); each run trains on one half (`--val-split {VAL_SPLIT}`: {round(100 * (1 - VAL_SPLIT))} "
             f"train, {round(100 * VAL_SPLIT)} validation) with `--epochs {EPOCHS} --batch-size {BATCH_SIZE} "
             f"--seed {SEED}` and is evaluated (`mnd evaluate`, float) on the other half; the folds are pooled "
             f"(n = 200). Fine-tune: `--init {INIT_FILE.name}` (Keras Applications, ImageNet), "
             f"{max(1, EPOCHS // 3)} frozen-backbone epochs then {EPOCHS - max(1, EPOCHS // 3)} at "
             "`--fine-tune-lr-factor` x `--lr`. Scratch: `--init none`. Differences: "
             f"{DIFFERENCE_METHOD}. Whole bench: {time.monotonic() - started:.0f} s.", "",
             *_rows(runs), "", *_pooled_lines(runs, list(dict.fromkeys(run.name for run in runs))), "",
             *verdict_lines(runs, longer)]
    return "\n".join([*lines, "", *export])

