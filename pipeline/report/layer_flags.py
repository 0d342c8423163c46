"""The two reasons a layer of manifest `quantization.layers` is pointed at (quantize.layer_flags), as the reports
word them. Manifests written before the two existed carry one `flagged`: the lowest layer SQNR, as it was then."""
from mnd.pipeline.report.escape import text
from mnd.pipeline.report.labels import short


def largest_drop(layer: dict) -> bool:
    return bool(layer.get("largest_drop"))


def lowest_layer_sqnr(layer: dict) -> bool:
    return bool(layer.get("lowest_layer_sqnr", layer.get("flagged")))


def drops_recorded(layers: list) -> bool:
    return any("accumulated_drop_db" in layer for layer in layers)


def flag_cell(layer: dict) -> str:
    """The table's flag column: each reason that applies, named."""
    reasons = []
    if largest_drop(layer):
        reasons.append(f"⚠ largest accumulated drop ({_drop(layer)})")
    if lowest_layer_sqnr(layer):
        reasons.append("⚠ lowest layer SQNR")
    return "; ".join(reasons)


def flags_line(layers: list) -> str:
    """One line naming both lists: "Accumulated SQNR drops most at: ...; lowest own SQNR: ..."."""
    lowest = [f"{_where(depth, layer)} ({layer['layer_sqnr_db']:.1f} dB)" for depth, layer in enumerate(layers)
              if lowest_layer_sqnr(layer) and layer.get("layer_sqnr_db") is not None]
    if drops_recorded(layers):
        drops = [(depth, layer) for depth, layer in enumerate(layers) if largest_drop(layer)]
        drops.sort(key=lambda item: -item[1]["accumulated_drop_db"])
        dropping = ", ".join(f"{_where(depth, layer)} ({_drop(layer)})" for depth, layer in drops) or "nowhere"
    else:
        dropping = "not recorded in this run (exported before mnd measured it)"
    return f"Accumulated SQNR drops most at: {dropping}; lowest own SQNR: {', '.join(lowest) or '—'}."


def _where(depth: int, layer: dict) -> str:
    return f"#{layer.get('depth', depth)} {text(short(layer.get('name'), 40))}"


def _drop(layer: dict) -> str:
    source = layer.get("drop_from")
    return f"−{layer['accumulated_drop_db']:.1f} dB" + ("" if source is None else f" from #{source}")
