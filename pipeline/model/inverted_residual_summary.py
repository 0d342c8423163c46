"""MACs and parameter counts of MobileNet V2 and V3, per bottleneck and in total, from the layer plan.

Conventions (those of the slim README and the V3 paper, which both reproduce under them):
- `mult_adds`: multiply-accumulates of every convolution (stem, expansion, depthwise, projection, the last 1x1
  conv, V3's head conv), of the squeeze-and-excite 1x1 convolutions on the pooled vector, and of the classifier.
  Pooling, residual adds, biases, activations and the squeeze-and-excite channel scaling are not counted; the
  scaling's multiplies (one per element of the expanded tensor) are reported apart as `se_scale_multiplies`.
- `params`: convolution and classifier weights plus the biases the layers have (V3's squeeze-and-excite and head
  convs, the classifier). Batch norm is not counted at all, neither its moving statistics nor gamma and beta:
  that reproduces the slim table's 3.47 M for mobilenet_v2_1.0_224 with 1001 classes (with gamma and beta it
  would be 3.51 M). It equals Keras Applications' conv, depthwise and dense weights.
"""
from mnd.pipeline.model.inverted_residual import InvertedResidualSpec, layer_plan
from mnd.pipeline.model.published import V2_SLIM, V3_PUBLISHED, V3_SIDE, V3_UNMATCHED, v2_published, v3_published

PUBLISHED_CLASSES = 1001  # the published checkpoints add a background class
MULT_ADDS_CONVENTION = ("convolutions, depthwise, squeeze-and-excite 1x1 convs and the classifier; not pooling, "
                        "residual adds or the squeeze-and-excite channel scaling (se_scale_multiplies)")
PARAMS_CONVENTION = "weights and biases; batch norm (statistics, gamma, beta) not counted"
TAIL_NAMES = {"conv": "stem conv", "last": "last 1x1 conv", "pool": "global pool", "head": "head 1x1 conv",
              "fc": "classifier"}


def _shape(side: int, channels: int) -> list:
    return [side, side, channels]


def _layer_row(index: int, layer) -> dict:
    return {"index": index, "type": layer.kind, "block": layer.block, "kernel": layer.kernel, "stride": layer.stride,
            "filter": layer.filter_shape, "activation": layer.activation, "bias": layer.bias,
            "input": _shape(layer.in_side, layer.in_channels), "output": _shape(layer.out_side, layer.out_channels),
            "mult_adds": layer.mult_adds, "params": layer.params}


def _block_rows(plan) -> list:
    """One row per stem, bottleneck and tail layer: what the per-layer table prints."""
    rows = [_single_row(plan.stem)]
    for block in plan.blocks:
        first, last = block.layers[0], block.layers[-1]
        rows.append({"type": "bottleneck", "block": block.index, "kernel": block.kernel,
                     "expansion": round(block.expansion, 3), "stride": block.stride, "se": block.se,
                     "activation": block.activation, "residual": block.residual,
                     "input": _shape(first.in_side, first.in_channels), "output": _shape(last.out_side, last.out_channels),
                     "mult_adds": sum(layer.mult_adds for layer in block.layers),
                     "params": sum(layer.params for layer in block.layers)})
    rows.extend(_single_row(layer) for layer in plan.tail)
    return rows


def _single_row(layer) -> dict:
    return {"type": TAIL_NAMES[layer.kind], "block": None, "kernel": layer.kernel, "expansion": None,
            "stride": layer.stride, "se": False, "activation": layer.activation, "residual": False,
            "input": _shape(layer.in_side, layer.in_channels), "output": _shape(layer.out_side, layer.out_channels),
            "mult_adds": layer.mult_adds, "params": layer.params}


def _published(spec: InvertedResidualSpec) -> list:
    if spec.family == "v2":
        rows = [row for row in (v2_published(spec.alpha, spec.side),) if row]
    else:
        rows = list(v3_published(spec.family, spec.alpha, spec.side, spec.minimalistic))
    unmatched = V3_UNMATCHED.get((spec.family, spec.alpha, spec.minimalistic)) if rows else None
    return [{"source": row.source, "mult_adds_m": row.mult_adds_m, "params_m": row.params_m, "top1": row.top1,
             "classes": PUBLISHED_CLASSES, "unmatched": unmatched} for row in rows]


def summarize(spec: InvertedResidualSpec) -> dict:
    """The JSON document `mnd summary --json` prints for a V2 or V3 model."""
    plan = layer_plan(spec)
    layers = plan.layers
    mult_adds = sum(layer.mult_adds for layer in layers)
    se_scale = sum(block.layers[-1].in_channels * block.layers[-1].out_side ** 2
                   for block in plan.blocks if block.se)
    return {"model": spec.to_dict(), "mult_adds": mult_adds, "params": sum(layer.params for layer in layers),
            "se_scale_multiplies": se_scale, "mult_adds_with_se_scale": mult_adds + se_scale,
            "conventions": {"mult_adds": MULT_ADDS_CONVENTION, "params": PARAMS_CONVENTION},
            "published": _published(spec), "blocks": _block_rows(plan),
            "layers": [_layer_row(i, layer) for i, layer in enumerate(layers)]}


def grid(family: str, classes: int = PUBLISHED_CLASSES, channels: int = 3) -> list:
    """Every published V2 (family 'v2') or V3 ('v3') model with our counts and the published figures beside them."""
    if family == "v2":
        specs = [InvertedResidualSpec("v2", alpha, side, classes, channels) for alpha, side in V2_SLIM]
    else:
        specs = [InvertedResidualSpec(name, alpha, V3_SIDE, classes, channels, minimalistic)
                 for name, alpha, minimalistic in V3_PUBLISHED]
    rows = []
    for spec in specs:
        doc = summarize(spec)
        rows.append({"name": spec.name, "alpha": spec.alpha, "side": spec.side, "minimalistic": spec.minimalistic,
                     "classes": classes, "mult_adds": doc["mult_adds"], "params": doc["params"],
                     "mult_adds_with_se_scale": doc["mult_adds_with_se_scale"], "published": doc["published"]})
    return rows


def _millions(value: int) -> str:
    return f"{value / 1e6:,.2f} M"


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "-"
    return f"{value:g}" if isinstance(value, float) else str(value)


def format_table(doc: dict) -> str:
    model = doc["model"]
    header = (f"{'#':>3}  {'layer':<14} {'k':>2} {'exp':>5} {'s':>2} {'SE':>3} {'activation':<11} {'res':>3}  "
              f"{'input':<12} {'output':<12} {'MACs':>13} {'params':>10}")
    lines = [f"{model['name']} ({model['classes']} classes, {model['channels']}-channel input)", header,
             "-" * len(header)]
    for index, row in enumerate(doc["blocks"]):
        label = f"bneck {row['block']}" if row["type"] == "bottleneck" else row["type"]
        lines.append(f"{index:>3}  {label:<14} {row['kernel']:>2} {_cell(row['expansion']):>5} {row['stride']:>2} "
                     f"{_cell(row['se']):>3} {_cell(row['activation']):<11} {_cell(row['residual']):>3}  "
                     f"{'x'.join(map(str, row['input'])):<12} {'x'.join(map(str, row['output'])):<12} "
                     f"{row['mult_adds']:>13,} {row['params']:>10,}")
    lines.append("-" * len(header))
    lines.append(f"total: {doc['mult_adds']:,} MACs ({_millions(doc['mult_adds'])}), {doc['params']:,} parameters "
                 f"({_millions(doc['params'])})")
    if doc["se_scale_multiplies"]:
        lines.append(f"squeeze-and-excite channel scaling, not in the total: {doc['se_scale_multiplies']:,} multiplies "
                     f"({_millions(doc['mult_adds_with_se_scale'])} with them)")
    lines.append(f"MACs: {doc['conventions']['mult_adds']}")
    lines.append(f"parameters: {doc['conventions']['params']}")
    lines.extend(_published_lines(doc["published"]))
    return "\n".join(lines)


def _published_lines(published: list) -> list:
    lines = []
    for row in published:
        lines.append(f"published ({row['source']}, {row['classes']} classes): {row['mult_adds_m']:g} M MACs, "
                     f"{row['params_m']:g} M parameters, ImageNet top-1 {row['top1']:.1f}%")
        if row["unmatched"]:
            lines.append(f"  not reproduced: {row['unmatched']}")
    return lines


def format_grid(rows: list) -> str:
    lines = [f"{'model':<40} {'MACs':>10} {'+SE scale':>10} {'params':>9}   published: source, MACs, params, top-1"]
    for row in rows:
        figures = "; ".join(f"{entry['source']}: {entry['mult_adds_m']:g} M, {entry['params_m']:g} M, "
                            f"{entry['top1']:.1f}%" for entry in row["published"])
        lines.append(f"{row['name']:<40} {_millions(row['mult_adds']):>10} "
                     f"{_millions(row['mult_adds_with_se_scale']):>10} {_millions(row['params']):>9}   {figures}")
    classes = rows[0]["classes"] if rows else PUBLISHED_CLASSES
    lines.append(f"ours for {classes} classes; MACs: {MULT_ADDS_CONVENTION}; +SE scale adds that scaling's multiplies")
    lines.append(f"parameters: {PARAMS_CONVENTION}. The slim README truncates V2 MACs to whole millions; for V3 "
                 "Small it and one version of the V3 paper print 66 M / 2.9 M, the other version 56 M / 2.5 M.")
    unmatched = [f"{row['name']}: {entry['unmatched']}" for row in rows for entry in row["published"]
                 if entry["unmatched"]]
    lines.extend(f"not reproduced: {text}" for text in dict.fromkeys(unmatched))
    return "\n".join(lines)
