"""The per-layer quantization figures: SQNR by depth for one run, and several runs or weight schemes overlaid."""
import base64

from matplotlib.figure import Figure

from mnd.pipeline.report.labels import SHORT_OPS, short
from mnd.pipeline.report.layer_flags import largest_drop, lowest_layer_sqnr
from mnd.pipeline.report.plots import _new_figure, literal_text, png_data_uri

ACCUMULATED_STYLE = {"color": "#6d9ef2", "marker": "o", "markersize": 3, "linewidth": 1.2}
ISOLATED_STYLE = {"color": "#f2b66d", "marker": "s", "markersize": 3, "linewidth": 1.0, "linestyle": "--"}
CEILING_DB = 80.0


def sqnr_by_depth_png(layers: list, title: str) -> bytes:
    return png_bytes(sqnr_by_depth_figure(layers, title))


def sqnr_by_depth_compare_png(runs: dict, title: str) -> bytes:
    return png_bytes(sqnr_by_depth_compare_figure(runs, title))


def png_bytes(figure: Figure) -> bytes:
    return base64.b64decode(png_data_uri(figure).split(",", 1)[1])


@literal_text
def sqnr_by_depth_figure(layers: list, title: str) -> Figure:
    """Accumulated and layer SQNR by depth, x ticks naming layer and op; the lowest layer SQNRs circled in red on
    the layer line, the largest accumulated drops marked by a purple triangle on the accumulated line."""
    figure = _new_figure(max(7.0, 0.25 * len(layers) + 2), 4.5)
    ax = figure.subplots()
    depths = list(range(len(layers)))
    ax.plot(depths, _series(layers, "sqnr_db"), label="SQNR, accumulated", **ACCUMULATED_STYLE)
    ax.plot(depths, _series(layers, "layer_sqnr_db"), label="SQNR, this layer alone", **ISOLATED_STYLE)
    lowest = [(depth, layer["layer_sqnr_db"]) for depth, layer in enumerate(layers)
              if lowest_layer_sqnr(layer) and layer.get("layer_sqnr_db") is not None]
    if lowest:
        ax.plot(*zip(*lowest), "o", markersize=10, markerfacecolor="none", markeredgecolor="red",
                label="flagged: lowest layer SQNR")
    drops = [(depth, layer["sqnr_db"]) for depth, layer in enumerate(layers)
             if largest_drop(layer) and layer.get("sqnr_db") is not None]
    if drops:
        ax.plot(*zip(*drops), "v", markersize=9, markerfacecolor="none", markeredgecolor="#7b2fbf",
                markeredgewidth=1.5, label="flagged: largest accumulated drop")
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
