"""The TFLM runtimes beside mnd-c: --tflm-runtimes parsing and refusals, the model library's flash from the size
split, the tree's declared commits (PROVENANCE.txt, a checkout's .git) and the library's cache key per kernel set."""
import argparse

import pytest

from mnd.base.errors import UsageError
from mnd.pipeline.cli_args import tflm_runtimes
from mnd.targets.base import MeasureSettings
from mnd.targets.cortex_m.cores import CORES
from mnd.targets.cortex_m.tflm_library import build_key
from mnd.targets.cortex_m.tflm_runtime import RUNTIMES, model_flash_bytes
from mnd.targets.cortex_m.tflm_tree import TflmTree, git_head, provenance_commits

COMMIT_A, COMMIT_B = "90b983c2b3f1480642e040bbd2ddb37b998f3424", "99f736a63036613032f9b70de36b493bcd7802d4"


def test_runtimes_are_a_comma_list_or_all():
    assert tflm_runtimes("tflm-reference") == ("tflm-reference",)
    assert tflm_runtimes("tflm-reference, tflm-cmsis-nn") == ("tflm-reference", "tflm-cmsis-nn")
    assert tflm_runtimes("all") == tuple(RUNTIMES)
    with pytest.raises(argparse.ArgumentTypeError, match="unknown TFLM runtime 'tflm-cmsis'"):
        tflm_runtimes("tflm-cmsis")
    with pytest.raises(argparse.ArgumentTypeError, match="repeats"):
        tflm_runtimes("tflm-reference,tflm-reference")


def test_runtimes_without_a_tree_or_a_core_are_refused(monkeypatch):
    from mnd.pipeline.export.run import check_target

    monkeypatch.delenv("MND_TFLM_SOURCE", raising=False)
    reference = MeasureSettings(tflm_runtimes=("tflm-reference",))
    with pytest.raises(UsageError, match="--tflm-runtimes applies to the cortex-m targets only"):
        check_target("host", reference, device=False)
    with pytest.raises(UsageError, match="add --tflm-source DIR"):
        check_target("cortex-m4", reference, device=False)


def test_the_model_library_leaves_the_harness_and_libc_out():
    parts = {"model": 300_000, "tflm": 90_000, "harness": 4_000, "runtime": 12_000}
    assert model_flash_bytes(parts) == 390_000
    assert model_flash_bytes({"model": 250_000, "harness": 4_000, "runtime": 9_000}) == 250_000


def test_declared_commits_from_provenance_lines():
    text = ("# folder | upstream | commit\n"
            f"tensorflow/ | https://github.com/tensorflow/tflite-micro | {COMMIT_A} | files | Apache-2.0\n"
            f"third_party/cmsis_nn/ | https://github.com/ARM-software/CMSIS-NN | {COMMIT_B} (pinned: older) | x\n"
            "bench/main.cc | written for this comparator | - | project code\n")
    assert provenance_commits(text) == {"tflite-micro": COMMIT_A, "CMSIS-NN": COMMIT_B}


def test_a_checkouts_head_loose_packed_or_detached(tmp_path):
    git = tmp_path / ".git"
    (git / "refs/heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "packed-refs").write_text(f"# pack-refs\n{COMMIT_B} refs/heads/main\n")
    assert git_head(tmp_path) == COMMIT_B
    (git / "refs/heads/main").write_text(COMMIT_A + "\n")
    assert git_head(tmp_path) == COMMIT_A
    (git / "HEAD").write_text(COMMIT_B + "\n")
    assert git_head(tmp_path) == COMMIT_B
    assert git_head(tmp_path / "missing") is None


def test_each_kernel_set_has_its_own_library_key(tmp_path):
    (tmp_path / "tensorflow").mkdir()
    (tmp_path / "tensorflow" / "a.cc").write_text("int a;\n")
    tree = TflmTree(tmp_path, "vendored", tmp_path / "nn", tmp_path / "fb", tmp_path / "gl", tmp_path / "ruy", None)
    keys = {kernels: build_key(tree, CORES["cortex-m4"], kernels, "-O2", "gcc 12") for kernels in RUNTIMES.values()}
    assert keys["reference"].startswith("cortex-m4-reference-O2-") and keys["cmsis_nn"] != keys["reference"]
    assert build_key(tree, CORES["cortex-m7"], "reference", "-O2", "gcc 12") != keys["reference"]


@pytest.mark.assets
@pytest.mark.parametrize("core", sorted(CORES))
def test_each_cores_flags_turn_on_the_cmsis_nn_paths_it_has(core):
    """CMSIS-NN picks its DSP and MVE code from the compiler's feature macros, which the core's -mcpu gives."""
    import shutil
    import subprocess

    from mnd.targets.cortex_m.tflm_library import defines
    from mnd.targets.cortex_m.tflm_tree import find_tree
    from tests.conftest import REPO

    vendor, gcc = REPO.parent / "shared" / "vendor" / "tflm-cmsis-nn", shutil.which("arm-none-eabi-gcc")
    if not (vendor / "third_party").is_dir() or gcc is None:
        pytest.skip("needs the vendored TFLM tree and arm-none-eabi-gcc")
    tree = find_tree(vendor)
    done = subprocess.run([gcc, *CORES[core].cflags, *defines("cmsis_nn"), *(f"-I{d}" for d in tree.include_dirs()),
                           "-dM", "-E", "-x", "c", "-"], input='#include "arm_nn_math_types.h"\n',
                          capture_output=True, text=True, check=True)
    macros = {line.split()[1] for line in done.stdout.splitlines() if line.startswith("#define ")}
    assert "ARM_MATH_DSP" in macros
    assert ("ARM_MATH_MVEI" in macros) == (core == "cortex-m55")


def test_the_report_names_the_tree_and_the_model_library():
    from mnd.pipeline.manifest import Measurement
    from mnd.pipeline.report.emulated import render_emulated

    row = Measurement(target="cortex-m4", runtime="tflm-reference", artifact="tflm_c_source", accuracy=1.0, n=1,
                      latency_ms=None, runs=1, emulated=True, instructions=1000, flash_bytes=5000,
                      model_flash_bytes=4000, flash_parts={"model": 3000, "tflm": 1000, "harness": 600, "runtime": 400},
                      tflm_tree={"path": "/t", "layout": "checkout", "key": "0123456789abcdef",
                                 "declared": {"tflite-micro": COMMIT_A}})
    lines = render_emulated(row)
    assert "- model library flash: 4,000 B (3.9 KiB) (the TFLM library and the model's C array; harness, libc and " \
        "libgcc left out)" in lines
    assert "- TFLite-Micro tree: `/t` (checkout, content key `0123456789abcdef`; declares tflite-micro " \
        "`90b983c2b3f1`)" in lines
