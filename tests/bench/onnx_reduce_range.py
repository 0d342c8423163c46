"""Accuracy cost of --onnx-reduce-range (7-bit ONNX weights) on vww_96.h5, all 200 vww_dev images, and the fused
ONNX Runtime kernels vs the exact QDQ arithmetic here and on QEMU's Haswell (x86 with AVX2, without VNNI)."""
import shutil
import tempfile
from pathlib import Path

import numpy as np

from mnd.base.runtimes.inputs import inputs_for
from mnd.base.runtimes.sandbox import run_model
from mnd.pipeline.data.datasets import load_dataset
from mnd.pipeline.data.preprocess import Preprocessing
from mnd.pipeline.environment import cpu_facts
from mnd.pipeline.manifest import Manifest
from mnd.pipeline.validate import top1
from tests.conftest import run_mnd
from tests.bench.assets import assets_dir

HASWELL = ("qemu-x86_64-static", "-cpu", "Haswell")



def _outputs(out: Path, images) -> dict:
    """Top-1 per runtime on every image, for the export in `out`."""
    manifest = Manifest.read(out)
    prep = Preprocessing.from_dict(manifest.model["preprocessing"])
    x = prep.apply(images.pixels)
    path = lambda kind: out / manifest.artifact(kind).path  # noqa: E731
    onnx = path("onnx_int8")
    runs = {"float": run_model("onnxruntime", path("onnx_float"), inputs_for(path("onnx_float"), x)),
            "tflite": run_model("litert-ref", path("tflite_int8"), inputs_for(path("tflite_int8"), x)),
            "exact": run_model("onnxruntime-exact", onnx, inputs_for(onnx, x)),
            "fused": run_model("onnxruntime", onnx, inputs_for(onnx, x))}
    if shutil.which(HASWELL[0]):
        runs["haswell"] = run_model("onnxruntime", onnx, inputs_for(onnx, x), launcher=HASWELL)
    return {name: top1(result.outputs) for name, result in runs.items()}


def _row(name: str, top: dict, labels: np.ndarray) -> str:
    n = len(labels)
    acc = lambda key: f"{np.mean(top[key] == labels):.1%}" if key in top else "—"  # noqa: E731
    differ = lambda a, b: f"{int(np.sum(top[a] != top[b]))}" if a in top and b in top else "—"  # noqa: E731
    return (f"| {name} | {acc('float')} | {acc('tflite')} | {acc('exact')} | {acc('fused')} | {acc('haswell')} | "
            f"{differ('exact', 'tflite')} / {n} | {differ('fused', 'exact')} / {n} | {differ('haswell', 'exact')} / {n} |")


def run() -> str:
    assets = assets_dir()
    tops = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, flags in (("default (8-bit weights)", ()), ("`--onnx-reduce-range` (7-bit)", ("--onnx-reduce-range",))):
            out = Path(tmp) / str(len(tops))
            run_mnd("export", "--model", assets / "mlperf_vww" / "vww_96.h5", "--calib", assets / "vww_dev",
                    "--out", out, "--runs", "1", "--warmup", "0", *flags, check=0)
            prep = Preprocessing.from_dict(Manifest.read(out).model["preprocessing"])
            images = load_dataset(str(assets / "vww_dev"), prep, 2)
            tops[name] = _outputs(out, images)
    labels, cpu = images.labels, cpu_facts()
    default, seven_bit = tops.values()
    exact = [float(np.mean(t["exact"] == labels)) for t in (default, seven_bit)]
    vs_tflite = [int(np.sum(t["exact"] != t["tflite"])) for t in (default, seven_bit)]
    return "\n".join([
        "## ONNX int8: `--onnx-reduce-range` on vww_96.h5 (`make bench`)", "",
        f"`mnd export --model vww_96.h5 --calib vww_dev` with and without `--onnx-reduce-range`, then top-1 on all "
        f"{len(labels)} vww_dev images (100 of them calibrated on). CPU here: {cpu['cpu_model']} "
        f"({', '.join(cpu['isa_flags'])}). Haswell: the same ONNX Runtime under `qemu-x86_64-static -cpu Haswell` "
        "(AVX2, no AVX-512, no VNNI). float: the ONNX float model; tflite int8: LiteRT reference kernels; exact: "
        "ONNX Runtime with graph optimizations off (what validation gates); fused: optimizations on, as users run it.",
        "",
        "| ONNX export | float | tflite int8 | onnx exact | onnx fused here | onnx fused Haswell | exact vs tflite "
        "differ | fused here vs exact | fused Haswell vs exact |",
        "|---|---|---|---|---|---|---|---|---|", *(_row(name, top, labels) for name, top in tops.items()), "",
        f"Cost of 7-bit weights here: exact ONNX accuracy {exact[0]:.1%} -> {exact[1]:.1%} "
        f"({100 * (exact[1] - exact[0]):+.1f} points, {round(len(labels) * abs(exact[1] - exact[0]))} image(s)); "
        f"top-1 disagreements with the tflite int8 model {vs_tflite[0]} -> {vs_tflite[1]} of {len(labels)}."])
