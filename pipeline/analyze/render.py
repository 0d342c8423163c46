"""`mnd analyze`'s text: the answer first (fits, sizes, MACs), then the layer table."""
from mnd.pipeline.report.fit import fit_line


def _shape(dims: list) -> str:
    return "x".join(map(str, dims)) or "scalar"


def format_analysis(doc: dict) -> str:
    where = f"{doc['core']}, {doc['arena_kernels']} kernels" if doc["core"] else "any core, portable kernels"
    tflm = f"{doc['tflm_arena_bytes']:,} B ({doc['tflm_arena_note']})" if doc["tflm_arena_bytes"] is not None \
        else doc["tflm_arena_note"]
    lines = [f"{doc['model']}: {doc['macs']:,} MACs, {doc['params']:,} parameters ({doc['weight_bytes']:,} B as "
             f"stored), input {_shape(doc['input']['shape'])} {doc['input']['dtype']}"]
    if doc["fit"]:
        lines.append(fit_line(doc["fit"]))
    else:
        lines.append(f"flash ~{doc['flash_bytes']:,} B, RAM ~{doc['ram_bytes']:,} B ({doc['estimate']}); "
                     "give --board NAME for a verdict (mnd targets lists the boards)")
    lines += [f"arena (mnd-c, planned for {where}): {doc['arena_bytes']:,} B; floor {doc['arena_floor_bytes']:,} B "
              "(the most tensor bytes live at once)", f"TFLite-Micro arena: {tflm}"]
    lines += [f"note: {note}" for note in doc["notes"]]
    header = f"{'#':>3}  {'op':<18} {'input':<22} {'output':<14} {'MACs':>11} {'params':>9} {'weight B':>9}"
    lines += ["", header, "-" * len(header)]
    for row in doc["layers"]:
        inputs = " + ".join(_shape(shape) for shape in row["inputs"])
        lines.append(f"{row['index']:>3}  {row['op']:<18} {inputs:<22} {_shape(row['output']):<14} "
                     f"{row['macs']:>11,} {row['params']:>9,} {row['weight_bytes']:>9,}")
    return "\n".join(lines)
