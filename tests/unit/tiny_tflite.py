"""A small real .tflite model built with the schema's object API (no TensorFlow): CONV_2D, DEPTHWISE_CONV_2D,
AVERAGE_POOL_2D, RESHAPE, SOFTMAX on a 1x8x8x3 input with 4 classes, int8 (per-channel, with one bias carrying
person_detect's quantized_dimension defect, so repair_tflite has work) or uint8 (per-tensor, as Coral's)."""
import numpy as np

from mnd.base.tflite.repair import _schema, pack_model

SIDE, CHANNELS, CLASSES = 8, 3, 4


def tiny_tflite(dtype: str) -> bytes:
    schema = _schema()
    int8 = dtype == "int8"
    model = schema.ModelT()
    model.version, model.description = 3, b"mnd tiny test model"
    model.buffers = [schema.BufferT()]
    graph = schema.SubGraphT()
    graph.name, graph.tensors = b"main", []

    def tensor(name: str, shape: list, tensor_type: int, quant=None, data: "np.ndarray | None" = None) -> int:
        item = schema.TensorT()
        item.name, item.shape, item.type, item.quantization = name.encode(), shape, tensor_type, quant
        item.buffer = 0
        if data is not None:
            buffer = schema.BufferT()
            buffer.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8)
            model.buffers.append(buffer)
            item.buffer = len(model.buffers) - 1
        graph.tensors.append(item)
        return len(graph.tensors) - 1

    def quant(scales: list, zero_points: list, dimension: int = 0):
        item = schema.QuantizationParametersT()
        item.scale, item.zeroPoint, item.quantizedDimension = scales, zero_points, dimension
        return item

    rng = np.random.default_rng(0)
    act = schema.TensorType.INT8 if int8 else schema.TensorType.UINT8
    zero = -128 if int8 else 128
    weights = (lambda shape: rng.integers(-127, 128, shape).astype(np.int8)) if int8 else \
        (lambda shape: rng.integers(0, 256, shape).astype(np.uint8))
    channel_scales = [0.01 * (i + 1) for i in range(CLASSES)]
    filter_quant = (lambda axis: quant(channel_scales, [0] * CLASSES, axis)) if int8 else \
        (lambda axis: quant([0.02], [128]))
    bias_quant = (lambda dimension: quant([s / 128 for s in channel_scales], [0] * CLASSES, dimension)) if int8 \
        else (lambda dimension: quant([0.02 / 128], [0]))
    image = tensor("image", [1, SIDE, SIDE, CHANNELS], act, quant([1 / 128], [zero]))
    conv_w = tensor("conv/filter", [CLASSES, 3, 3, CHANNELS], act, filter_quant(0), weights((CLASSES, 3, 3, CHANNELS)))
    conv_b = tensor("conv/bias", [CLASSES], schema.TensorType.INT32, bias_quant(3 if int8 else 0),
                    rng.integers(-500, 500, CLASSES).astype("<i4"))
    conv = tensor("conv", [1, SIDE, SIDE, CLASSES], act, quant([0.05], [zero]))
    dw_w = tensor("dw/filter", [1, 3, 3, CLASSES], act, filter_quant(3), weights((1, 3, 3, CLASSES)))
    dw_b = tensor("dw/bias", [CLASSES], schema.TensorType.INT32, bias_quant(0),
                  rng.integers(-500, 500, CLASSES).astype("<i4"))
    dw = tensor("dw", [1, SIDE, SIDE, CLASSES], act, quant([0.05], [zero]))
    pool = tensor("pool", [1, 1, 1, CLASSES], act, quant([0.05], [zero]))
    new_shape = tensor("shape", [2], schema.TensorType.INT32, None, np.asarray([1, CLASSES], "<i4"))
    logits = tensor("logits", [1, CLASSES], act, quant([0.05], [zero]))
    scores = tensor("scores", [1, CLASSES], act, quant([1 / 256], [-128 if int8 else 0]))

    conv_options, dw_options = schema.Conv2DOptionsT(), schema.DepthwiseConv2DOptionsT()
    conv_options.padding = dw_options.padding = schema.Padding.SAME
    conv_options.strideW = conv_options.strideH = dw_options.strideW = dw_options.strideH = 1
    dw_options.depthMultiplier = 1
    pool_options = schema.Pool2DOptionsT()
    pool_options.padding, pool_options.strideW, pool_options.strideH = schema.Padding.VALID, 1, 1
    pool_options.filterWidth = pool_options.filterHeight = SIDE
    reshape_options, softmax_options = schema.ReshapeOptionsT(), schema.SoftmaxOptionsT()
    reshape_options.newShape, softmax_options.beta = [1, CLASSES], 1.0
    ops = [("CONV_2D", [image, conv_w, conv_b], conv, "Conv2DOptions", conv_options),
           ("DEPTHWISE_CONV_2D", [conv, dw_w, dw_b], dw, "DepthwiseConv2DOptions", dw_options),
           ("AVERAGE_POOL_2D", [dw], pool, "Pool2DOptions", pool_options),
           ("RESHAPE", [pool, new_shape], logits, "ReshapeOptions", reshape_options),
           ("SOFTMAX", [logits], scores, "SoftmaxOptions", softmax_options)]
    model.operatorCodes, graph.operators = [], []
    for position, (name, inputs, output, options_type, options) in enumerate(ops):
        code = schema.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = getattr(schema.BuiltinOperator, name)
        code.version = 1
        model.operatorCodes.append(code)
        op = schema.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = position, inputs, [output]
        op.builtinOptionsType, op.builtinOptions = getattr(schema.BuiltinOptions, options_type), options
        graph.operators.append(op)
    graph.inputs, graph.outputs = [image], [scores]
    model.subgraphs = [graph]
    return pack_model(model)
