"""Contracts between artifacts. Each check returns a Validation; `enforce` raises once for all failures."""
import logging
import time
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from mnd.base.errors import MndError
from mnd.pipeline.manifest import Validation

log = logging.getLogger("mnd")
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


def top1_agreement(name: str, candidate: np.ndarray, reference: np.ndarray, near_ties=None) -> Validation:
    """Disagreements <= max(1, floor(0.01 n)); reported but not gated below n = 100. Disagreements on the samples
    where `near_ties` is True are reported, not counted."""
    n = len(reference)
    differ = top1(candidate) != top1(reference)
    uncounted = int(np.sum(differ & near_ties)) if near_ties is not None else 0
    disagreements = int(np.sum(differ)) - uncounted
    threshold = max(1, int(0.01 * n))
    gated = n >= MIN_GATED_AGREEMENT_SAMPLES
    detail = f"{disagreements} of {n} top-1 predictions differ" + ("" if gated else " (n < 100: reported, not gated)")
    if near_ties is not None:
        detail += f", {uncounted} more within the int8 model's own quantization error (near-ties, not counted)"
    return Validation(name, disagreements <= threshold or not gated, float(disagreements), float(threshold), detail, gated)


def near_ties(int8_values: np.ndarray, float_values: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Per sample: True where the int8 model's margin m between its top-1 class a and the class `other` chose, b,
    is at most twice its largest distance e from the float model on that sample (both as dequantized logits, or
    outputs). Beyond that the float model ranks a above b too (f_a - f_b >= m - 2e > 0), so a model choosing b
    contradicts both; within it, quantization alone can swap a and b, as two int8 models calibrated apart do on a
    barely trained model's many near-ties."""
    q = int8_values.reshape(len(int8_values), -1).astype(np.float64)
    f = float_values.reshape(len(float_values), -1).astype(np.float64)
    rows, a = np.arange(len(q)), top1(q)
    margin = q[rows, a] - q[rows, other]
    return margin <= 2 * np.max(np.abs(q - f), axis=1)


def onnx_exact_agreement(name: str, onnx_exact: np.ndarray, reference: np.ndarray, int8_logits=None) -> Validation:
    """top1_agreement for a quantized ONNX model run by the sandbox's "onnxruntime-exact" runtime. The verdict must
    not depend on the exporting machine: ONNX Runtime's fused int8 kernels give different results on x86 CPUs with
    and without VNNI (the host measurement reports how far the fused kernels are from this). `int8_logits`, where a
    float model exists: rows -> (the reference's dequantized logits, the float model's) on those samples, asked for
    the disagreeing ones only (none for a well-trained model), to leave out near-ties (`near_ties`)."""
    onnx_top1 = top1(onnx_exact)
    ties = None
    if int8_logits is not None:
        ties = np.zeros(len(reference), bool)
        differ = np.flatnonzero(onnx_top1 != top1(reference))
        if len(differ):
            ties[differ] = near_ties(*int8_logits(differ), onnx_top1[differ])
    check = top1_agreement(name, onnx_exact, reference, ties)
    return replace(check, detail=check.detail + " (ONNX Runtime, graph optimizations off: exact QDQ arithmetic, "
                   "the same on every CPU)")


def accuracy_drop(name: str, int8_accuracy: float, float_accuracy: float, max_drop_points: float, n: int) -> Validation:
    drop = 100.0 * (float_accuracy - int8_accuracy)
    detail = f"float {float_accuracy:.2%}, int8 {int8_accuracy:.2%} on {n} samples"
    return Validation(name, drop <= max_drop_points, round(drop, 4), max_drop_points, detail)


@dataclass(frozen=True)
class Check:
    """A contract and the artifact kinds it needs; it runs only when the export wrote them all (--formats)."""
    needs: tuple
    run: Callable[[], Validation]


def run_checks(manifest, checks) -> tuple:
    """The Validations of the checks whose artifacts the manifest lists, in order, each logged with its time; the
    others are not run and not listed."""
    written = {artifact.kind for artifact in manifest.artifacts}
    results = []
    for check in checks:
        if not set(check.needs) <= written:
            log.debug("validation needing %s skipped: not exported", ", ".join(check.needs))
            continue
        start = time.monotonic()
        result = check.run()
        verdict = "reported (not gated)" if not result.gated else "passed" if result.passed else "failed"
        log.info("validation: %s: %s in %.1f s", result.name, verdict, time.monotonic() - start)
        results.append(result)
    return tuple(results)


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
