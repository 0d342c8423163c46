"""Element-wise int8 operators -> C (kernels/kernels_elementwise.c): ADD and MUL of two tensors with TFLite's
broadcasting (a residual connection; squeeze-and-excite's [1,1,1,C] gate times [1,H,W,C]; a constant scalar), and
HARD_SWISH. Parameters are derived as LiteRT's reference kernels derive them (engine.quant)."""
import numpy as np

from mnd.engine import quant
from mnd.engine.op_base import OpEmission, _array, _Op, _struct

RANK = 4


def _dims(o: _Op, index: int) -> tuple:
    shape = o.shape(index)
    if len(shape) > RANK:
        o.fail(f"tensor {index} has shape {list(shape)}", f"tensors of at most {RANK} dimensions")
    return (1,) * (RANK - len(shape)) + shape


def broadcast_strides(in_shape: tuple, out_shape: tuple) -> list | None:
    """Element strides of a row-major input for each output axis (0 where it is broadcast), or None when the
    input does not broadcast to the output (shapes aligned on the right, as TFLite's)."""
    strides, step = [0] * RANK, 1
    for axis in reversed(range(RANK)):
        if in_shape[axis] not in (1, out_shape[axis]):
            return None
        strides[axis] = step if in_shape[axis] > 1 else 0
        step *= in_shape[axis]
    return strides


def _operands(o: _Op, out_shape: tuple) -> tuple:
    """(C expressions of the two operands, activation tensors read, constant arrays, strides per operand)."""
    expressions, activations, constants, strides = [], [], [], []
    for position, index in enumerate(o.inputs):
        found = broadcast_strides(_dims(o, index), out_shape)
        if found is None:
            o.fail(f"input shape {list(o.shape(index))} does not broadcast to {list(out_shape)}",
                   "inputs that broadcast to the output shape")
        strides.append(found)
        o.scale_zp(index)  # int8 with one scale and zero point
        if o.is_constant(index):
            name = f"{o.prefix}operand{position}"
            constants.append(_array(name, "int8_t", o.data(index, np.int8)))
            expressions.append(name)
        else:
            expressions.append(f"{{in{len(activations)}}}")
            activations.append(index)
    if not activations:
        o.fail("both inputs are constants", "at least one activation input (the converter folds constants)")
    return expressions, activations, constants, strides


def _binary(o: _Op) -> OpEmission:
    if len(o.inputs) != 2 or min(o.inputs) < 0:
        o.fail(f"{len(o.inputs)} inputs", "two inputs")
    dst = o.outputs[0]
    out_shape = _dims(o, dst)
    expressions, activations, constants, strides = _operands(o, out_shape)
    (scale1, zp1), (scale2, zp2) = o.scale_zp(o.inputs[0]), o.scale_zp(o.inputs[1])
    out_scale, out_zp = o.scale_zp(dst)
    act_min, act_max = o.act_range(dst)
    if o.name == "ADD":
        rescale = quant.add_params(scale1, scale2, out_scale)
        if max(rescale["input1_shift"], rescale["input2_shift"], rescale["output_shift"]) > 0:
            o.fail(f"scales {scale1}, {scale2} -> {out_scale} need a multiplier above one",
                   "output scales above 2 * max(input scale) / 2^20, as the reference kernel")
    else:
        multiplier, shift = quant.mul_multiplier(scale1, scale2, out_scale)
        rescale = {"left_shift": 0, "input1_multiplier": 0, "input1_shift": 0, "input2_multiplier": 0,
                   "input2_shift": 0, "output_multiplier": multiplier, "output_shift": shift}
    fields = {"shape": _c_list(out_shape), "stride1": _c_list(strides[0]), "stride2": _c_list(strides[1]),
              "input1_offset": -zp1, "input2_offset": -zp2, "output_offset": out_zp, "act_min": act_min,
              "act_max": act_max, **rescale}
    constants.append(_struct(f"{o.prefix}params", "mnd_elementwise_params", fields))
    function = kernel_function("mnd_add_s8" if o.name == "ADD" else "mnd_mul_s8", o.kernels)
    call = (f"{function}(&{o.prefix}params, (const int8_t*)({expressions[0]}), (const int8_t*)({expressions[1]}), "
            "(int8_t*)({out0}));")
    return OpEmission(constants, call, tuple(activations), dst, 0)


def kernel_function(portable: str, kernels: str) -> str:
    """The kernel set's variant of a portable element-wise kernel: mnd_add_s8 -> mnd_add_dsp_s8 / mnd_add_mve_s8
    (kernels_elementwise_dsp.c / _mve.c; HARD_SWISH has no DSP variant)."""
    if kernels == "portable" or (kernels == "dsp" and portable == "mnd_hard_swish_s8"):
        return portable
    return portable.removesuffix("_s8") + f"_{kernels}_s8"


def _c_list(values) -> str:
    return "{" + ", ".join(str(int(v)) for v in values) + "}"


def _hard_swish(o: _Op) -> OpEmission:
    src, dst = o.inputs[0], o.outputs[0]
    if o.size(src) != o.size(dst):
        o.fail(f"input {list(o.shape(src))} and output {list(o.shape(dst))}", "equal input and output shapes")
    (in_scale, in_zp), (out_scale, out_zp) = o.scale_zp(src), o.scale_zp(dst)
    params = quant.hard_swish_params(in_scale, out_scale)
    if params["output_exponent"] > 0:
        o.fail(f"input scale {in_scale} over output scale {out_scale} x 128 exceeds one",
               "an output scale at least 1/128 of the input scale, as the reference kernel")
    fields = {"size": o.size(src), "input_zero_point": in_zp, "output_zero_point": out_zp, **params}
    function = kernel_function("mnd_hard_swish_s8", o.kernels)
    call = f"{function}(&{o.prefix}params, (const int8_t*)({{in0}}), (int8_t*)({{out0}}));"
    return OpEmission([_struct(f"{o.prefix}params", "mnd_hard_swish_params", fields)], call, (src,), dst, 0)


EMITTERS = {"ADD": _binary, "MUL": _binary, "HARD_SWISH": _hard_swish}
