"""--tflm-source: the two layouts of a TFLite-Micro tree, the one-line refusals, the content key, and which files a
model's operators select (read from the pinned tree ../shared/vendor/tflm-cmsis-nn where marked `assets`)."""
from pathlib import Path

import pytest

from mnd.base.errors import UsageError
from mnd.targets.base import MeasureSettings
from mnd.targets.cortex_m.tflm_runtime import binding_header, harness_arena_bytes, model_header
from mnd.targets.cortex_m.tflm_sources import cmsis_nn_sources, framework_sources, kernel_sources
from mnd.targets.cortex_m.tflm_tree import DOWNLOADS, find_tree, given_source
from tests.conftest import REPO

VENDOR = REPO.parent / "shared" / "vendor" / "tflm-cmsis-nn"
VWW_OPS = ["CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"]
KERNELS = "tensorflow/lite/micro/kernels"


def _touch(path: Path, text: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _checkout(top: Path, cmsis_nn_beside: bool = True) -> Path:
    """The files a tflite-micro checkout after `make third_party_downloads` holds that find_tree looks for."""
    root = top / "tflite-micro"
    _touch(root / "tensorflow/lite/micro/micro_interpreter.h", "// interpreter\n")
    downloads = root / DOWNLOADS
    _touch(downloads / "flatbuffers/include/flatbuffers/flatbuffers.h")
    _touch(downloads / "gemmlowp/fixedpoint/fixedpoint.h")
    _touch(downloads / "ruy/ruy/profiler/instrumentation.h")
    _touch((top / "CMSIS-NN" if cmsis_nn_beside else downloads / "cmsis_nn") / "Include/arm_nnfunctions.h")
    return root


def test_a_checkout_with_cmsis_nn_beside_it(tmp_path):
    tree = find_tree(_checkout(tmp_path))
    assert tree.layout == "checkout" and tree.cmsis_nn == (tmp_path / "CMSIS-NN").resolve()
    assert tree.flatbuffers == tree.root / DOWNLOADS / "flatbuffers" / "include" and tree.cmsis_core is None


def test_a_checkout_with_cmsis_nn_in_its_downloads(tmp_path):
    tree = find_tree(_checkout(tmp_path, cmsis_nn_beside=False))
    assert tree.cmsis_nn == tree.root / DOWNLOADS / "cmsis_nn"


@pytest.mark.parametrize("damage, expected", [
    (lambda root: None, "is not a folder"),
    (lambda root: (root / "tensorflow/lite/micro/micro_interpreter.h").unlink(), "has no tensorflow/lite/micro"),
    (lambda root: (root / DOWNLOADS / "gemmlowp/fixedpoint/fixedpoint.h").unlink(), "gemmlowp missing"),
    (lambda root: (root.parent / "CMSIS-NN/Include/arm_nnfunctions.h").unlink(), "clone https://github.com/ARM"),
])
def test_other_trees_are_refused_with_one_line(tmp_path, damage, expected):
    root = _checkout(tmp_path)
    given = tmp_path / "elsewhere" if expected == "is not a folder" else root
    damage(root)
    with pytest.raises(UsageError) as refused:
        find_tree(given)
    assert expected in str(refused.value) and "\n" not in str(refused.value)


def test_a_checkout_without_its_downloads_names_the_make_target(tmp_path):
    root = _checkout(tmp_path)
    for path in sorted((root / DOWNLOADS).rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (root / DOWNLOADS).rmdir()
    with pytest.raises(UsageError, match="third_party_downloads"):
        find_tree(root)


def test_the_key_follows_the_content_of_the_sources(tmp_path):
    root = _checkout(tmp_path)
    before = find_tree(root).key()
    assert find_tree(root).key() == before
    _touch(root / "tensorflow/lite/micro/micro_interpreter.h", "// changed\n")
    assert find_tree(root).key() != before
    _touch(root / "tensorflow/lite/micro/examples/hello.cc", "// not part of the library\n")
    changed = find_tree(root).key()
    _touch(root / "tensorflow/lite/micro/examples/hello.cc", "// still not\n")
    assert find_tree(root).key() == changed


def test_the_environment_names_the_tree_when_the_flag_does_not(monkeypatch, tmp_path):
    monkeypatch.setenv("MND_TFLM_SOURCE", str(tmp_path))
    assert given_source(None) == tmp_path and given_source("/x") == Path("/x")
    monkeypatch.delenv("MND_TFLM_SOURCE")
    assert given_source(None) is None


def test_the_flag_is_refused_for_targets_without_a_core(tmp_path):
    from mnd.pipeline.export.run import check_target

    with pytest.raises(UsageError, match="--tflm-source applies to the cortex-m targets only"):
        check_target("host", MeasureSettings(tflm_source=str(tmp_path)), device=False)


def test_harness_headers_name_the_exports_symbols():
    binding = binding_header("mobilenet_v1_025_32", 4096)
    assert "#define MND_TFLM_MODEL_DATA g_mobilenet_v1_025_32_model_data" in binding
    assert "using MndOpResolver = MobilenetV1_025_32OpResolver;" in binding
    assert "Register" + "MobilenetV1_025_32Ops(resolver)" in binding and "MND_TFLM_ARENA_BYTES 4096" in binding
    header = model_header(3072, 10, 31)
    assert "#define MND_INPUT_BYTES 3072" in header and "#define MND_LAYERS 31" in header
    assert harness_arena_bytes(10_000) == 85_536 and harness_arena_bytes(None) == 1 << 20
    assert harness_arena_bytes(2_000_000, 4 << 20) == 3 << 20  # within the emulated RAM, room left for the rest


@pytest.mark.assets
def test_the_vendored_tree_and_the_files_vww_needs():
    if not VENDOR.is_dir():
        pytest.skip(f"no vendored tree at {VENDOR}")
    tree = find_tree(VENDOR)
    assert tree.layout == "vendored" and tree.cmsis_core is not None
    framework = {p.as_posix() for p in framework_sources(tree)}
    assert "tensorflow/lite/micro/micro_interpreter.cc" in framework
    assert not {"tensorflow/lite/micro/debug_log.cc", "tensorflow/lite/micro/test_helpers.cc"} & framework
    kernels = {p.as_posix() for p in kernel_sources(tree, VWW_OPS)}
    assert {f"{KERNELS}/cmsis_nn/conv.cc", f"{KERNELS}/conv_common.cc", f"{KERNELS}/kernel_util.cc",
            f"{KERNELS}/reshape.cc", f"{KERNELS}/cmsis_nn/pooling.cc"} <= kernels
    assert f"{KERNELS}/conv.cc" not in kernels and f"{KERNELS}/add_common.cc" not in kernels
    reference = {p.as_posix() for p in kernel_sources(tree, VWW_OPS, "reference")}
    assert f"{KERNELS}/conv.cc" in reference and not any("cmsis_nn" in p for p in reference)
    nn = cmsis_nn_sources(tree, sorted(Path(p) for p in kernels))
    folders = {p.parent.name for p in nn}
    assert {"ConvolutionFunctions", "NNSupportFunctions", "SoftmaxFunctions"} <= folders
    assert "LSTMFunctions" not in folders and "arm_elementwise_add_s8.c" not in {p.name for p in nn}
    # called by arm_depthwise_conv_wrapper_s8.c only where MVE is on (cortex-m55): followed file by file
    assert [p.name for p in nn if p.parent.name == "TransposeFunctions"] == ["arm_transpose_s8.c"]


MAP = """Linker script and memory map

.text           0x00000400     0x1000
 .text.weights  0x00000400       0x10 obj/model/12_m_model_data.o
 .text.conv     0x00000410       0x20 /cache/tflm/cortex-m4/libtflm-0123.a(conv.cc.o)
 .text.a_long_name_that_makes_ld_wrap_the_line
                0x00000430       0x30 obj/harness/00_startup.o
 .text.memcpy   0x00000460       0x40 /usr/lib/arm-none-eabi/lib/libc.a(libc_a-memcpy.o)
.bss            0x20000000      0x100
 .bss.arena     0x20000000       0x80 obj/harness/07_tflm_model.o
"""


def test_the_size_split_names_the_library_as_its_own_part():
    from mnd.targets.cortex_m.firmware import map_parts

    parts = map_parts(MAP, {"libtflm-0123.a": "tflm"})
    assert (parts["model"].text, parts["tflm"].text, parts["harness"].text, parts["runtime"].text) == (16, 32, 48, 64)
    assert parts["harness"].bss == 128 and list(parts) == ["model", "harness", "tflm", "runtime"]
    assert "tflm" not in map_parts(MAP) and map_parts(MAP)["runtime"].text == 32 + 64


def test_a_missing_cxx_toolchain_is_named_before_any_work(tmp_path, monkeypatch):
    from mnd.base.errors import TargetUnavailable
    from mnd.pipeline.export.run import check_target
    from mnd.targets import toolchain
    from mnd.targets.registry import get_target

    if get_target("cortex-m4").check():
        pytest.skip("the Cortex-M toolchain is not installed here")
    real = toolchain.Tool.path
    monkeypatch.setattr(toolchain.Tool, "path",
                        lambda tool: None if tool.package == "libstdc++-arm-none-eabi-dev" else real(tool))
    with pytest.raises(TargetUnavailable, match="apt-get install libstdc\\+\\+-arm-none-eabi-dev"):
        check_target("cortex-m4", MeasureSettings(tflm_source=str(_checkout(tmp_path))), device=False)


def test_the_report_sets_mnd_c_beside_the_tflm_row():
    from mnd.pipeline.manifest import Measurement
    from mnd.pipeline.report.emulated import versus_mnd_c

    def row(runtime, instructions, flash, ram, target="cortex-m4"):
        return Measurement(target=target, runtime=runtime, artifact="a", accuracy=1.0, n=1, latency_ms=None, runs=1,
                           emulated=True, instructions=instructions, flash_bytes=flash, ram_bytes=ram,
                           model_flash_bytes=flash // 2)

    tflm, ours = row("tflm-cmsis-nn", 40_000_000, 800_000, 200_000), row("mnd-c", 20_000_000, 600_000, 150_000)
    assert versus_mnd_c(tflm, [ours, tflm, row("mnd-c", 1, 1, 1, "cortex-m55")]) == [
        "- mnd-c on the same core and samples: 20,000,000 instructions (0.50x of these), flash 0.75x (model library "
        "0.75x), RAM 0.75x"]
    reference = row("tflm-reference", 80_000_000, 700_000, 200_000)
    assert versus_mnd_c(reference, [ours, reference])[0].startswith(
        "- mnd-c on the same core and samples: 20,000,000 instructions (0.25x of these)")
    assert versus_mnd_c(ours, [ours, tflm]) == [] and versus_mnd_c(tflm, [tflm]) == []
