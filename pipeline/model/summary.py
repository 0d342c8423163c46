"""Mult-adds and parameter counts per layer (paper Tables 2, 3, 6, 7), computed from the layer plan."""
from mnd.pipeline.model.architecture import ModelSpec, layer_plan

LAYER_TYPES = ("conv", "dw", "pw", "fc")
GRID_ALPHAS = (1.0, 0.75, 0.5, 0.25)
GRID_SIDES = (224, 192, 160, 128)
# ImageNet top-1 the paper prints for grid models (Table 6: alpha at 224; Table 7: alpha 1 at each side).
# The other nine grid models appear only as points in Figures 4/5, with no printed value.
PAPER_TOP1 = {
    (1.0, 224): 70.6, (0.75, 224): 68.4, (0.5, 224): 63.7, (0.25, 224): 50.6,
    (1.0, 192): 69.1, (1.0, 160): 67.2, (1.0, 128): 64.4,
}


def summarize(spec: ModelSpec) -> dict:
    """The JSON document `mnd summary --json` prints."""
    plan = layer_plan(spec)
    total_mult_adds = sum(layer.mult_adds for layer in plan)
    total_params = sum(layer.params for layer in plan)
    rows = [{"index": i, "type": layer.kind, "stride": layer.stride, "filter": layer.filter_shape,
             "input": [layer.in_side, layer.in_side, layer.in_channels],
             "output": [layer.out_side, layer.out_side, layer.out_channels],
             "mult_adds": layer.mult_adds, "params": layer.params}
            for i, layer in enumerate(plan)]
    by_type = {}
    for kind in LAYER_TYPES:
        mult_adds = sum(layer.mult_adds for layer in plan if layer.kind == kind)
        params = sum(layer.params for layer in plan if layer.kind == kind)
        by_type[kind] = {"layers": sum(1 for layer in plan if layer.kind == kind),
                         "mult_adds": mult_adds, "params": params,
                         "mult_adds_share": mult_adds / total_mult_adds,
                         "params_share": params / total_params}
    return {"model": spec.to_dict(), "mult_adds": total_mult_adds, "params": total_params,
            "by_type": by_type, "layers": rows}


def grid(classes: int = 1000, channels: int = 3) -> list:
    """The 16 models alpha x side of paper Figures 4/5 with our counts and the paper's printed top-1."""
    rows = []
    for alpha in GRID_ALPHAS:
        for side in GRID_SIDES:
            doc = summarize(ModelSpec(alpha=alpha, side=side, classes=classes, channels=channels))
            rows.append({"name": doc["model"]["name"], "alpha": alpha, "side": side,
                         "mult_adds": doc["mult_adds"], "params": doc["params"],
                         "paper_top1": PAPER_TOP1.get((alpha, side))})
    return rows


def _millions(value: int) -> str:
    return f"{value / 1e6:,.2f} M"


def format_table(doc: dict) -> str:
    header = f"{'#':>3}  {'type':<5} {'s':>2}  {'filter':<16} {'input':<14} {'output':<14} {'mult-adds':>14} {'params':>10}"
    lines = [f"{doc['model']['name']} ({doc['model']['classes']} classes, {doc['model']['channels']}-channel input)",
             header, "-" * len(header)]
    for row in doc["layers"]:
        shape_in = "x".join(map(str, row["input"]))
        shape_out = "x".join(map(str, row["output"]))
        lines.append(f"{row['index']:>3}  {row['type']:<5} {row['stride']:>2}  {row['filter']:<16} {shape_in:<14} "
                     f"{shape_out:<14} {row['mult_adds']:>14,} {row['params']:>10,}")
    lines.append("-" * len(header))
    lines.append(f"total: {doc['mult_adds']:,} mult-adds ({_millions(doc['mult_adds'])}), "
                 f"{doc['params']:,} parameters ({_millions(doc['params'])})")
    lines.append("")
    lines.append("share by layer type (paper Table 2; the first conv's share is a direct count, "
                 "the paper prints 1.19% where a direct count of its own table gives 1.91%)")
    lines.append(f"  {'type':<18} {'layers':>6} {'mult-adds':>10} {'params':>10}")
    labels = {"conv": "3x3 conv (full)", "dw": "3x3 depthwise", "pw": "1x1 conv", "fc": "fully connected"}
    for kind, entry in doc["by_type"].items():
        lines.append(f"  {labels[kind]:<18} {entry['layers']:>6} {entry['mult_adds_share']:>9.2%} {entry['params_share']:>10.2%}")
    return "\n".join(lines)


def format_grid(rows: list) -> str:
    lines = [f"{'model':<24} {'alpha':>5} {'side':>5} {'mult-adds':>12} {'params':>10} {'paper top-1':>12}"]
    for row in rows:
        top1 = f"{row['paper_top1']:.1f}%" if row["paper_top1"] is not None else "figure only"
        lines.append(f"{row['name']:<24} {row['alpha']:>5} {row['side']:>5} {_millions(row['mult_adds']):>12} "
                     f"{_millions(row['params']):>10} {top1:>12}")
    lines.append("paper top-1 from Tables 6 and 7 (ImageNet); other grid points are plotted in Figures 4/5 only")
    return "\n".join(lines)
