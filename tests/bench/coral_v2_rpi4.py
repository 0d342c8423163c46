"""The two Coral MobileNet V2 1.0-224 ImageNet models (TF2's int8 PTQ file, and the uint8 QAT file requantized to
int8) exported to the emulated Raspberry Pi 4 on all 200 imagenet_dev images, the whole `mnd export` CLI: mnd-c
(built for the board's Cortex-A72, run under qemu-aarch64) and LiteRT's reference kernels on the board, each
compared byte for byte with LiteRT's reference kernels on this host. `--allow-drift` keeps the export when the
ONNX Runtime top-1 check (not this benchmark's subject, shown beside it) fails; the bit-exact checks are read back
from the manifest."""
import json
import tempfile
import time
from pathlib import Path

from mnd.pipeline.evaluate import wilson_interval
from tests.bench.assets import assets_dir
from tests.conftest import run_mnd

FOLDER = "coral_mobilenet_v2_quant"
MODELS = (("tf2_mobilenet_v2_1.0_224_ptq.tflite", "int8 PTQ (uint8 boundary dropped exactly)", ()),
          ("mobilenet_v2_1.0_224_quant.tflite", "uint8 QAT, `--requantize-int8`", ("--requantize-int8",)))
IMAGENET = ("--crop", "0.875", "--resize", "bilinear")
ENGINE_CHECK = "rpi4 mnd-c vs host litert-ref"


def export(model: Path, flags: tuple, out: Path) -> tuple:
    started = time.monotonic()
    run_mnd("export", "--model", model, "--target", "rpi4", "--eval", assets_dir() / "imagenet_dev", *IMAGENET, *flags,
            "--threads", "1", "--runs", "1", "--warmup", "0", "--allow-drift", "--out", out, timeout=4 * 3600, check=0)
    return json.loads((out / "manifest.json").read_text()), time.monotonic() - started


def row(file: str, conversion: str, manifest: dict, wall: float) -> str:
    checks = {}
    for check in manifest["validations"]:
        checks.setdefault(check["name"], []).append(check)
    engine = checks[ENGINE_CHECK]
    board_reference = checks["rpi4 litert-ref vs host litert-ref"]
    measured = {(m["runtime"], m["artifact"]): m for m in manifest["measurements"] if m["target"] == "rpi4"}
    mndc = measured[("mnd-c", "tflite_int8")]
    correct = round(mndc["accuracy"] * mndc["n"])
    low, high = wilson_interval(correct, mndc["n"])
    verdict = "bit-exact" if all(c["passed"] and c["value"] == 0 for c in engine) else "DIFFER"
    onnx = "; ".join(f"{c['detail']} ({'pass' if c['passed'] else 'FAIL'})" for name, found in checks.items()
                     if name.startswith("onnx_") for c in found)
    return (f"| {file} | {conversion} | {mndc['n']} | {engine[0]['detail']} ({verdict}) | "
            f"{'; '.join(c['detail'] for c in board_reference)} | {mndc['accuracy']:.1%} [{low:.1%}, {high:.1%}] | "
            f"{onnx} | {wall / 60:.1f} |")


def run() -> str:
    lines = ["## MobileNet V2 1.0-224 (Coral, ImageNet) on the emulated Raspberry Pi 4 (`make bench`)", "",
             "`mnd export --model <file> --target rpi4 --eval imagenet_dev --crop 0.875 --resize bilinear "
             "--threads 1 --runs 1 --warmup 0`: every imagenet_dev image through mnd-c and LiteRT on the emulated "
             "board (arm64 Debian under qemu-aarch64, QEMU_CPU=cortex-a72), each output compared byte for byte with "
             "LiteRT's reference kernels on this host (gated: without `--allow-drift` the export exits 3 on any difference). Top-1 with its "
             "95% Wilson interval; the labels are ImageNet's 1001 classes (background first).", "",
             "| model file | conversion | images | mnd-c vs host reference | board reference kernels vs host | "
             "mnd-c top-1 [95% interval] | ONNX Runtime vs LiteRT top-1 (host) | export wall min |",
             "|---|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for file, conversion, flags in MODELS:
            manifest, wall = export(assets_dir() / FOLDER / file, flags, Path(tmp) / Path(file).stem)
            lines.append(row(file, conversion, manifest, wall))
    lines += ["", "Latency on the emulated board says nothing about a real one and is not shown; the export's "
              "manifest keeps it, labelled emulated."]
    return "\n".join(lines)
