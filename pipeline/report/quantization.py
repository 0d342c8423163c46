"""The per-layer quantization quality section of report.md (manifest `quantization.layers`,
quantize.layer_quality); its figures are in quantization_plots.py."""
from mnd.pipeline.report.escape import text
from mnd.pipeline.report.labels import short
from mnd.pipeline.report.layer_flags import flag_cell, flags_line

BIAS_CORRECTED = (" Biases were corrected: the float model here is the corrected one, whose outputs move by the"
                  " shift the int8 weights undo, so these figures can understate how close int8 is to the original.")
EXPLANATION = ("SQNR = 10·log10(Σ f² / Σ (f − dequantized int8)²) over the evaluation samples, f the float output. "
               "Accumulated: against the float model, all error so far; layer: against the float op fed the "
               "quantized input, the error this layer adds. Weight range spread: largest / smallest per-output-channel "
               "max|w| of the float weights (batch norm folded); where channels are dead (max|w| below 1% of the "
               "largest, to which per-tensor int8 leaves one level or none) their count instead. Flagged (⚠), three "
               "layers for each reason: the largest accumulated drop, how far the accumulated SQNR falls from the "
               "lowest of the layers this one reads (#: that layer; the first layer, reading the model input, has "
               "none), where the error grows most; and the lowest layer SQNR, the error a layer adds itself.")


def quantization_section(quantization: dict) -> list:
    """Markdown lines: an intro line, a table row per layer, what the columns mean."""
    layers = quantization.get("layers") or []
    if not layers:
        return []
    lines = ["## Quantization quality by layer", "", _intro(quantization), "", flags_line(layers), "",
             "| # | layer | op | SQNR dB (accumulated) | layer SQNR dB | mean abs err | max abs err | weight range "
             "spread | flag |", "|---|---|---|---|---|---|---|---|---|"]
    for depth, layer in enumerate(layers):
        lines.append(f"| {layer.get('depth', depth)} | {_cell(layer.get('name'))} | {_cell(layer.get('op'))} | "
                     f"{_decibels(layer.get('sqnr_db'), layer)} | {_decibels(layer.get('layer_sqnr_db'), layer)} | "
                     f"{_number(layer.get('mean_abs_error'))} | {_number(layer.get('max_abs_error'))} | "
                     f"{_spread(layer)} | {flag_cell(layer)} |")
    explanation = EXPLANATION + (BIAS_CORRECTED if quantization.get("bias_correct") else "")
    return lines + ["", explanation, ""] + _equalization_lines(quantization)


def _equalization_lines(quantization: dict) -> list:
    pairs = (quantization.get("float_model_changes") or {}).get("equalization") or []
    if not pairs:
        return []
    return (["Cross-layer equalization, pair by pair:", ""] + [f"- {_cell(pair.get('line'), 300)}" for pair in pairs]
            + [""])


def _intro(quantization: dict) -> str:
    notes = "; ".join(_cell(note, 200) for note in quantization.get("float_model") or []) or "as converted"
    weights = quantization.get("weights_scheme", "per-channel")
    return (f"Int8 weights {_cell(weights)}, activations per-tensor; calibration: "
            f"{_calibration(quantization.get('calibration'))}; float model: {notes}.")


def _calibration(calibration) -> str:
    if isinstance(calibration, dict):
        return ", ".join(f"{_cell(key)} {_cell(value)}" for key, value in calibration.items()) or "—"
    return "—" if calibration is None else _cell(calibration, 200)


def _cell(value, limit: int = 40) -> str:
    return text(short(value, limit))


def _decibels(value, layer: dict) -> str:
    if value is None:
        return "exact" if layer.get("max_abs_error") == 0 else "—"
    return f"{value:.1f}"


def _number(value) -> str:
    return "—" if value is None else f"{value:.3g}"


def _spread(layer: dict) -> str:
    """The ratio where every channel is live, else the dead channels counted: runs written before the ratio was
    left out for them carry ratios like 6.05e+29 (a channel shrunk to 1e-15), or none for an all-zero layer."""
    channels = layer.get("weight_channels")
    if not channels:
        return "—"
    dead, spread = layer.get("dead_channels") or 0, layer.get("weight_range_spread")
    if dead >= channels or (spread is None and not dead):
        return f"all {channels} channels zero"
    if dead:
        return f"{dead}/{channels} channels dead"
    return f"{spread:.3g}"
