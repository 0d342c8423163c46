"""The per-layer quantization quality section (manifest `quantization.layers`, quantize.layer_quality) and its
figures: SQNR by depth for one run, and several runs or weight schemes overlaid."""
import base64

from matplotlib.figure import Figure

from mnd.pipeline.report.escape import text
from mnd.pipeline.report.plots import SHORT_OPS, _new_figure, literal_text, png_data_uri, short

ACCUMULATED_STYLE = {"color": "#6d9ef2", "marker": "o", "markersize": 3, "linewidth": 1.2}
ISOLATED_STYLE = {"color": "#f2b66d", "marker": "s", "markersize": 3, "linewidth": 1.0, "linestyle": "--"}
CEILING_DB = 80.0
BIAS_CORRECTED = (" Biases were corrected: the float model here is the corrected one, whose outputs move by the"
                  " shift the int8 weights undo, so these figures can understate how close int8 is to the original.")
EXPLANATION = ("SQNR = 10·log10(Σ f² / Σ (f − dequantized int8)²) over the evaluation samples, f the float output. "
               "Accumulated: against the float model, all error so far; layer: against the float op fed the "
               "quantized input, the error this layer adds. Weight range spread: largest / smallest per-output-channel "
               "max|w| of the float weights (batch norm folded), with the channels below 1% of the largest: "
               "per-tensor int8 leaves those few or no levels. Flagged (⚠): the lowest layer SQNR.")


def quantization_section(quantization: dict) -> list:
    """Markdown lines: an intro line, a table row per layer, what the columns mean."""
    layers = quantization.get("layers") or []
    if not layers:
        return []
    lines = ["## Quantization quality by layer", "", _intro(quantization), "",
             "| # | layer | op | SQNR dB (accumulated) | layer SQNR dB | mean abs err | max abs err | weight range "
             "spread | flag |", "|---|---|---|---|---|---|---|---|---|"]
    for depth, layer in enumerate(layers):
        lines.append(f"| {layer.get('depth', depth)} | {_cell(layer.get('name'))} | {_cell(layer.get('op'))} | "
                     f"{_decibels(layer.get('sqnr_db'), layer)} | {_decibels(layer.get('layer_sqnr_db'), layer)} | "
                     f"{_number(layer.get('mean_abs_error'))} | {_number(layer.get('max_abs_error'))} | "
                     f"{_spread(layer)} | {'⚠ worst' if layer.get('flagged') else ''} |")
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
    channels = layer.get("weight_channels")
    if not channels:
        return "—"
    spread = layer.get("weight_range_spread")
    ratio = "∞ (an all-zero channel)" if spread is None else f"{spread:.3g}"
    return f"{ratio} ({layer.get('dead_channels', 0)}/{channels} < 1%)"


def sqnr_by_depth_png(layers: list, title: str) -> bytes:
    return png_bytes(sqnr_by_depth_figure(layers, title))


def sqnr_by_depth_compare_png(runs: dict, title: str) -> bytes:
    return png_bytes(sqnr_by_depth_compare_figure(runs, title))


def png_bytes(figure: Figure) -> bytes:
    return base64.b64decode(png_data_uri(figure).split(",", 1)[1])


@literal_text
def sqnr_by_depth_figure(layers: list, title: str) -> Figure:
    """Accumulated and layer SQNR by depth, the flagged layers circled in red, x ticks naming layer and op."""
    figure = _new_figure(max(7.0, 0.25 * len(layers) + 2), 4.5)
    ax = figure.subplots()
    depths = list(range(len(layers)))
    ax.plot(depths, _series(layers, "sqnr_db"), label="SQNR, accumulated", **ACCUMULATED_STYLE)
    ax.plot(depths, _series(layers, "layer_sqnr_db"), label="SQNR, this layer alone", **ISOLATED_STYLE)
    flagged = [(depth, layer["layer_sqnr_db"]) for depth, layer in enumerate(layers)
               if layer.get("flagged") and layer.get("layer_sqnr_db") is not None]
    if flagged:
        ax.plot(*zip(*flagged), "o", markersize=10, markerfacecolor="none", markeredgecolor="red",
                label="flagged: lowest layer SQNR")
    _depth_axis(ax, layers)
    ax.legend(fontsize=7)
    figure.suptitle(short(title, 100), fontsize=10)
    return figure


@literal_text
def sqnr_by_depth_compare_figure(runs: dict, title: str) -> Figure:
    """Several runs or weight schemes ({label: layers}) overlaid: accumulated SQNR solid, layer SQNR dashed, one
    colour per run; x ticks from the longest run."""
    longest = max(runs.values(), key=len, default=[])
    figure = _new_figure(max(7.0, 0.25 * len(longest) + 2), 4.5)
    ax = figure.subplots()
    for i, (label, layers) in enumerate(list(runs.items())[:10]):
        depths = list(range(len(layers)))
        colour = f"C{i}"
        ax.plot(depths, _series(layers, "sqnr_db"), color=colour, marker="o", markersize=3, linewidth=1.2,
                label=f"{short(label, 40)}: accumulated")
        ax.plot(depths, _series(layers, "layer_sqnr_db"), color=colour, linestyle="--", linewidth=0.9,
                label=f"{short(label, 40)}: this layer alone")
    _depth_axis(ax, longest)
    ax.legend(fontsize=7, ncols=2)
    figure.suptitle(short(title, 100), fontsize=10)
    return figure


def _series(layers: list, key: str) -> list:
    """The values, NaN (a gap in the line) where a layer has none."""
    return [float("nan") if layer.get(key) is None else layer[key] for layer in layers]


def _depth_axis(ax, layers: list) -> None:
    """Layer names under the ticks; the y axis cut at CEILING_DB (a MEAN or RESHAPE is near exact alone)."""
    bottom, top = ax.get_ylim()
    if top > CEILING_DB:
        ax.set_ylim(min(bottom, CEILING_DB - 10), CEILING_DB)
    ax.set_ylabel("SQNR (dB)" + (f", cut at {CEILING_DB:.0f}" if top > CEILING_DB else ""))
    labels = [f"{depth} {short(layer.get('name'), 24)} {SHORT_OPS.get(layer.get('op'), short(layer.get('op'), 10))}"
              for depth, layer in enumerate(layers)]
    ax.set_xticks(list(range(len(layers))), labels, rotation=90, fontsize=7)
    ax.grid(axis="y", linewidth=0.3)
