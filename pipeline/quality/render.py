"""quantize-report's Markdown (a summary table, then the per-layer section of each setting) and its plots."""
from mnd.pipeline.report.escape import code, text
from mnd.pipeline.report.quantization import quantization_section
from mnd.pipeline.report.intervals import accuracy_interval


def _weakest(layers: list) -> str:
    measured = [layer for layer in layers if layer.get("layer_sqnr_db") is not None]
    if not measured:
        return "—"
    worst = min(measured, key=lambda layer: layer["layer_sqnr_db"])
    return f"{worst['layer_sqnr_db']:.1f} dB ({text(worst['name'])})"


def _decibels(value) -> str:
    return "exact" if value is None else f"{value:.1f} dB"


DIFFERENCE_METHOD = ("Accuracies with their Wilson 95% intervals. int8 − float is the difference on the same "
                     "samples; the samples only one of the two models classifies right are what make it: when they "
                     "are few, or split about evenly, the difference is within noise.")


def _difference(scheme: dict, float_result: dict) -> str:
    points = f"{100 * (scheme['accuracy'] - float_result['accuracy']):+.2f}"
    if "int8_only_correct" not in scheme:  # a report written before the counts were kept
        return points
    return (f"{points} (only int8 right: {scheme['int8_only_correct']}, "
            f"only float right: {scheme['float_only_correct']})")


def render_markdown(doc: dict) -> str:
    data, float_result = doc["data"], doc["float"]
    lines = [f"# mnd quantize-report: {text(doc['model'])}", "",
             f"- calibration: {data['calibration']['samples']} samples from {code(data['calibration']['source'])} "
             f"({text(data['calibration']['part'])})",
             f"- evaluation: {data['evaluation']['samples']} samples from {code(data['evaluation']['source'])} "
             f"({text(data['evaluation']['part'])}); per-layer error on the first {doc['quality_samples']}",
             f"- float top-1: {accuracy_interval(float_result['accuracy'], float_result['n'])} (95% interval, "
             f"{float_result['correct']} of {float_result['n']})", "",
             "| setting | calibration | int8 top-1 [95% interval] (LiteRT reference kernels) | "
             "int8 − float (points) | output SQNR against the float model | lowest layer SQNR |",
             "|---|---|---|---|---|---|"]
    for scheme in doc["schemes"]:
        lines.append(f"| {text(scheme['label'])} | {text(scheme['calibration'])} | "
                     f"{accuracy_interval(scheme['accuracy'], scheme['n'])} | {_difference(scheme, float_result)} | "
                     f"{_decibels(scheme.get('output_sqnr_db'))} | {_weakest(scheme['layers'])} |")
    lines += ["", DIFFERENCE_METHOD]
    for scheme in doc["schemes"]:
        lines += ["", f"# {text(scheme['label'])}", ""] + quantization_section(_as_manifest_part(scheme))
    return "\n".join(lines) + "\n"


def _as_manifest_part(scheme: dict) -> dict:
    return {"weights_scheme": scheme["weights"], "calibration": scheme["calibration"],
            "bias_correct": scheme["bias_correct"], "float_model": scheme["notes"], "layers": scheme["layers"],
            "float_model_changes": scheme.get("float_model_changes")}


def sqnr_plots(doc: dict) -> dict:
    """{file name: PNG}: SQNR by depth per setting, and all settings overlaid when there are several."""
    from mnd.pipeline.report.quantization_plots import sqnr_by_depth_compare_png, sqnr_by_depth_png  # matplotlib

    schemes = doc["schemes"]
    plots = {f"sqnr-{_slug(s['label'])}.png": sqnr_by_depth_png(s["layers"], f"{doc['model']}: {s['label']}")
             for s in schemes}
    if len(schemes) > 1:
        plots["sqnr-compared.png"] = sqnr_by_depth_compare_png({s["label"]: s["layers"] for s in schemes},
                                                               f"{doc['model']}: accumulated SQNR by depth")
    return plots


def _slug(label: str) -> str:
    return "-".join(part for part in label.replace("+", " ").split())
