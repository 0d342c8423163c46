"""`mnd quantize-report`: calibrate, quantize under one or several PTQ settings, and report per setting the int8
top-1 against float and where in the network the error arises (quantize.layer_quality)."""
import logging
from dataclasses import dataclass
from pathlib import Path

from mnd.base.errors import UsageError
from mnd.base.progress import phase
from mnd.pipeline.data.plan import load_export_data
from mnd.pipeline.quality.measure import float_predictions, measure_scheme, versus_float
from mnd.pipeline.quality.schemes import compared, label
from mnd.quantize.config import QuantConfig

log = logging.getLogger("mnd")
SCHEMA = "mnd.quantize-report/1"


@dataclass(frozen=True)
class ReportConfig:
    calib: str | None = None
    evaluation: str | None = None
    quant: QuantConfig = QuantConfig()
    compare: bool = False  # the four settings of pipeline.quality.schemes instead of `quant` alone
    evaluation_samples: int | None = None
    quality_samples: int = 50  # evaluation samples through the per-layer check


def quantize_report(source, config: ReportConfig) -> dict:
    """The report as one JSON-able document."""
    if source.kind != "keras":
        raise UsageError(f"quantize-report quantizes a float model; '{source.path}' is a .tflite file: give its "
                         "Keras/.h5/SavedModel original")
    model = source.loaded
    classes = int(model.output_shape[-1])
    calib_inputs, evaluation, data_doc = load_export_data(source, config.calib, config.evaluation,
                                                          config.quant.calibration_samples, classes,
                                                          config.evaluation_samples)
    inputs, labels = evaluation.float_inputs, evaluation.labels
    with phase(f"float top-1 on {len(labels)} evaluation samples"):
        float_top1 = float_predictions(model, inputs)
        float_hits = int((float_top1 == labels).sum())
    settings = compared(config.quant) if config.compare else [(label(config.quant), config.quant)]
    results = []
    for name, quant in settings:
        with phase(f"int8 {name}: calibrating, converting, top-1 and per-layer error"):
            results.append(measure_scheme(name, model, calib_inputs, inputs, labels, quant, config.quality_samples))
    return {"schema": SCHEMA, "model": source.name, "data": data_doc,
            "float": {"correct": float_hits, "n": len(labels), "accuracy": float_hits / len(labels)},
            "quality_samples": min(config.quality_samples, len(labels)),
            "schemes": [{**result.to_dict(), **versus_float(result.predictions, float_top1, labels)}
                        for result in results]}


def write_report(doc: dict, folder: Path) -> list:
    """quantization.json, quantization.md and the SQNR-by-depth plot(s) in `folder`; returns the paths."""
    from mnd.pipeline import rundir
    from mnd.pipeline.quality.render import render_markdown, sqnr_plots

    rundir.write_json(folder / "quantization.json", doc)
    (folder / "quantization.md").write_text(render_markdown(doc))
    written = [folder / "quantization.json", folder / "quantization.md"]
    for name, png in sqnr_plots(doc).items():
        (folder / name).write_bytes(png)
        written.append(folder / name)
    return written
