"""ONNX Runtime's fused int8 kernels on an x86 CPU without VNNI, emulated by QEMU's Haswell model (AVX2, no AVX-512,
no VNNI), whatever CPU runs the test: the export's verdict does not depend on the CPU, the host measurement's warning
fires there, and --onnx-reduce-range makes the fused kernels agree with the exact QDQ arithmetic.

The product's own sandbox worker runs under the emulator (run_model's launcher). Measured on vww_96.h5 calibrated on
vww_dev: the fused kernels on Haswell disagree with the exact arithmetic on 5 of the first 100 vww_dev images (6 of
200 with LiteRT's reference), with --onnx-reduce-range on none.
"""
import platform
import shutil

import numpy as np
import pytest

from mnd.base.runtimes.inputs import inputs_for
from mnd.base.runtimes.sandbox import run_model
from mnd.pipeline.data.datasets import load_dataset
from mnd.pipeline.data.preprocess import Preprocessing
from mnd.pipeline.manifest import Manifest
from mnd.targets.host import EXACT, exact_agreement
from tests.conftest import skip_or_fail

pytestmark = [pytest.mark.emulator, pytest.mark.assets, pytest.mark.slow]
HASWELL = ("qemu-x86_64-static", "-cpu", "Haswell")
HASWELL_FACTS = {"machine": "x86_64", "isa_flags": ["sse4_2", "avx", "avx2", "fma"]}  # as cpu_facts() reads them
IMAGES = 100  # the first 100 vww_dev images: about 10 s of emulated fused inference


@pytest.fixture(scope="module", autouse=True)
def emulator():
    if platform.machine() != "x86_64":
        pytest.skip("qemu-x86_64-static runs this machine's own Python only on an x86_64 host")
    if shutil.which(HASWELL[0]) is None:
        skip_or_fail(f"{HASWELL[0]} not found (Debian package qemu-user-static; run 'make toolchain')")


def export(assets, mnd, out, *flags) -> Manifest:
    mnd("export", "--model", assets / "mlperf_vww" / "vww_96.h5", "--calib", assets / "vww_dev", "--out", out,
        "--eval-samples", "20", "--runs", "1", "--warmup", "0", *flags, check=0)
    return Manifest.read(out)


def haswell_agreement(assets, out, manifest: Manifest, exact_samples: int = 0) -> dict:
    """exact_agreement (what the host target records) for the fused kernels run on the emulated Haswell."""
    prep = Preprocessing.from_dict(manifest.model["preprocessing"])
    images = load_dataset(str(assets / "vww_dev"), prep, manifest.model["classes"])
    path = out / manifest.artifact("onnx_int8").path
    inputs = inputs_for(path, prep.apply(images.pixels[:IMAGES]))
    fused = run_model("onnxruntime", path, inputs, launcher=HASWELL).outputs
    if exact_samples:  # the exact path, the one validation gates, is the same on the emulated CPU
        here = run_model(EXACT, path, inputs[:exact_samples]).outputs
        assert np.array_equal(run_model(EXACT, path, inputs[:exact_samples], launcher=HASWELL).outputs, here)
    return exact_agreement(path, inputs, fused, images.labels[:IMAGES], "onnx_int8", HASWELL_FACTS,
                           manifest.quantization)


def test_default_export_warns_on_a_cpu_without_vnni(assets, mnd, tmp_path):
    manifest = export(assets, mnd, tmp_path / "default")
    assert manifest.quantization["onnx_reduce_range"] is False
    assert all(v.passed for v in manifest.validations)
    agreement = haswell_agreement(assets, tmp_path / "default", manifest, exact_samples=4)
    assert agreement["n"] == IMAGES and agreement["top1_differing"] >= 2, agreement
    note = agreement["note"]
    assert "no VNNI" in note and "saturate" in note and "--onnx-reduce-range" in note and "tflite_int8" in note


def test_reduce_range_export_agrees_with_the_exact_arithmetic_there(assets, mnd, tmp_path):
    manifest = export(assets, mnd, tmp_path / "seven_bit", "--onnx-reduce-range")
    assert manifest.quantization["onnx_reduce_range"] is True and "7-bit" in manifest.quantization["onnx_weights"]
    assert all(v.passed for v in manifest.validations)
    agreement = haswell_agreement(assets, tmp_path / "seven_bit", manifest)
    assert agreement["top1_differing"] == 0 and agreement["note"] is None, agreement
    assert "ONNX weights 7-bit" in (tmp_path / "seven_bit" / "report.md").read_text()
