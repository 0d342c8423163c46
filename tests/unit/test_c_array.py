"""TFLite-Micro C sources: identifiers, escaping, round trip, compilation, op resolver, determinism."""
import shutil
import subprocess
from pathlib import Path

import pytest

from mnd.base.errors import ModelError
from mnd.base.tflite.read import TfliteModel, read_tflite
from mnd.pipeline.formats.c_array import (
    KEYWORDS,
    TFLM_BUILTINS,
    c_identifier,
    c_string,
    camel,
    parse_c_array,
    resolver_methods,
    tflm_method,
    write_c_array,
)
from tests.conftest import skip_or_fail
from tests.unit.test_tflite_model import tiny_models

NAME = "mobilenet_v1_025_32"
LABELS = ['say "hi"', "back\\slash", "café"]
ARENA = 12345
KINDS = {"tflm_c_source", "tflm_c_header", "tflm_op_resolver"}


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "tiny_int8.tflite"
    path.write_bytes(tiny_models()["int8"])
    return path


@pytest.fixture(scope="module")
def written(model_path, tmp_path_factory) -> dict:
    return write_c_array(model_path, tmp_path_factory.mktemp("tflm"), NAME, LABELS, ARENA)


def gxx() -> str:
    compiler = shutil.which("g++")
    if compiler is None:
        skip_or_fail("g++ not found (install build-essential)")
    return compiler


def compile_cxx(*args):
    result = subprocess.run([gxx(), "-std=c++17", "-Wall", "-Wextra", "-Werror", *map(str, args)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize("name, expected", [
    ("mobilenet_v1_025_32", "mobilenet_v1_025_32"),
    ("1-model", "m_1_model"),
    ("int", "m_int"),
    ("class", "m_class"),
    ("My Net.v2", "my_net_v2"),
    ("__x__y", "x_y"),
    ("", "model"),
    ("café", "caf"),
    ("---", "model"),
])
def test_c_identifier(name, expected):
    ident = c_identifier(name)
    assert ident == expected
    assert ident.isascii() and (ident[0].isalpha()) and ident.replace("_", "a").isalnum()
    assert ident not in KEYWORDS and "__" not in ident


def test_camel_keeps_digit_groups_apart():
    assert camel("mobilenet_v1_025_32") == "MobilenetV1_025_32"
    assert camel("m_1_model") == "M_1Model"


def test_c_string_escapes_quotes_backslashes_and_non_ascii():
    assert c_string('say "hi"') == r'"say \"hi\""'
    assert c_string("back\\slash") == r'"back\\slash"'
    assert c_string("café") == r'"caf\303\251"'
    assert c_string("a?b\n1") == r'"a\?b\0121"'  # octal escapes are 3 digits: the '1' stays a '1'


def test_tflm_method_names_follow_the_resolver():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema_fb

    assert set(TFLM_BUILTINS) <= set(vars(schema_fb.BuiltinOperator))
    expected = {"CONV_2D": "AddConv2D", "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D", "MEAN": "AddMean",
                "FULLY_CONNECTED": "AddFullyConnected", "SOFTMAX": "AddSoftmax", "AVERAGE_POOL_2D": "AddAveragePool2D",
                "RELU6": "AddRelu6", "PADV2": "AddPadV2", "BATCH_MATMUL": "AddBatchMatMul", "ADD_N": "AddAddN",
                "BATCH_TO_SPACE_ND": "AddBatchToSpaceNd", "L2_NORMALIZATION": "AddL2Normalization",
                "UNIDIRECTIONAL_SEQUENCE_LSTM": "AddUnidirectionalSequenceLSTM", "CUMSUM": "AddCumSum",
                "HARD_SWISH": "AddHardSwish", "SPLIT_V": "AddSplitV", "SELECT_V2": "AddSelectV2",
                "CUSTOM:TFLite_Detection_PostProcess": "AddDetectionPostprocess"}
    assert {op: tflm_method(op) for op in expected} == expected
    assert tflm_method("FAKE_OP") is None and tflm_method("CUSTOM:MyOp") is None


def fake_model(*ops) -> TfliteModel:
    return TfliteModel(source="fake.tflite", ops=ops, inputs=(), outputs=(), softmax_input=None, is_int8=True,
                       subgraphs=1, tensors=0)


def test_unsupported_op_names_op_and_layer():
    with pytest.raises(ModelError) as caught:
        resolver_methods(fake_model("CONV_2D", "FAKE_OP", "MEAN", "FAKE_OP"))
    message = str(caught.value)
    assert "FAKE_OP" in message and "layer 1" in message and "MicroMutableOpResolver" in message
    with pytest.raises(ModelError, match="CUSTOM:MyOp.*layer 0"):
        resolver_methods(fake_model("CUSTOM:MyOp"))


def test_resolver_methods_are_unique_and_sorted_by_op():
    assert resolver_methods(fake_model("SOFTMAX", "CONV_2D", "CONV_2D", "ADD")) == ["AddAdd", "AddConv2D", "AddSoftmax"]


def test_garbage_model_file_is_refused(tmp_path):
    (tmp_path / "bad.tflite").write_bytes(b"not a model at all")
    with pytest.raises(ModelError, match="not a TFLite model"):
        write_c_array(tmp_path / "bad.tflite", tmp_path / "out", NAME, LABELS, ARENA)
    with pytest.raises(ModelError, match="cannot read"):
        write_c_array(tmp_path / "missing.tflite", tmp_path / "out", NAME, LABELS, ARENA)


@pytest.mark.slow
def test_files_and_round_trip(written, model_path):
    assert set(written) == KINDS
    assert [path.name for path in written.values()] == [f"{NAME}_model_data.cc", f"{NAME}_model_data.h",
                                                        f"{NAME}_op_resolver.h"]
    assert parse_c_array(written["tflm_c_source"]) == model_path.read_bytes()
    assert sorted(path.name for path in written["tflm_c_source"].parent.iterdir()) == sorted(
        path.name for path in written.values())  # no temporary files left behind
    source = written["tflm_c_source"].read_text()
    assert f'#include "{NAME}_model_data.h"' in source
    assert f"alignas(16) const unsigned char g_{NAME}_model_data[] = {{\n  0x" in source
    assert f"const unsigned int g_{NAME}_model_data_len = {model_path.stat().st_size};" in source
    rows = source.split("{\n", 1)[1].split("\n};", 1)[0].splitlines()
    counts = [len([token for token in row.split(",") if token.strip()]) for row in rows]
    assert set(counts[:-1]) == {12} and 1 <= counts[-1] <= 12  # 12 bytes a line, like xxd -i


@pytest.mark.slow
def test_header_constants(written, model_path):
    header = written["tflm_c_header"].read_text()
    model = read_tflite(model_path.read_bytes())
    prefix = "kMobilenetV1_025_32"
    assert f"constexpr int {prefix}InputDims[4] = {{1, 32, 32, 1}};" in header
    assert f"constexpr int {prefix}OutputDims[2] = {{1, 3}};" in header
    assert f"constexpr int {prefix}InputZeroPoint = {model.inputs[0].zero_point};" in header
    assert f"constexpr float {prefix}OutputScale = 0.00390625f;" in header
    assert f"constexpr int {prefix}NumClasses = 3;" in header
    assert r'"say \"hi\""' in header and r'"back\\slash"' in header and r'"caf\303\251"' in header
    assert f"constexpr unsigned int {prefix}TensorArenaSize = {ARENA};" in header
    assert "64-bit" in header and "32-bit" in header and "upper estimate" in header


@pytest.mark.slow
def test_sources_compile_and_carry_the_model(written, model_path, tmp_path):
    compile_cxx("-fsyntax-only", written["tflm_c_source"])
    main = tmp_path / "main.cc"
    main.write_text(f'#include <cstdio>\n#include "{NAME}_model_data.h"\n'
                    "int main() {\n"
                    f"  for (const char* label : kMobilenetV1_025_32Labels) std::printf(\"%s\\n\", label);\n"
                    f"  std::printf(\"%u %u %d\\n\", g_{NAME}_model_data_len, kMobilenetV1_025_32TensorArenaSize,"
                    " kMobilenetV1_025_32InputZeroPoint);\n"
                    f"  std::printf(\"%d\\n\", (int)(reinterpret_cast<unsigned long>(g_{NAME}_model_data) % 16));\n"
                    "}\n")
    program = tmp_path / "program"
    compile_cxx(f"-I{written['tflm_c_header'].parent}", main, written["tflm_c_source"], "-o", program)
    output = subprocess.run([program], capture_output=True, timeout=60, check=True).stdout
    zero_point = read_tflite(model_path.read_bytes()).inputs[0].zero_point
    expected = "\n".join([*LABELS, f"{model_path.stat().st_size} {ARENA} {zero_point}", "0", ""]).encode("utf-8")
    assert output == expected


@pytest.mark.slow
def test_op_resolver_registers_exactly_the_models_ops(written, tmp_path):
    text = written["tflm_op_resolver"].read_text()
    calls = [line.split("resolver.")[1].split("(")[0] for line in text.splitlines() if "resolver.Add" in line]
    assert calls == ["AddConv2D", "AddDepthwiseConv2D", "AddMean", "AddReshape", "AddSoftmax"]
    assert '#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"' in text
    assert "constexpr unsigned int kMobilenetV1_025_32OpCount = 5;" in text
    assert "using MobilenetV1_025_32OpResolver = tflite::MicroMutableOpResolver<kMobilenetV1_025_32OpCount>;" in text
    assert "inline TfLiteStatus RegisterMobilenetV1_025_32Ops(MobilenetV1_025_32OpResolver& resolver)" in text
    # Against a stand-in for TFLM's header with the same method names: checks the generated C++ itself.
    stub = tmp_path / "tensorflow/lite/micro/micro_mutable_op_resolver.h"
    stub.parent.mkdir(parents=True)
    methods = "".join(f"  TfLiteStatus {tflm_method(op)}() {{ return kTfLiteOk; }}\n" for op in TFLM_BUILTINS)
    stub.write_text("enum TfLiteStatus { kTfLiteOk, kTfLiteError };\nnamespace tflite {\n"
                    f"template <unsigned int tOpCount> class MicroMutableOpResolver {{\n public:\n{methods}}};\n}}\n")
    main = tmp_path / "use.cc"
    main.write_text(f'#include "{NAME}_op_resolver.h"\n'
                    "int main() { static MobilenetV1_025_32OpResolver r; return RegisterMobilenetV1_025_32Ops(r); }\n")
    compile_cxx("-fsyntax-only", f"-I{tmp_path}", f"-I{written['tflm_op_resolver'].parent}", main)


@pytest.mark.slow
def test_output_is_deterministic(model_path, written, tmp_path):
    again = write_c_array(model_path, tmp_path / "again", NAME, LABELS, ARENA)
    for kind in KINDS:
        assert again[kind].read_bytes() == written[kind].read_bytes()
    rewritten = write_c_array(model_path, tmp_path / "again", NAME, LABELS, ARENA)
    assert all(rewritten[kind].read_bytes() == written[kind].read_bytes() for kind in KINDS)


@pytest.mark.slow
def test_odd_file_names_stay_out_of_the_code(model_path, tmp_path):
    odd = tmp_path / "mod\u00e8le \\ weird\n.tflite"
    odd.write_bytes(model_path.read_bytes())
    files = write_c_array(odd, tmp_path / "out", "2 modèles!", ["a", "b", "c"], ARENA)
    assert files["tflm_c_source"].name == "m_2_mod_les_model_data.cc"
    assert "from mod?le ? weird?.tflite (sha256" in files["tflm_c_header"].read_text()
    compile_cxx("-fsyntax-only", files["tflm_c_source"])


@pytest.mark.slow
def test_labels_must_match_classes_and_arena_must_be_positive(model_path, tmp_path):
    with pytest.raises(ModelError, match="3 classes but 2 labels"):
        write_c_array(model_path, tmp_path, NAME, LABELS[:2], ARENA)
    for arena in (0, -1, 1.5, True):
        with pytest.raises(ModelError, match="tensor arena size"):
            write_c_array(model_path, tmp_path, NAME, LABELS, arena)


def test_parse_c_array_refuses_inconsistent_files(tmp_path):
    good = "alignas(16) const unsigned char g_m_model_data[] = {\n  0x1c, 0x00, 0xff\n};\n" \
           "const unsigned int g_m_model_data_len = 3;\n"
    path = tmp_path / "m_model_data.cc"
    path.write_text(good)
    assert parse_c_array(path) == b"\x1c\x00\xff"
    for bad, words in [(good.replace("= 3;", "= 4;"), "holds 3 bytes but _len says 4"),
                       (good.replace("0xff", "0xfff"), "not a byte"),
                       (good.replace("0x00, ", ""), "holds 2 bytes"),
                       ("int x;\n", "no model data array")]:
        path.write_text(bad)
        with pytest.raises(ModelError, match=words):
            parse_c_array(path)
    with pytest.raises(ModelError, match="cannot read"):
        parse_c_array(tmp_path / "missing.cc")
