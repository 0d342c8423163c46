"""onnx_int8 vs tflite_int8 top-1: a disagreement counts unless the TFLite int8 model's margin between its class
and ONNX's is within twice its own distance from the float model on that sample (a near-tie quantization can swap)."""
import numpy as np

from mnd.pipeline import validate

FLOAT = np.array([[2.0, 1.0, 0.0], [2.0, 1.9, 0.0], [0.0, 3.0, 1.0]])


def test_a_swap_inside_twice_the_int8_error_is_a_near_tie():
    onnx_top1 = np.array([1, 1, 0])
    int8 = FLOAT + np.array([[0.1, 0, 0], [0.1, -0.1, 0], [0, 0, 0.05]])  # margins over ONNX's class 1.1, 0.3, 3.0
    assert validate.near_ties(int8, FLOAT, onnx_top1).tolist() == [False, False, False]  # 2e = 0.2, 0.2, 0.1
    int8 = FLOAT + np.array([[0, 0, 0], [0, 0.1, 0], [0, 0, 0]])  # sample 1: margin 0.0 (a tie), 2e = 0.2
    assert validate.near_ties(int8, FLOAT, onnx_top1).tolist() == [False, True, False]


def test_the_gate_counts_only_disagreements_beyond_near_ties_and_says_how_many_it_left_out():
    n = 200
    reference = np.tile([[3.0, 0.0]], (n, 1))
    candidate = reference.copy()
    candidate[:5] = [0.0, 3.0]  # five confident disagreements: more than 1% of 200
    check = validate.onnx_exact_agreement("x", candidate, reference)
    assert not check.passed and check.value == 5
    int8 = reference.copy()
    int8[:3] = [1.0, 0.9]  # three of them near-ties of the int8 model (its float model says 3.0 vs 0.0: e = 2.1)
    asked = []
    check = validate.onnx_exact_agreement("x", candidate, reference,
                                          lambda rows: (asked.extend(rows), (int8[rows], reference[rows]))[1])
    assert check.passed and check.value == 2 and "2 of 200 top-1 predictions differ, 3 more within" in check.detail
    assert asked == [0, 1, 2, 3, 4]  # only the disagreements are run again
