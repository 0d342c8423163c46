"""One sweep.json row per variant: its counts, what its export's manifest measured, and whether it fits."""
from mnd.pipeline.sweep.fits import measured_fit

ACCURACY_DROP = "int8 vs float accuracy drop (points)"


def base_row(variant, run_dir: str) -> dict:
    return {"name": variant.name, "alpha": variant.spec.alpha, "resolution": variant.spec.side,
            "classes": variant.spec.classes, "channels": variant.spec.channels, **variant.counts(),
            "int8_bytes": None, "ram_bytes": None, "flash_bytes": None, "latency_ms_p50": None, "instructions": None,
            "runtime": None, "emulated": None, "float_acc": None, "int8_acc": None, "eval_samples": None,
            "failed_validations": [], "fits": None, "fit_detail": None, "status": None, "error": None,
            "run_dir": run_dir, "seconds": None}


def not_run_row(variant, reason: str) -> dict:
    return {**base_row(variant, None), "fits": False, "fit_detail": reason, "status": "does not fit"}


def failed_row(variant, error: BaseException) -> dict:
    text = " ".join(str(error).split()) or type(error).__name__
    return {**base_row(variant, None), "status": "failed", "error": f"{type(error).__name__}: {text}"[:2000]}


def measured_row(variant, run_dir: str, manifest, limits: list, with_accuracy: bool) -> dict:
    """The row of a published export: the target's own int8 measurement (instructions when it counts them, else
    p50 latency), sizes, and with a dataset the float and int8 accuracy the export recorded and the number of
    evaluation samples behind both (eval_samples: the float accuracy is measured on, or derived from the drop
    validated on, the same samples)."""
    row = base_row(variant, run_dir)
    row["int8_bytes"] = manifest.artifact("tflite_int8").bytes
    main = _target_measurement(manifest.measurements)
    if main is not None:
        row.update(runtime=main.runtime, emulated=main.emulated, instructions=main.instructions,
                   latency_ms_p50=(main.latency_ms or {}).get("p50") if main.instructions is None else None,
                   ram_bytes=main.ram_bytes, flash_bytes=main.flash_bytes)
        if with_accuracy:
            row.update(int8_acc=main.accuracy, float_acc=_float_accuracy(manifest, main.accuracy),
                       eval_samples=main.n if main.accuracy is not None and main.n else None)
    shares = ((manifest.target or {}).get("board") or {}).get("boards")
    if shares:  # several boards or phones: which measured the cost, and what each one did
        row.update(board=main.board if main is not None else None, boards=[
            {"name": share.get("ssh") or share.get("serial"), "rows": len(share["rows"]), "dropped": share["dropped"]}
            for share in shares])
    row["failed_validations"] = [v.name for v in manifest.validations if not v.passed]
    fits, detail = measured_fit(row, limits)
    return {**row, "fits": fits, "fit_detail": detail, "status": "measured"}


def _target_measurement(measurements):
    """The target's int8 row: one counting instructions (an emulated core), else the first timed one."""
    int8 = [m for m in measurements if m.artifact == "tflite_int8"]
    counted = [m for m in int8 if m.instructions is not None]
    timed = [m for m in int8 if m.latency_ms]
    return (counted or timed or int8 or [None])[0]


def _float_accuracy(manifest, int8_accuracy):
    """The float model's accuracy: measured on tflite_float when the target ran it, else the int8 accuracy plus the
    drop the export validated (both on the same evaluation samples)."""
    floats = [m.accuracy for m in manifest.measurements if m.artifact == "tflite_float" and m.accuracy is not None]
    if floats:
        return floats[0]
    drop = next((v.value for v in manifest.validations if v.name == ACCURACY_DROP), None)
    if drop is None or int8_accuracy is None:
        return None
    return round(int8_accuracy + drop / 100.0, 6)
