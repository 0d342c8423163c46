"""TFLite-Micro C sources: the model as a byte array, a header of constants, and an op resolver header.

Firmware needs nothing else: the header carries input/output shapes and quantization, the labels and the
tensor arena size; the resolver header registers exactly the model's ops. Output is a pure function of
the inputs (no timestamps, no absolute paths), so the same model gives byte-identical files.
"""
import hashlib
import math
import numbers
import re
from pathlib import Path

import numpy as np

from mnd.base.errors import ModelError
from mnd.base.tflite.read import TfliteModel, read_tflite, unique_ops

BYTES_PER_LINE = 12  # like `xxd -i`
# C and C++ keywords, plus names the generated code would shadow.
KEYWORDS = frozenset("""
alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t char32_t class
compl concept const consteval constexpr constinit const_cast continue co_await co_return co_yield decltype
default delete do double dynamic_cast else enum explicit export extern false float for friend goto if inline
int long mutable namespace new noexcept not not_eq nullptr operator or or_eq private protected public register
reinterpret_cast requires restrict return short signed sizeof static static_assert static_cast struct switch
template this thread_local throw true try typedef typeid typename union unsigned using virtual void volatile
wchar_t while xor xor_eq _bool _complex _imaginary _alignas _alignof _atomic _generic _noreturn
_static_assert _thread_local main std tflite""".split())
# Builtin ops that tflite::MicroMutableOpResolver can register (tensorflow/tflite-micro,
# tensorflow/lite/micro/micro_mutable_op_resolver.h). Method = "Add" + CamelCase(op) unless overridden.
TFLM_BUILTINS = tuple("""
ABS ADD ADD_N ARG_MAX ARG_MIN ASSIGN_VARIABLE AVERAGE_POOL_2D BATCH_MATMUL BATCH_TO_SPACE_ND BROADCAST_ARGS
BROADCAST_TO CALL_ONCE CAST CEIL CONCATENATION CONV_2D COS CUMSUM DEPTH_TO_SPACE DEPTHWISE_CONV_2D DEQUANTIZE
DIV ELU EMBEDDING_LOOKUP EQUAL EXP EXPAND_DIMS FILL FLOOR FLOOR_DIV FLOOR_MOD FULLY_CONNECTED GATHER GATHER_ND
GREATER GREATER_EQUAL HARD_SWISH IF L2_NORMALIZATION L2_POOL_2D LEAKY_RELU LESS LESS_EQUAL LOG LOG_SOFTMAX
LOGICAL_AND LOGICAL_NOT LOGICAL_OR LOGISTIC MAX_POOL_2D MAXIMUM MEAN MINIMUM MIRROR_PAD MUL NEG NOT_EQUAL PACK
PAD PADV2 PRELU QUANTIZE READ_VARIABLE REDUCE_MAX REDUCE_MIN RELU RELU6 RESHAPE RESIZE_BILINEAR
RESIZE_NEAREST_NEIGHBOR REVERSE_V2 ROUND RSQRT SELECT_V2 SHAPE SIN SLICE SOFTMAX SPACE_TO_BATCH_ND
SPACE_TO_DEPTH SPLIT SPLIT_V SQRT SQUARE SQUARED_DIFFERENCE SQUEEZE STRIDED_SLICE SUB SUM SVDF TANH TRANSPOSE
TRANSPOSE_CONV UNIDIRECTIONAL_SEQUENCE_LSTM UNPACK VAR_HANDLE WHILE ZEROS_LIKE""".split())
METHOD_OVERRIDES = {
    "BATCH_MATMUL": "AddBatchMatMul", "CUMSUM": "AddCumSum", "PADV2": "AddPadV2",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "AddUnidirectionalSequenceLSTM",
    # Custom ops that TFLM registers by name.
    "CUSTOM:TFLite_Detection_PostProcess": "AddDetectionPostprocess", "CUSTOM:CIRCULAR_BUFFER": "AddCircularBuffer",
    "CUSTOM:ethos-u": "AddEthosU",
}
ARENA_COMMENT = """\
// Tensor arena size in bytes: measured with the host (64-bit) TFLM interpreter by searching for the
// smallest arena with which the model allocates and runs. A 32-bit target needs less (pointers and TFLM's
// bookkeeping structs are smaller there): an upper estimate for a 32-bit core, not an exact figure."""


def c_identifier(name: str) -> str:
    """A valid, lowercase C/C++ identifier for `name` (never a keyword, never a reserved `_x`/`__` form)."""
    ident = re.sub(r"_+", "_", re.sub(r"[^a-z0-9]", "_", name.lower())).strip("_") or "model"
    return f"m_{ident}" if ident[0].isdigit() or ident in KEYWORDS else ident


def camel(ident: str) -> str:
    """'mobilenet_v1_025_32' -> 'MobilenetV1_025_32' (digit-led parts keep an underscore)."""
    return "".join(f"_{part}" if part[0].isdigit() else part[0].upper() + part[1:] for part in ident.split("_") if part)


def tflm_method(op: str):
    """The MicroMutableOpResolver method registering `op`, or None when TFLM has none."""
    if op in METHOD_OVERRIDES:
        return METHOD_OVERRIDES[op]
    if op not in TFLM_BUILTINS:
        return None
    return "Add" + "".join(part if part[0].isdigit() else part.capitalize() for part in op.split("_"))


def resolver_methods(model: TfliteModel) -> list:
    """One Add* method per unique op, sorted by op name; ModelError for the first op TFLM cannot run."""
    methods = []
    for op in unique_ops(model):
        method = tflm_method(op)
        if method is None:
            layer = model.ops.index(op)
            raise ModelError(f"{model.source}: op {op} (layer {layer}, first of {model.ops.count(op)}) has no "
                             "registration in TFLM's op resolver (tflite::MicroMutableOpResolver has no Add* method "
                             "for it); rebuild the model from TFLM-supported ops or deploy it to a LiteRT target")
        methods.append(method)
    return methods


def write_c_array(model_path: Path, out_dir: Path, name: str, labels: list, arena_bytes: int) -> dict:
    """Write <id>_model_data.cc/.h and <id>_op_resolver.h into out_dir; returns artifact kind -> path."""
    model_path, out_dir = Path(model_path), Path(out_dir)
    try:
        data = model_path.read_bytes()
    except OSError as error:
        raise ModelError(f"cannot read {model_path}: {error.strerror}; export the .tflite model first") from None
    model = read_tflite(data, source=str(model_path))
    labels = list(labels)
    _check_inputs(model, labels, arena_bytes)
    ident = c_identifier(name)
    origin = f"// Generated by mnd from {comment_safe(model_path.name)} (sha256 {hashlib.sha256(data).hexdigest()}). Do not edit.\n"
    files = {
        "tflm_c_source": (f"{ident}_model_data.cc", origin + source_text(ident, data)),
        "tflm_c_header": (f"{ident}_model_data.h", origin + header_text(ident, model, labels, arena_bytes)),
        "tflm_op_resolver": (f"{ident}_op_resolver.h", origin + resolver_text(ident, resolver_methods(model))),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for kind, (filename, text) in files.items():  # the caller builds the whole run in a staging directory
        (out_dir / filename).write_text(text, encoding="ascii", newline="\n")
        written[kind] = out_dir / filename
    return written


def _check_inputs(model: TfliteModel, labels: list, arena_bytes: int):
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ModelError(f"{model.source}: has {len(model.inputs)} inputs and {len(model.outputs)} outputs; the C "
                         "array header describes a classifier with one input and one output")
    if not model.inputs[0].shape or not model.outputs[0].shape:
        raise ModelError(f"{model.source}: input or output tensor has no shape; re-export with a fixed input shape")
    classes = model.outputs[0].shape[-1]
    if len(labels) != classes:
        raise ModelError(f"{model.source}: outputs {classes} classes but {len(labels)} labels were given; "
                         "pass one label per class, in output order")
    if isinstance(arena_bytes, bool) or not isinstance(arena_bytes, numbers.Integral) or arena_bytes <= 0:
        raise ModelError(f"tensor arena size {arena_bytes!r} is not a positive byte count; measure it with the "
                         "host TFLM interpreter before writing the C array")


HEX = tuple(f"0x{value:02x}" for value in range(256))


def source_text(ident: str, data: bytes) -> str:
    rows = (", ".join(HEX[value] for value in data[start:start + BYTES_PER_LINE])
            for start in range(0, len(data), BYTES_PER_LINE))
    return (f'#include "{ident}_model_data.h"\n\n'
            "// 16-byte aligned: TFLM reads weights in place and some kernels need aligned buffers.\n"
            f"alignas(16) const unsigned char g_{ident}_model_data[] = {{\n  " + ",\n  ".join(rows) + "\n};\n"
            f"const unsigned int g_{ident}_model_data_len = {len(data)};\n")


def c_string(text: str) -> str:
    """A C string literal for `text`: UTF-8 bytes, non-printable/non-ASCII as 3-digit octal escapes."""
    out = []
    for byte in text.encode("utf-8"):
        char = chr(byte)
        if char in '"\\?':  # '?' too: no trigraphs
            out.append("\\" + char)
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            out.append(f"\\{byte:03o}")  # octal stops after 3 digits, unlike \x which eats what follows
    return '"' + "".join(out) + '"'


def comment_safe(text: str) -> str:
    """Text for a // comment: printable ASCII only, no backslash (a trailing one would splice lines)."""
    return "".join(char if " " <= char <= "~" and char != "\\" else "?" for char in text)


def c_float(value: float) -> str:
    if not math.isfinite(value):
        raise ModelError(f"quantization scale {value} is not finite; re-quantize the model")
    text = f"{value:.9g}"  # 9 significant digits round-trip a float32
    return text + ("f" if any(c in text for c in ".e") else ".0f")


def _tensor_lines(prefix: str, role: str, tensor) -> list:
    dims = ", ".join(str(dim) for dim in tensor.shape)
    try:
        size = int(np.prod(tensor.shape)) * np.dtype(tensor.dtype).itemsize
    except TypeError:
        size = None
    return [
        f"// {role} tensor '{comment_safe(tensor.name)}': {tensor.dtype}"
        + (", real = scale * (q - zero_point)" if tensor.quantized else ", not quantized (scale 0)"),
        f"constexpr int {prefix}{role}Rank = {len(tensor.shape)};",
        f"constexpr int {prefix}{role}Dims[{len(tensor.shape)}] = {{{dims}}};",
        *([f"constexpr unsigned int {prefix}{role}Bytes = {size};"] if size is not None else []),
        f"constexpr float {prefix}{role}Scale = {c_float(tensor.scale or 0.0)};",
        f"constexpr int {prefix}{role}ZeroPoint = {tensor.zero_point or 0};",
        "",
    ]


def header_text(ident: str, model: TfliteModel, labels: list, arena_bytes: int) -> str:
    prefix, guard = "k" + camel(ident), f"{ident.upper()}_MODEL_DATA_H_"
    label_rows = "".join(f"    {c_string(label)},\n" for label in labels)
    lines = [
        f"#ifndef {guard}", f"#define {guard}", "",
        "// The .tflite flatbuffer (defined, 16-byte aligned, in the matching .cc file).",
        f"extern const unsigned char g_{ident}_model_data[];",
        f"extern const unsigned int g_{ident}_model_data_len;", "",
        *_tensor_lines(prefix, "Input", model.inputs[0]),
        *_tensor_lines(prefix, "Output", model.outputs[0]),
        f"constexpr int {prefix}NumClasses = {len(labels)};",
        "// Class labels (UTF-8), in output order.",
        f"const char* const {prefix}Labels[{prefix}NumClasses] = {{\n{label_rows}}};", "",
        ARENA_COMMENT,
        f"constexpr unsigned int {prefix}TensorArenaSize = {int(arena_bytes)};", "",
        f"#endif  // {guard}", "",
    ]
    return "\n".join(lines)


def resolver_text(ident: str, methods: list) -> str:
    name, guard = camel(ident), f"{ident.upper()}_OP_RESOLVER_H_"
    calls = "".join(f"  if (resolver.{method}() != kTfLiteOk) return kTfLiteError;\n" for method in methods)
    return (
        f"#ifndef {guard}\n#define {guard}\n\n"
        '#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"\n\n'
        f"// The {len(methods)} distinct operators this model uses, registered with TFLM's real Add* methods.\n"
        "// A function filling the caller's resolver rather than one returning a resolver: the resolver holds\n"
        "// arrays of registrations and must outlive the interpreter, and TFLM does not promise it can be\n"
        "// copied or moved. Usage:\n"
        f"//   static {name}OpResolver resolver;\n"
        f"//   if (Register{name}Ops(resolver) != kTfLiteOk) {{ /* handle */ }}\n"
        f"constexpr unsigned int k{name}OpCount = {len(methods)};\n"
        f"using {name}OpResolver = tflite::MicroMutableOpResolver<k{name}OpCount>;\n\n"
        f"inline TfLiteStatus Register{name}Ops({name}OpResolver& resolver) {{\n{calls}"
        "  return kTfLiteOk;\n}\n\n"
        f"#endif  // {guard}\n")


def parse_c_array(cc_path: Path) -> bytes:
    """The bytes of a generated .cc file's array, checked against its _len constant."""
    try:
        text = Path(cc_path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as error:
        raise ModelError(f"cannot read C array {cc_path}: {error}; regenerate it with write_c_array") from None
    body = re.search(r"_model_data\[\]\s*=\s*\{([^}]*)\}\s*;", text)
    length = re.search(r"_model_data_len\s*=\s*(\d+)u?\s*;", text)
    if not body or not length:
        raise ModelError(f"{cc_path}: no model data array or _len constant found; regenerate it with write_c_array")
    tokens = [token.strip() for token in body.group(1).split(",")]
    if tokens and not tokens[-1]:
        tokens.pop()  # a trailing comma
    bad = next((token for token in tokens if not re.fullmatch(r"0[xX][0-9a-fA-F]{1,2}", token)), None)
    if bad is not None:
        raise ModelError(f"{cc_path}: {bad[:20]!r} is not a byte in 0x.. form; regenerate it with write_c_array")
    data = bytes(int(token, 16) for token in tokens)
    if len(data) != int(length.group(1)):
        raise ModelError(f"{cc_path}: array holds {len(data)} bytes but _len says {length.group(1)}; "
                         "the file was truncated or edited — regenerate it with write_c_array")
    return data
