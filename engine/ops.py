"""One int8 TFLite operator -> C: its constant arrays, its parameter struct and one call into runtime/kernels.c.

`emit_op(model, graph, op_index, prefix)` reads the flatbuffer object API (`ModelT` / `SubGraphT` from the
schema module shipped with tflite-micro) and derives every integer parameter with engine.quant, so
the generated code computes what LiteRT's reference kernels and TFLite-Micro compute. Anything the kernels do
not implement raises UnsupportedOp naming the op, the layer and what is supported.
"""
from dataclasses import dataclass

import numpy as np

from mnd.engine import constant_channels, layouts, layouts_mve, ops_elementwise, quant
from mnd.engine.op_base import (KERNEL_SETS, OpEmission, UnsupportedOp, _array, _call, _nhwc, _Op,  # noqa: F401
                                _struct)


def _requant_arrays(o: _Op, multipliers, shifts, weights, bias, weights_aligned: int = 0) -> tuple:
    p = o.prefix
    constants = [_array(f"{p}weights", "int8_t", weights, weights_aligned),
                 _array(f"{p}multiplier", "int32_t", multipliers),
                 _array(f"{p}shift", "int32_t", shifts)]
    if bias is not None:
        constants.append(_array(f"{p}bias", "int32_t", bias))
    refs = {"weights": f"{p}weights", "bias": f"{p}bias" if bias is not None else "0",
            "multiplier": f"{p}multiplier", "shift": f"{p}shift"}
    return constants, refs


def _window(o: _Op, in_hw: tuple, kernel: tuple, out_hw: tuple) -> dict:
    """Strides, dilations and padding of a CONV_2D / DEPTHWISE_CONV_2D / AVERAGE_POOL_2D window."""
    opts = o.options
    same = int(opts.padding) == o.schema.Padding.SAME
    stride = (int(opts.strideH), int(opts.strideW))
    dilation = (int(getattr(opts, "dilationHFactor", 1) or 1), int(getattr(opts, "dilationWFactor", 1) or 1))
    fields = {}
    for axis, name in ((0, "h"), (1, "w")):
        expected = quant.output_size(same, in_hw[axis], kernel[axis], stride[axis], dilation[axis])
        if stride[axis] < 1 or dilation[axis] < 1 or expected != out_hw[axis]:
            o.fail(f"output {name} {out_hw[axis]} does not follow from input {in_hw[axis]}, kernel {kernel[axis]}, "
                   f"stride {stride[axis]}, dilation {dilation[axis]}", "SAME and VALID padding with strides >= 1")
        fields[f"stride_{name}"] = stride[axis]
        fields[f"dilation_{name}"] = dilation[axis]
        pad = quant.same_padding(in_hw[axis], kernel[axis], stride[axis], dilation[axis], out_hw[axis]) if same else 0
        fields["pad_top" if axis == 0 else "pad_left"] = pad
    return fields


@dataclass(frozen=True)
class _Kernel:
    function: str
    weights: np.ndarray  # as the kernel reads them
    scratch_bytes: int = 0


# Convolutions with at most this many weight bytes get them widened to int16 ahead of time (twice the flash; the
# early, shallow layers of a MobileNet, where the widening is the larger share of the work). 1x1 layers whose
# widened weights fit in WIDEN_MAX_SCRATCH_BYTES of arena and are used by enough pixel pairs widen them at run time.
W16_MAX_WEIGHT_BYTES = 8192
WIDEN_MAX_SCRATCH_BYTES = 32768
WIDEN_MIN_PIXEL_PAIRS = 8


def _gemm_kernel(name: str, weights: np.ndarray, scratch_bytes: int, pixels: int) -> _Kernel:
    """mnd_pointwise_dsp_s8 / mnd_pointwise_pixel_dsp_s8 (a 1x1 image) / mnd_conv_dsp_s8 ([out_c][depth] weights),
    or its _w16 twin for small layers, or the run-time widening one for mid-sized 1x1 layers."""
    if weights.size <= W16_MAX_WEIGHT_BYTES:
        return _Kernel(name.replace("_dsp_s8", "_w16_dsp_s8"), layouts.gemm_w16(weights), scratch_bytes)
    widened = layouts.widened_bytes(weights.shape[1], weights.shape[0])
    if name == "mnd_pointwise_dsp_s8" and widened <= WIDEN_MAX_SCRATCH_BYTES and (pixels + 1) // 2 >= \
            WIDEN_MIN_PIXEL_PAIRS:
        return _Kernel("mnd_pointwise_widen_dsp_s8", layouts.pointwise_dsp(weights), widened + scratch_bytes)
    return _Kernel(name, layouts.pointwise_dsp(weights), scratch_bytes)


def _dsp_kernel(fields: dict, depthwise: bool, per_channel):
    """The DSP kernel for a CONV_2D / DEPTHWISE_CONV_2D with these fields, or None where it does not apply."""
    pixels = fields["out_h"] * fields["out_w"]
    unit_steps = all(fields[k] == 1 for k in ("stride_h", "stride_w", "dilation_h", "dilation_w"))
    k = fields["k_h"]
    if depthwise and k in (3, 5) and (fields["k_w"], fields["depth_multiplier"]) == (k, 1) \
            and fields["dilation_h"] == fields["dilation_w"] == 1:
        return _Kernel(f"mnd_depthwise{k}x{k}_dsp_s8", layouts.depthwise_dsp(per_channel),
                       layouts.depthwise_dsp_scratch(fields["out_c"], fields["out_w"], fields["stride_w"], k))
    if not depthwise and (fields["k_h"], fields["k_w"], fields["pad_top"], fields["pad_left"]) == (1, 1, 0, 0) \
            and unit_steps:
        return _gemm_kernel("mnd_pointwise_pixel_dsp_s8" if pixels == 1 else "mnd_pointwise_dsp_s8", per_channel,
                            layouts.pointwise_dsp_scratch(fields["in_c"], fields["out_c"]), pixels)
    if not depthwise:
        return _gemm_kernel("mnd_conv_dsp_s8", per_channel,
                            layouts.conv_dsp_scratch(per_channel.shape[1], fields["out_c"]), pixels)
    return None


def _mve_kernel(fields: dict, depthwise: bool, per_channel):
    """The MVE kernel for a CONV_2D / DEPTHWISE_CONV_2D with these fields, or None where it does not apply."""
    if depthwise:
        if (fields["depth_multiplier"], fields["dilation_h"], fields["dilation_w"]) != (1, 1, 1) \
                or (fields["k_h"], fields["k_w"]) not in ((3, 3), (5, 5)):
            return None
        if fields["k_h"] == 5:
            return _Kernel("mnd_depthwise5x5_mve_s8", layouts_mve.depthwise_small_mve(per_channel),
                           layouts_mve.depthwise_small_mve_scratch(fields["out_c"], 25))
        plane_scratch = layouts_mve.depthwise_mve_scratch(*(fields[k] for k in ("in_h", "in_w", "out_h", "out_w",
                                                                                 "stride_h", "stride_w")))
        if not layouts_mve.depthwise_plane_pays(fields["out_w"], fields["stride_w"], fields["out_c"]) \
                or not layouts_mve.depthwise_mve_fits(fields["in_c"], fields["stride_w"], plane_scratch):
            return _Kernel("mnd_depthwise3x3_small_mve_s8", layouts_mve.depthwise_small_mve(per_channel),
                           layouts_mve.depthwise_small_mve_scratch(fields["out_c"]))
        return _Kernel("mnd_depthwise3x3_mve_s8", layouts_mve.depthwise_mve(per_channel), plane_scratch)
    dense_1x1 = (fields["k_h"], fields["k_w"], fields["pad_top"], fields["pad_left"]) == (1, 1, 0, 0) \
        and all(fields[k] == 1 for k in ("stride_h", "stride_w"))
    if dense_1x1:
        return _Kernel("mnd_pointwise_mve_s8", layouts_mve.pointwise_mve(per_channel),
                       layouts_mve.pointwise_mve_scratch(fields["out_c"]))
    return _Kernel("mnd_conv_im2col_mve_s8", layouts_mve.im2col_mve(per_channel),
                   layouts_mve.im2col_mve_scratch(per_channel.shape[1], fields["out_c"]))


def _conv_kernel(o: _Op, fields: dict, depthwise: bool, per_channel) -> _Kernel:
    chosen = _dsp_kernel(fields, depthwise, per_channel) if o.kernels == "dsp" else None
    if o.kernels == "mve":
        chosen = _mve_kernel(fields, depthwise, per_channel)
    if chosen is not None:
        return chosen
    return _Kernel("mnd_depthwise_conv2d_s8" if depthwise else "mnd_conv2d_s8", per_channel)


def _conv(o: _Op) -> OpEmission:
    src, filt, dst = o.inputs[0], o.inputs[1], o.outputs[0]
    (in_h, in_w, in_c), (out_h, out_w, out_c) = _nhwc(o, src), _nhwc(o, dst)
    weights = o.weights(filt)
    depthwise = o.name == "DEPTHWISE_CONV_2D"
    if depthwise:
        _, k_h, k_w, w_out = weights.shape
        if w_out != out_c or out_c % in_c:
            o.fail(f"{in_c} input and {out_c} output channels", "output channels = input channels x depth multiplier")
        multiplier = out_c // in_c  # as TFLite, from the shapes (the option may be stale)
    else:
        w_out, k_h, k_w, w_in = weights.shape
        if w_in != in_c or w_out != out_c:
            o.fail(f"filter {list(weights.shape)} on {in_c} input channels", "ungrouped convolutions (OHWI filters)")
    in_scale, in_zp = o.scale_zp(src)
    out_scale, out_zp = o.scale_zp(dst)
    filter_scales = o.scales(filt)
    if len(filter_scales) not in (1, out_c):
        o.fail(f"{len(filter_scales)} filter scales for {out_c} channels", "per-tensor or per-channel filter scales")
    filter_scales = filter_scales * out_c if len(filter_scales) == 1 else filter_scales
    multipliers, shifts = quant.conv_multipliers(in_scale, filter_scales, out_scale)
    # The kernels take [out_c][taps] depthwise filters (each channel's taps contiguous) and biases with the input
    # zero point folded in; they read padding as the zero point, so the fold holds at the borders too.
    per_channel = weights.reshape(k_h * k_w, out_c).T if depthwise else weights.reshape(out_c, -1)
    bias = quant.fold_input_zero_point(o.bias(2, out_c), per_channel, in_zp)
    act_min, act_max = o.act_range(dst)
    fields = {"in_h": in_h, "in_w": in_w, "in_c": in_c, "out_h": out_h, "out_w": out_w, "out_c": out_c}
    if depthwise:
        fields["depth_multiplier"] = multiplier
    fields.update({"k_h": k_h, "k_w": k_w, **_window(o, (in_h, in_w), (k_h, k_w), (out_h, out_w)),
                   "input_zero_point": in_zp, "output_zero_point": out_zp, "act_min": act_min, "act_max": act_max})
    live, dead = list(range(out_c)), {}
    if o.kernels == "dsp" and not depthwise:  # channels whose output is one value: stored, never summed
        live, dead = constant_channels.split_channels(per_channel, bias, multipliers, shifts, out_zp, act_min,
                                                      act_max)
        multipliers, shifts = [multipliers[c] for c in live], [shifts[c] for c in live]
        bias = None if bias is None else bias[live]
    kernel = _conv_kernel(o, fields, depthwise, per_channel[live])
    constants, refs = _requant_arrays(o, multipliers, shifts, kernel.weights, bias, 4 if kernel.scratch_bytes else 0)
    dead_arrays, dead_fields = constant_channels.params_arrays(o.prefix, live, dead)
    constants += dead_arrays
    refs.update(dead_fields)
    ctype = "mnd_depthwise_params" if depthwise else "mnd_conv_params"
    constants.append(_struct(f"{o.prefix}params", ctype, {**fields, **refs}))
    macs = out_h * out_w * out_c * k_h * k_w * (1 if depthwise else in_c)
    call = _call(kernel.function, f"{o.prefix}params")
    if kernel.scratch_bytes:
        call = call.removesuffix(");") + ", (void*)({scratch}));"
    return OpEmission(constants, call, (src,), dst, macs, kernel.scratch_bytes)


def _avg_pool(o: _Op) -> OpEmission:
    src, dst = o.inputs[0], o.outputs[0]
    (in_h, in_w, channels), (out_h, out_w, out_c) = _nhwc(o, src), _nhwc(o, dst)
    if o.scale_zp(src) != o.scale_zp(dst) or out_c != channels:
        o.fail(f"input quantization {o.scale_zp(src)} differs from output {o.scale_zp(dst)}",
               "average pooling with equal input and output quantization")
    kernel = (int(o.options.filterHeight), int(o.options.filterWidth))
    window = _window(o, (in_h, in_w), kernel, (out_h, out_w))
    act_min, act_max = o.act_range(dst)
    fields = {"in_h": in_h, "in_w": in_w, "channels": channels, "out_h": out_h, "out_w": out_w,
              "k_h": kernel[0], "k_w": kernel[1], "stride_h": window["stride_h"], "stride_w": window["stride_w"],
              "pad_top": window["pad_top"], "pad_left": window["pad_left"], "act_min": act_min, "act_max": act_max}
    constants = [_struct(f"{o.prefix}params", "mnd_pool_params", fields)]
    function = "mnd_avg_pool_mve_s8" if o.kernels == "mve" else "mnd_avg_pool_s8"
    return OpEmission(constants, _call(function, f"{o.prefix}params"), (src,), dst, 0)


def _mean(o: _Op) -> OpEmission:
    src, dst = o.inputs[0], o.outputs[0]
    in_h, in_w, channels = _nhwc(o, src)
    axes = sorted({int(a) % 4 for a in o.data(o.inputs[1], np.int32).reshape(-1)})
    if axes != [1, 2] or o.size(dst) != channels:
        o.fail(f"reduction over axes {axes} of shape {list(o.shape(src))}", "MEAN over H and W of NHWC (axes 1 and 2)")
    (in_scale, in_zp), (out_scale, out_zp) = o.scale_zp(src), o.scale_zp(dst)
    # LiteRT 2.3's reference MEAN and TFLite-Micro both take QuantizedMeanOrSum here (keep_dims or not, equal
    # quantization or not): 1/count folded into the requantization multiplier.
    multiplier, shift = quant.mean_rescale(*quant.requantize_multiplier(in_scale, out_scale), in_h * in_w)
    fields = {"in_h": in_h, "in_w": in_w, "channels": channels, "input_zero_point": in_zp,
              "output_zero_point": out_zp, "multiplier": multiplier, "shift": shift}
    constants = [_struct(f"{o.prefix}params", "mnd_mean_params", fields)]
    return OpEmission(constants, _call("mnd_mean_hw_s8", f"{o.prefix}params"), (src,), dst, 0)


def _fully_connected(o: _Op) -> OpEmission:
    src, filt, dst = o.inputs[0], o.inputs[1], o.outputs[0]
    if int(getattr(o.options, "weightsFormat", 0) or 0) != 0:
        o.fail("shuffled weights", "the DEFAULT weights format")
    weights = o.weights(filt)
    if weights.ndim != 2 or o.size(src) % weights.shape[1]:
        o.fail(f"weights {list(weights.shape)} on input {list(o.shape(src))}", "2-D weights [units, depth]")
    units, depth = weights.shape
    batches = o.size(src) // depth
    (in_scale, in_zp), (out_scale, out_zp) = o.scale_zp(src), o.scale_zp(dst)
    filter_scales = o.scales(filt)
    if len(filter_scales) not in (1, units):
        o.fail(f"{len(filter_scales)} weight scales for {units} units", "per-tensor or per-channel weight scales")
    multipliers, shifts = quant.conv_multipliers(in_scale, filter_scales, out_scale)
    constants, refs = _requant_arrays(o, multipliers, shifts, weights, o.bias(2, units))
    act_min, act_max = o.act_range(dst)
    fields = {"batches": batches, "depth": depth, "units": units, "per_channel": int(len(filter_scales) > 1),
              "input_zero_point": in_zp, "output_zero_point": out_zp, "act_min": act_min, "act_max": act_max, **refs}
    constants.append(_struct(f"{o.prefix}params", "mnd_fc_params", fields))
    return OpEmission(constants, _call("mnd_fully_connected_s8", f"{o.prefix}params"), (src,), dst, batches * units * depth)


def _softmax(o: _Op) -> OpEmission:
    src, dst = o.inputs[0], o.outputs[0]
    in_scale, _ = o.scale_zp(src)
    out_scale, out_zp = o.scale_zp(dst)
    if np.float32(out_scale) != np.float32(1.0 / 256) or out_zp != -128:
        o.fail(f"output scale {out_scale} and zero point {out_zp}", "int8 output with scale 1/256 and zero point -128")
    try:
        multiplier, left_shift, diff_min = quant.softmax_params(float(o.options.beta), in_scale)
    except ValueError as error:
        o.fail(str(error), "beta x input scale large enough for the fixed-point exponent")
    depth = o.shape(src)[-1] if o.shape(src) else 1
    fields = {"rows": o.size(src) // depth, "depth": depth, "input_multiplier": multiplier,
              "input_left_shift": left_shift, "diff_min": diff_min}
    constants = [_struct(f"{o.prefix}params", "mnd_softmax_params", fields)]
    return OpEmission(constants, _call("mnd_softmax_s8", f"{o.prefix}params"), (src,), dst, 0)


def _quantize(o: _Op) -> OpEmission:
    src, dst = o.inputs[0], o.outputs[0]
    if o.dtype(src) != "INT8":
        o.fail(f"{o.dtype(src).lower()} input", "int8 -> int8 requantization (give the model an int8 input)")
    (in_scale, in_zp), (out_scale, out_zp) = o.scale_zp(src), o.scale_zp(dst)
    multiplier, shift = quant.requantize_multiplier(in_scale, out_scale)
    fields = {"size": o.size(src), "input_zero_point": in_zp, "output_zero_point": out_zp,
              "multiplier": multiplier, "shift": shift}
    constants = [_struct(f"{o.prefix}params", "mnd_requantize_params", fields)]
    return OpEmission(constants, _call("mnd_requantize_s8", f"{o.prefix}params"), (src,), dst, 0)


def _reshape(o: _Op) -> OpEmission:
    src, dst = o.inputs[0], o.outputs[0]
    if o.dtype(src) != "INT8" or o.dtype(dst) != "INT8" or o.size(src) != o.size(dst):
        o.fail(f"{o.dtype(src).lower()} {list(o.shape(src))} -> {list(o.shape(dst))}", "int8 reshapes")
    call = f"mnd_reshape_s8({o.size(dst)}, (const int8_t*)({{in0}}), (int8_t*)({{out0}}));"
    return OpEmission([], call, (src,), dst, 0)


EMITTERS = {"AVERAGE_POOL_2D": _avg_pool, "CONV_2D": _conv, "DEPTHWISE_CONV_2D": _conv,
            "FULLY_CONNECTED": _fully_connected, "MEAN": _mean, "QUANTIZE": _quantize, "RESHAPE": _reshape,
            "SOFTMAX": _softmax, **ops_elementwise.EMITTERS}
SUPPORTED_OPS = tuple(sorted(EMITTERS))


def emit_op(model, graph, op_index: int, prefix: str, kernels: str = "portable") -> OpEmission:
    """C for operator `op_index` of `graph`; C names start with `prefix`; `kernels` one of KERNEL_SETS. Raises
    UnsupportedOp."""
    if kernels not in KERNEL_SETS:
        raise ValueError(f"kernels must be one of {', '.join(KERNEL_SETS)}, not {kernels!r}")
    o = _Op(model, graph, op_index, prefix, kernels)
    if o.name not in EMITTERS:
        o.fail("this operator is not implemented", "the operators " + ", ".join(SUPPORTED_OPS))
    if not o.inputs or not o.outputs or len(o.outputs) != 1:
        o.fail(f"{len(o.inputs)} inputs and {len(o.outputs)} outputs", "single-output operators")
    if o.dtype(o.outputs[0]) != "INT8":
        o.fail(f"{o.dtype(o.outputs[0]).lower()} output", "int8 tensors (a full-integer int8 model)")
    return EMITTERS[o.name](o)
