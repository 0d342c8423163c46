"""The shared MobileNet V2 0.35-96 and V3-Small 0.75-96 exports (tests/mobilenet_runs.py) re-measured on the
emulated Raspberry Pi 4 and on the test phone: mnd-c bit-exact with the host's LiteRT reference kernels on every
evaluation image (a gated check: `mnd measure` exits 3 otherwise), rows labelled emulated."""
import pytest

from tests.emulator.kernel_pairs import require_toolchain
from tests.mobilenet_runs import EVAL_SAMPLES, measured_copy, rows

pytestmark = [pytest.mark.emulator, pytest.mark.assets, pytest.mark.slow]
FAST = ("--runs", "1", "--warmup", "0")


@pytest.fixture(params=["v2", "v3"])
def export(request):
    require_toolchain()  # the shared export is a cortex-m4 one
    return request.getfixturevalue(f"{request.param}_export")


def check_engine_rows(manifest: dict, target: str) -> dict:
    measured = {m["runtime"]: m for m in rows(manifest, target)}
    engine = measured["mnd-c"]
    assert engine["emulated"] and engine["n"] == EVAL_SAMPLES and engine["latency_ms"]["p50"] > 0
    (m4,) = rows(manifest, "cortex-m4")
    assert engine["accuracy"] == m4["accuracy"], "bit-exact on both: the same predictions"
    check = next(v for v in manifest["validations"] if v["name"] == f"{target} mnd-c vs host litert-ref")
    assert check["passed"] and check["gated"] and check["detail"] == f"0 of {EVAL_SAMPLES} samples differ"
    return measured


def test_rpi4_emulated_runs_mnd_c_bit_exact(export, arm64_rootfs, tmp_path):
    manifest = measured_copy(export, tmp_path / "run", "rpi4", *FAST, "--threads", "1")
    measured = check_engine_rows(manifest, "rpi4")
    assert measured["litert-ref"]["accuracy"] == measured["mnd-c"]["accuracy"]
    assert manifest["target"]["board"]["qemu_cpu"] == "cortex-a72"
    assert (tmp_path / "run" / "rpi4" / "mnd-c").is_file()


def test_android_test_phone_runs_mnd_c_bit_exact(export, android_device, tmp_path):
    manifest = measured_copy(export, tmp_path / "run", "android", *FAST, "--serial", android_device.serial,
                             env=android_device.env)
    check_engine_rows(manifest, "android")
    assert manifest["target"]["board"]["abi"] == "arm64-v8a"
    assert "### `android` (emulated)" in (tmp_path / "run" / "report.md").read_text()
