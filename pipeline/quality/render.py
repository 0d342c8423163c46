"""quantize-report's Markdown (a summary table, then the per-layer section of each setting) and its plots."""
from mnd.pipeline.report.escape import code, text
from mnd.pipeline.report.quantization import quantization_section
from mnd.pipeline.report.tables import percent


def _weakest(layers: list) -> str:
    measured = [layer for layer in layers if layer.get("layer_sqnr_db") is not None]
    if not measured:
        return "—"
    worst = min(measured, key=lambda layer: layer["layer_sqnr_db"])
    return f"{worst['layer_sqnr_db']:.1f} dB ({text(worst['name'])})"


def _decibels(value) -> str:
    return "exact" if value is None else f"{value:.1f} dB"


def render_markdown(doc: dict) -> str:
    data, float_result = doc["data"], doc["float"]
    lines = [f"# mnd quantize-report: {text(doc['model'])}", "",
             f"- calibration: {data['calibration']['samples']} samples from {code(data['calibration']['source'])} "
             f"({text(data['calibration']['part'])})",
             f"- evaluation: {data['evaluation']['samples']} samples from {code(data['evaluation']['source'])} "
             f"({text(data['evaluation']['part'])}); per-layer error on the first {doc['quality_samples']}",
             f"- float top-1: {percent(float_result['accuracy'])}", "",
             "| setting | calibration | int8 top-1 (LiteRT reference kernels) | vs float (points) | "
             "output SQNR against the float model | lowest layer SQNR |",
             "|---|---|---|---|---|---|"]
    for scheme in doc["schemes"]:
        drop = 100 * (scheme["accuracy"] - float_result["accuracy"])
        lines.append(f"| {text(scheme['label'])} | {text(scheme['calibration'])} | {percent(scheme['accuracy'])} | "
                     f"{drop:+.2f} | {_decibels(scheme.get('output_sqnr_db'))} | {_weakest(scheme['layers'])} |")
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
