"""`mnd evaluate`: top-1 (and top-5) accuracy of any supported model on a dataset, with a 95% interval."""
import math
from pathlib import Path

import numpy as np

from mnd.base.runtimes.inputs import artifact_inputs
from mnd.base.runtimes.sandbox import run_model
from mnd.base.tempdirs import temporary_directory
from mnd.pipeline.data.datasets import load_dataset
from mnd.pipeline.data.plan import to_evaluation

Z95 = 1.959964


def wilson_interval(correct: int, n: int) -> list:
    """95% Wilson score interval for a proportion."""
    if n == 0:
        return [0.0, 1.0]
    p = correct / n
    centre = (p + Z95 ** 2 / (2 * n)) / (1 + Z95 ** 2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95 ** 2 / (4 * n * n)) / (1 + Z95 ** 2 / n)
    return [round(max(0.0, centre - half), 6), round(min(1.0, centre + half), 6)]


def top_k_correct(outputs: np.ndarray, labels: np.ndarray, k: int) -> int:
    """Ties rank the lower class index first (a stable sort on the negated scores)."""
    order = np.argsort(-outputs.reshape(len(outputs), -1).astype(np.float64), axis=1, kind="stable")[:, :k]
    return int(np.sum(np.any(order == labels[:, None], axis=1)))


def model_outputs(source, evaluation, runtime: str) -> np.ndarray:
    if source.kind == "keras":
        return np.asarray(source.loaded.predict(evaluation.float_inputs, batch_size=64, verbose=0))
    from mnd.base.tflite.repair import repair_tflite

    data, _ = repair_tflite(source.path.read_bytes(), str(source.path))
    with temporary_directory("mnd-evaluate-") as tmp:
        path = Path(tmp) / source.path.name
        path.write_bytes(data)
        return run_model(runtime, path, artifact_inputs(path, evaluation)).outputs


def evaluate(source, data: str, runtime: str = "litert") -> dict:
    classes = len(source.labels)
    evaluation = to_evaluation(load_dataset(data, source.prep, classes), source.prep)
    outputs = model_outputs(source, evaluation, runtime)
    n = len(evaluation.labels)
    top1 = top_k_correct(outputs, evaluation.labels, 1)
    top5 = top_k_correct(outputs, evaluation.labels, 5) if classes > 5 else None
    return {"model": str(source.path), "data": data, "runtime": runtime if source.kind == "tflite" else "keras",
            "preprocessing": source.prep.to_dict(), "n": n, "top1_correct": top1, "top1": top1 / n if n else None,
            "top5_correct": top5, "top5": None if top5 is None else top5 / n, "ci95": wilson_interval(top1, n)}


def format_result(result: dict) -> str:
    low, high = result["ci95"]
    lines = [f"{result['model']} on {result['data']} ({result['runtime']}, {result['preprocessing']['formula']})",
             f"top-1: {result['top1']:.2%} ({result['top1_correct']}/{result['n']}), 95% interval {low:.2%}-{high:.2%}"]
    if result["top5"] is not None:
        lines.append(f"top-5: {result['top5']:.2%} ({result['top5_correct']}/{result['n']})")
    return "\n".join(lines)
