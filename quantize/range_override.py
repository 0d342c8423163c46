"""Activation ranges of the converter's calibrated float model, chosen again by a calibration method.

ptq.calibrated_float leaves every activation tensor's observed min/max in its quantization field, and
ptq.quantize_calibrated derives the int8 scales and zero points from them. Here the calibrated model (a runnable
float model) runs over the same samples, every such tensor's values are collected, and the min/max fields are
rewritten with the ranges quantize.activation_ranges chooses. Graph inputs keep their observed range: it fixes how
raw inputs map to int8, part of the deployed model's interface.
"""
import numpy as np

from mnd.quantize import tflite_edit
from mnd.quantize.activation_ranges import CALIBRATION_METHODS, RangeChoice, TensorStatistics, choose_ranges


def with_ranges(calibrated: bytes, samples: np.ndarray, method: str) -> bytes:
    """The calibrated model with `method`'s activation ranges; "minmax" returns it unchanged."""
    return with_recorded_ranges(calibrated, samples, method)[0]


def with_recorded_ranges(calibrated: bytes, samples: np.ndarray, method: str) -> tuple:
    """(model, {tensor name: RangeChoice}): with_ranges and what it chose for every calibrated tensor."""
    if method not in CALIBRATION_METHODS:
        raise ValueError(f"calibration must be one of {', '.join(CALIBRATION_METHODS)}, not {method!r}")
    model = tflite_edit.load(calibrated)
    graph, tensors = model.subgraphs[0], calibrated_tensors(model)
    if method == "minmax":
        return calibrated, {_name(graph, index): _converter_choice(graph.tensors[index]) for index in tensors}
    choices = choose_ranges(observed_statistics(calibrated, samples, tensors), method)
    for index, choice in choices.items():
        graph.tensors[index].quantization.min = np.asarray([choice.lo], np.float32)
        graph.tensors[index].quantization.max = np.asarray([choice.hi], np.float32)
    return tflite_edit.pack(model), {_name(graph, index): choice for index, choice in choices.items()}


def calibrated_tensors(model) -> list:
    """Indices of the main graph's tensors that carry one calibrated min/max, graph inputs left out."""
    graph = model.subgraphs[0]
    inputs = {int(index) for index in graph.inputs}
    return [index for index, tensor in enumerate(graph.tensors)
            if index not in inputs and _has_range(tensor.quantization)]


def observed_statistics(calibrated: bytes, samples: np.ndarray, tensors: list) -> dict:
    """{tensor index: TensorStatistics} of `tensors` over `samples` (float model inputs [N, ...], batch 1 each)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(model_content=calibrated, experimental_preserve_all_tensors=True,
                              experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    input_index = interpreter.get_input_details()[0]["index"]
    statistics = {index: TensorStatistics() for index in tensors}
    for sample in samples:
        interpreter.set_tensor(input_index, sample[None].astype(np.float32))
        interpreter.invoke()
        for index, tensor in statistics.items():
            tensor.add(interpreter.get_tensor(index))
    return statistics


def _has_range(quantization) -> bool:
    return quantization is not None and quantization.min is not None and quantization.max is not None \
        and len(quantization.min) == 1 and len(quantization.max) == 1


def _converter_choice(tensor) -> RangeChoice:
    lo, hi = float(tensor.quantization.min[0]), float(tensor.quantization.max[0])
    return RangeChoice("minmax", lo, hi, lo, hi)


def _name(graph, index: int) -> str:
    return graph.tensors[index].name.decode(errors="replace")
