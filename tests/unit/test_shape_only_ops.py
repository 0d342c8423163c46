"""generator.shape_only_ops: the SHAPE -> STRIDED_SLICE -> PACK chain that only feeds a RESHAPE's shape is dropped."""
from types import SimpleNamespace as NS

from mnd.engine.generator import shape_only_ops


def graph(ops, outputs=(9,)):
    return NS(operators=[NS(inputs=list(i), outputs=list(o)) for i, o in ops], outputs=list(outputs))


def test_flatten_with_dynamic_batch_is_dropped():
    names = ["MEAN", "SHAPE", "STRIDED_SLICE", "PACK", "RESHAPE", "SOFTMAX"]
    g = graph([((0,), (1,)), ((1,), (2,)), ((2, 10, 11, 12), (3,)), ((3, 13), (4,)), ((1, 4), (5,)), ((5,), (9,))])
    assert shape_only_ops(names, g) == {1, 2, 3}


def test_shape_ops_feeding_anything_else_are_kept():
    names = ["SHAPE", "STRIDED_SLICE", "ADD"]
    g = graph([((0,), (1,)), ((1, 10, 11, 12), (2,)), ((2, 0), (9,))])
    assert shape_only_ops(names, g) == set()
    assert shape_only_ops(["SHAPE"], graph([((0,), (9,))])) == set()  # a graph output
