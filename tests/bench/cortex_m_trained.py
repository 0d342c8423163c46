"""MobileNetV2 0.35-96, MobileNetV3-Small 0.75-96 and its minimalistic variant trained on vww_dev (`mnd train`, two
epochs, seed 0), exported to cortex-m4 (`mnd export`) and re-measured on cortex-m55, cortex-m7 and cortex-m33
(`mnd measure`): mnd-c bit-exact with LiteRT's reference kernels on every evaluation image (the CLI exits 3
otherwise), TFLite-Micro's C arrays likewise, and the per-layer instruction counts adding up to the total."""
import json
import shutil
import tempfile
from pathlib import Path

from mnd.pipeline.evaluate import wilson_interval
from tests.bench.assets import assets_dir
from tests.conftest import run_mnd

MODELS = ("mobilenet_v2_035_96", "mobilenet_v3_small_075_96", "mobilenet_v3_small_075_96_minimalistic")
FIRST_CORE = "cortex-m4"
OTHER_CORES = ("cortex-m55", "cortex-m7", "cortex-m33")
EPOCHS = 2
TFLM_CHECK = "tflm (from .cc) vs litert reference"


def exported(model: str, work: Path) -> Path:
    run, out = work / f"{model}-run", work / f"{model}-{FIRST_CORE}"
    run_mnd("train", "--model", model, "--dataset", assets_dir() / "vww_dev", "--epochs", EPOCHS, "--seed", "0",
            "--out", run, timeout=3600, check=0)
    run_mnd("export", "--model", run, "--target", FIRST_CORE, "--out", out, timeout=3600, check=0)
    return out


def measured(export: Path, core: str, work: Path) -> dict:
    copy = work / f"{export.name}-{core}"
    shutil.copytree(export, copy)
    run_mnd("measure", copy, "--target", core, timeout=3600, check=0)
    return json.loads((copy / "manifest.json").read_text())


def core_row(model: str, manifest: dict, core: str) -> str:
    (m,) = [m for m in manifest["measurements"] if m["target"] == core]
    layer_sum = sum(layer["instructions"] for layer in m["layers"])
    adds_up = abs(layer_sum - m["instructions"]) <= len(m["layers"])  # each layer's mean is rounded
    tflm = next(v for v in manifest["validations"] if v["name"] == TFLM_CHECK)
    low, high = wilson_interval(round(m["accuracy"] * m["n"]), m["n"])
    return (f"| {model} | {core} | {m['instructions']:,} | {layer_sum:,} ({'adds up' if adds_up else 'DOES NOT'}) | "
            f"{m['arena_bytes']:,} ({m['arena_floor_bytes']:,}) | {m['ram_bytes']:,} | {m['flash_bytes']:,} | "
            f"{m['accuracy']:.1%} [{low:.1%}, {high:.1%}] (n={m['n']}) | {tflm['detail']} |")


def run() -> str:
    lines = ["## Cortex-M: trained MobileNetV2/V3 on every emulated core (`make bench`)", "",
             f"`mnd train --model <model> --dataset vww_dev --epochs {EPOCHS} --seed 0`, then `mnd export --target "
             f"{FIRST_CORE}` on the run's held-out images and `mnd measure` of a copy on each other core. Every "
             "row's mnd-c outputs are bit-exact with LiteRT's reference kernels on every evaluation image (the "
             "CLI exits 3 otherwise, so a row exists only when they are); TFLite-Micro's C arrays are checked the "
             "same way on the host. Instructions per inference counted by our QEMU TCG plugin, kernels `auto`. "
             "Accuracy of a two-epoch model on ~40 images, with its 95% Wilson interval: a smoke figure, not a "
             "model's quality.", "",
             "| model | core | mnd-c instructions / inference | sum of per-layer counts | arena B (floor) | RAM B | "
             "flash B | top-1 [95% interval] | TFLM C arrays vs LiteRT reference |", "|---|---|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for model in MODELS:
            export = exported(model, work)
            manifest = json.loads((export / "manifest.json").read_text())
            lines.append(core_row(model, manifest, FIRST_CORE))
            for core in OTHER_CORES:
                lines.append(core_row(model, measured(export, core, work), core))
    return "\n".join(lines)
