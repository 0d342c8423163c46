"""Which layers of a per-layer quantization check (quantize.layer_quality) to point at, for two distinct reasons.

- largest_drop: where the accumulated SQNR (int8 against the float model, all error so far) falls most. A layer's
  drop is the lowest accumulated SQNR among the layers it reads (`inputs`) minus its own: measured from the input
  it actually reads, not from whatever layer precedes it in graph order, so a branch of an inverted residual block
  drops from the block's input and its ADD from the worse of the two tensors it sums (an ADD of a clean skip and a
  noisy branch then shows the noise where the branch made it, not again at the ADD). A layer that reads only the
  model input has no drop (None): its accumulated SQNR is where the curve starts. Only drops > 0 dB are flagged.
- lowest_layer_sqnr: the lowest isolated SQNR (layer_sqnr_db), the error a layer adds itself whatever arrived.

The two often disagree: a layer can add little error itself while the accumulated SQNR falls there (its input's
error amplified), and a layer with a low isolated SQNR can matter little downstream.
"""
from dataclasses import replace

FLAGGED_PER_REASON = 3


def accumulated_drop(layer, by_depth: dict) -> tuple:
    """(drop in dB, the depth of the input layer it is measured from), (None, None) where either side is
    unmeasured or the layer reads only the model input."""
    if layer.sqnr_db is None:
        return None, None
    measured = [by_depth[depth] for depth in layer.inputs if by_depth[depth].sqnr_db is not None]
    if not measured:
        return None, None
    source = min(measured, key=lambda upstream: upstream.sqnr_db)
    return source.sqnr_db - layer.sqnr_db, source.depth


def flag_layers(layers: list, k: int = FLAGGED_PER_REASON) -> list:
    """The layers (LayerQuality, `inputs` naming the depths each reads) with accumulated_drop_db and drop_from
    filled in, and the k largest drops and the k lowest layer SQNRs flagged."""
    by_depth = {layer.depth: layer for layer in layers}
    layers = [replace(layer, **dict(zip(("accumulated_drop_db", "drop_from"), accumulated_drop(layer, by_depth))))
              for layer in layers]
    dropping = sorted((layer for layer in layers if (layer.accumulated_drop_db or 0) > 0),
                      key=lambda layer: -layer.accumulated_drop_db)
    lowest = sorted((layer for layer in layers if layer.layer_sqnr_db is not None),
                    key=lambda layer: layer.layer_sqnr_db)
    largest_drops = {layer.depth for layer in dropping[:k]}
    lowest_sqnr = {layer.depth for layer in lowest[:k]}
    return [replace(layer, largest_drop=layer.depth in largest_drops, lowest_layer_sqnr=layer.depth in lowest_sqnr)
            for layer in layers]
