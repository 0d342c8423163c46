"""report.md: the answer first (a summary: accuracy with its 95% interval and speed per runtime, fit, validation
verdict, the next command), then what was built, whether it is right, and the measurements in detail
(pipeline/report/write.py writes it, and report.html from it)."""
from mnd.pipeline.export.formats import ALL_FORMATS
from mnd.pipeline.report.board import render_board
from mnd.pipeline.report.emulated import render_emulated, versus_mnd_c
from mnd.pipeline.report.probe import render_probe
from mnd.pipeline.report.fit import fit_line
from mnd.pipeline.report.escape import code, text
from mnd.pipeline.report.phone import render_phone
from mnd.pipeline.report.quantization import quantization_section
from mnd.pipeline.report.summary import failed_checks, summary_markdown
from mnd.pipeline.report.intervals import accuracy_interval
from mnd.pipeline.report.tables import measurement_table

BOARD_TARGETS = ("rpi4", "rpi5", "linux-arm64")


def _quantization_line(quant: dict, calibration: dict | None) -> str:
    seven_bit = ", ONNX weights 7-bit (`--onnx-reduce-range`)" if quant.get("onnx_reduce_range") else ""
    if calibration is None:
        return f"- quantization: {text(quant.get('scheme'))}{seven_bit} (no calibration run here)"
    changes = [flag for flag, key in (("equalized", "equalize"), ("bias-corrected", "bias_correct")) if quant.get(key)]
    float_model = f", float model {' and '.join(changes)} first" if changes else ""
    ranges = f", {text(quant['calibration'])} activation ranges" if quant.get("calibration") else ""
    choice = (quant.get("bias_correction") or {}).get("line")
    return (f"- quantization: {text(quant.get('scheme'))}{seven_bit}{ranges}{float_model}, "
            f"{text(quant.get('calibration_samples'))} calibration samples from {code(calibration['source'])} "
            f"({text(calibration['part'])})" + (f"; {text(choice)}" if choice else ""))


def render(manifest, run_path: str = "out/RUN") -> str:
    return "\n".join(line for part in render_parts(manifest, run_path) for line in part) + "\n"


def render_parts(manifest, run_path: str = "out/RUN") -> tuple:
    """(title, summary, details) as lists of Markdown lines: the answer first (report/summary.py), then the tables
    (artifacts, validation, measurements, the per-layer quantization table last); report.html puts the figures
    between the summary and the details."""
    title = [f"# mnd export: {text(manifest.model['name'])}", ""]
    summary = summary_markdown(manifest, next_command(manifest, run_path))
    return title, summary, _details(manifest)


def _details(manifest) -> list:
    model, quant, data = manifest.model, manifest.quantization or {}, manifest.data
    sizes = {a.kind: a.bytes for a in manifest.artifacts}
    lines = ["## Model, data and quantization", "",
             f"- input {model['input_shape']}, {model['classes']} classes, preprocessing "
             f"{code(model['preprocessing']['formula'])}",
             _quantization_line(quant, data.get("calibration")),
             f"- evaluation: {data['evaluation']['samples']} samples from {code(data['evaluation']['source'])} "
             f"({text(data['evaluation']['part'])})"
             + (", disjoint from calibration" if data.get("calibration") else ""),
             _tflm_arena_line(model, manifest.formats), "", "## Artifacts", "",
             *_formats_lines(manifest.formats), "| kind | path | bytes | sha256 |", "|---|---|---|---|"]
    for artifact in manifest.artifacts:
        lines.append(f"| {text(artifact.kind)} | {text(artifact.path)} | {artifact.bytes:,} | "
                     f"{code(artifact.sha256[:12])} |")
    lines += ["", "## Validation", "", "| check | result | value | threshold | detail |", "|---|---|---|---|---|"]
    for v in manifest.validations:
        result = "info" if not v.gated else "pass" if v.passed else "**FAIL**"
        lines.append(f"| {text(v.name)} | {result} | {v.value:.6g} | {v.threshold:.6g} | {text(v.detail)} |")
    target = manifest.target or {}
    measured = list(dict.fromkeys(m.target for m in manifest.measurements)) or [target.get("name", "—")]
    lines += ["", f"## Measurements on {', '.join(code(name) for name in measured)}", ""]  # every target measured
    host = [m for m in manifest.measurements if m.target == "host"]
    if host:
        lines += _host_table(host, sizes, manifest.environment)
        lines += _agreement_table([m for m in host if m.agreement])
    phone = [m for m in manifest.measurements if m.target == "android"]
    if phone:
        lines += render_phone(phone, sizes, target.get("board"))
    boards = [m for m in manifest.measurements if m.target in BOARD_TARGETS]
    if boards:
        lines += render_board(boards[0].target, boards, sizes, target.get("board"))
    for m in manifest.measurements:
        if m.instructions is not None:
            lines += render_emulated(m, _clock_mhz(m, target),
                                     _part_lines(target, m.target) + versus_mnd_c(m, manifest.measurements),
                                     failed_checks(m, manifest.validations))
        elif m.probe is not None:
            lines += render_probe(m)
    return lines + quantization_section(quant)


def _clock_mhz(m, target: dict) -> float | None:
    """The row's own --clock-mhz; a run from before rows kept it has it only in the last measured target's options."""
    if m.clock_mhz is not None:
        return m.clock_mhz
    return (target.get("options") or {}).get("clock_mhz") if target.get("name") == m.target else None


def _part_lines(target: dict, core: str) -> list:
    """`mnd export --board`: whether the measured firmware fits the part, and instructions / its clock (estimate)."""
    part = target.get("part")
    if not part or part["core"] != core:
        return []
    return [f"- {fit_line(part)}", f"- on the {part['part']}: {part['estimate']}"]


def _host_table(measurements, sizes: dict, env: dict) -> list:
    return measurement_table(measurements, sizes) + [
        "", f"Latency: {measurements[0].warmup} warm-up runs, then the timed runs above, one sample at a time; p50/p90 "
        "in milliseconds.",
        f"CPU: {text(env.get('cpu_model'))} ({text(env.get('machine'))}; "
        f"{text(', '.join(env.get('isa_flags', []))) or 'no flags read'}).", ""]


def _agreement_table(measurements) -> list:
    if not measurements:
        return []
    lines = ["### ONNX Runtime on this CPU vs the exact QDQ arithmetic", "",
             "Users run ONNX Runtime with graph optimizations on: QDQ fused into integer kernels, whose int8 results "
             "depend on the CPU (x86 without VNNI can saturate 16-bit sums). Validation therefore checked onnx_int8 "
             "with them off: the QDQ arithmetic as written, the same on every CPU.", "",
             "| artifact | fused accuracy [95% interval] | exact accuracy [95% interval] | top-1 differing | n |",
             "|---|---|---|---|---|"]
    for m in measurements:
        a = m.agreement
        lines.append(f"| {text(m.artifact)} | {accuracy_interval(m.accuracy, m.n)} | "
                     f"{accuracy_interval(a['reference_accuracy'], a['n'])} | "
                     f"{text(a['top1_differing'])} | {text(a['n'])} |")
    if any(m.artifact == "onnx_uint8" for m in measurements):
        lines += ["", "onnx_uint8 was validated on the fused kernels themselves: uint8 x uint8 kernels add in 32 bits "
                  "on every CPU, while the exact graph accumulates in float32, so the two may differ anywhere."]
    return lines + [""]


def _tflm_arena_line(model: dict, formats) -> str:
    if model.get("tflm_arena_bytes") is None and formats is not None and "tflm" not in formats:
        return "- TFLite-Micro arena: not searched (the tflm format was not exported)"
    return f"- TFLite-Micro arena (host interpreter, 64-bit): {model.get('tflm_arena_bytes', '—')} bytes"


def _formats_lines(formats) -> list:
    """What `--formats` asked for, where it was not every format (an export from before the flag made them all)."""
    if formats is None or set(formats) == set(ALL_FORMATS):
        return []
    asked = f"`--formats {','.join(formats)}`" if formats else "no format (a cost-only export)"
    return [f"Exported with {asked}, and the .tflite the others derive from (always written): validations and "
            "measurements ran on these artifacts only.", ""]


def next_command(manifest, run_path: str) -> str:
    target = (manifest.target or {}).get("name", "host")
    if target in BOARD_TARGETS:
        options = (manifest.target or {}).get("options") or {}
        where = f"--ssh {options['ssh']}" if options.get("ssh") else "--ssh pi@raspberrypi.local"
        return (f"Deploy {code(f'{run_path}/{target}/mnd-c')} (static, no Python) or the .tflite with LiteRT; measure "
                f"on the board with {code(f'mnd measure {run_path} --target {target} {where}')}.")
    if target == "android":
        return (f"Deploy {code(f'{run_path}/android/mnd-c')} (static arm64, no interpreter: `adb push` it and run it), "
                "or measure LiteRT itself: "
                + code(f"mnd measure {run_path} --target android --benchmark-model ./android_aarch64_benchmark_model "
                       "--delegate xnnpack,gpu") + ".")
    if target.startswith("cortex-"):
        return (f"Build {code(f'{run_path}/{target}/')} (model.c, kernels.c: no interpreter, no arena guess) into your "
                f"firmware, or compare cores with {code(f'mnd measure {run_path} --target cortex-m55')}.")
    remeasure = code(f"mnd measure {run_path} --target {target} --threads 2")
    if manifest.formats is not None and "tflm" not in manifest.formats and manifest.artifacts:  # --formats
        model = manifest.artifact("tflite_int8") or manifest.artifacts[0]
        return f"Deploy {code(f'{run_path}/{model.path}')} with LiteRT, or re-measure with {remeasure}."
    return f"Build {code(f'{run_path}/tflm/')} into your TFLite-Micro firmware, or re-measure with {remeasure}."
