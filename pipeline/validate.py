"""Contracts between artifacts. Each check returns a Validation; `enforce` raises once for all failures."""
from dataclasses import replace

import numpy as np

from mnd.pipeline.errors import MndError
from mnd.pipeline.manifest import Validation

FLOAT_RELATIVE_TOLERANCE = 1e-4
MIN_GATED_AGREEMENT_SAMPLES = 100


class ValidationFailed(MndError):
    """One or more contracts failed; the message is the table of failures."""

    exit_code = 3


def top1(outputs: np.ndarray) -> np.ndarray:
    """Argmax per row; ties go to the lowest class index (numpy's first maximum)."""
    return np.argmax(outputs.reshape(len(outputs), -1), axis=1)


def accuracy(outputs: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(top1(outputs) == labels)) if len(labels) else float("nan")


def float_close(name: str, candidate: np.ndarray, reference: np.ndarray) -> Validation:
    """max |diff| <= 1e-4 * max(1, max |reference|)."""
    threshold = FLOAT_RELATIVE_TOLERANCE * max(1.0, float(np.max(np.abs(reference))))
    diff = float(np.max(np.abs(candidate.astype(np.float64) - reference.astype(np.float64))))
    return Validation(name, diff <= threshold, diff, threshold, f"max |diff| over {len(reference)} samples")


def bit_exact(name: str, candidate: np.ndarray, reference: np.ndarray) -> Validation:
    differing = np.flatnonzero(np.any(candidate.reshape(len(candidate), -1) != reference.reshape(len(reference), -1),
                                      axis=1))
    detail = f"{len(differing)} of {len(reference)} samples differ"
    if len(differing):
        detail += f" (first: sample {differing[0]})"
    return Validation(name, len(differing) == 0, float(len(differing)), 0.0, detail)


def top1_agreement(name: str, candidate: np.ndarray, reference: np.ndarray) -> Validation:
    """Disagreements <= max(1, floor(0.01 n)); reported but not gated below n = 100."""
    n = len(reference)
    disagreements = int(np.sum(top1(candidate) != top1(reference)))
    threshold = max(1, int(0.01 * n))
    gated = n >= MIN_GATED_AGREEMENT_SAMPLES
    detail = f"{disagreements} of {n} top-1 predictions differ" + ("" if gated else " (n < 100: reported, not gated)")
    return Validation(name, disagreements <= threshold or not gated, float(disagreements), float(threshold), detail, gated)


def onnx_exact_agreement(name: str, onnx_exact: np.ndarray, reference: np.ndarray) -> Validation:
    """top1_agreement for a quantized ONNX model run by the sandbox's "onnxruntime-exact" runtime. The verdict must
    not depend on the exporting machine: ONNX Runtime's fused int8 kernels give different results on x86 CPUs with
    and without VNNI (the host measurement reports how far the fused kernels are from this)."""
    check = top1_agreement(name, onnx_exact, reference)
    return replace(check, detail=check.detail + " (ONNX Runtime, graph optimizations off: exact QDQ arithmetic, "
                   "the same on every CPU)")


def accuracy_drop(name: str, int8_accuracy: float, float_accuracy: float, max_drop_points: float, n: int) -> Validation:
    drop = 100.0 * (float_accuracy - int8_accuracy)
    detail = f"float {float_accuracy:.2%}, int8 {int8_accuracy:.2%} on {n} samples"
    return Validation(name, drop <= max_drop_points, round(drop, 4), max_drop_points, detail)


def format_table(validations) -> str:
    rows = [f"  {'check':<34} {'result':<6} {'value':>12} {'threshold':>12}  detail"]
    for v in validations:
        result = "info" if not v.gated else "pass" if v.passed else "FAIL"
        rows.append(f"  {v.name:<34} {result:<6} {v.value:>12.6g} {v.threshold:>12.6g}  {v.detail}")
    return "\n".join(rows)


def enforce(validations, allow_drift: bool) -> None:
    failures = [v for v in validations if not v.passed]
    if failures and not allow_drift:
        raise ValidationFailed(f"{len(failures)} validation(s) failed; nothing was written "
                               "(rerun with --allow-drift to keep the artifacts and record the failures):\n"
                               + format_table(validations))
