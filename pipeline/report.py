"""report.md: what was built, whether it is right, how fast and accurate it is, and what to do next."""
from pathlib import Path

from mnd.pipeline.report_emulated import render_emulated
from mnd.pipeline.sandbox import RUNTIME_LABELS


def _percent(value) -> str:
    return "—" if value is None else f"{value:.2%}"


def _ms(latency, key) -> str:
    return "—" if not latency else f"{latency[key]:.3f}"


def _quantization_line(quant: dict, calibration: dict | None) -> str:
    if calibration is None:
        return f"- quantization: {quant.get('scheme')} (no calibration run here)"
    return (f"- quantization: {quant.get('scheme')}, {quant.get('calibration_samples')} calibration samples "
            f"from `{calibration['source']}` ({calibration['part']})")


def render(manifest, run_path: str = "out/RUN") -> str:
    model, quant, data = manifest.model, manifest.quantization or {}, manifest.data
    sizes = {a.kind: a.bytes for a in manifest.artifacts}
    lines = [f"# mnd export: {model['name']}", "",
             f"- input {model['input_shape']}, {model['classes']} classes, preprocessing "
             f"`{model['preprocessing']['formula']}`",
             _quantization_line(quant, data.get("calibration")),
             f"- evaluation: {data['evaluation']['samples']} samples from `{data['evaluation']['source']}` "
             f"({data['evaluation']['part']})" + (", disjoint from calibration" if data.get("calibration") else ""),
             f"- TFLite-Micro arena (host interpreter, 64-bit): {model.get('tflm_arena_bytes', '—')} bytes", "",
             "## Artifacts", "", "| kind | path | bytes | sha256 |", "|---|---|---|---|"]
    for artifact in manifest.artifacts:
        lines.append(f"| {artifact.kind} | {artifact.path} | {artifact.bytes:,} | `{artifact.sha256[:12]}` |")
    lines += ["", "## Validation", "", "| check | result | value | threshold | detail |", "|---|---|---|---|---|"]
    for v in manifest.validations:
        result = "info" if not v.gated else "pass" if v.passed else "**FAIL**"
        lines.append(f"| {v.name} | {result} | {v.value:.6g} | {v.threshold:.6g} | {v.detail} |")
    target = manifest.target or {}
    lines += ["", f"## Measurements on `{target.get('name', '—')}`", ""]
    hardware = [m for m in manifest.measurements if not m.emulated]
    if hardware:
        lines += _host_table(hardware, sizes, manifest.environment)
    for m in manifest.measurements:
        if m.emulated:
            lines += render_emulated(m, (target.get("options") or {}).get("clock_mhz"))
    lines += ["## Next", "", next_command(manifest, run_path)]
    for warning in manifest.warnings:
        lines.insert(lines.index("## Artifacts") - 1, f"- warning: {warning}")
    return "\n".join(lines) + "\n"


def _host_table(measurements, sizes: dict, env: dict) -> list:
    lines = ["| artifact | runtime | bytes | accuracy | n | p50 ms | p90 ms | runs | threads |",
             "|---|---|---|---|---|---|---|---|---|"]
    for m in measurements:
        lines.append(f"| {m.artifact} | {RUNTIME_LABELS.get(m.runtime, m.runtime)} | {sizes.get(m.artifact, 0):,} | "
                     f"{_percent(m.accuracy)} | {m.n} | {_ms(m.latency_ms, 'p50')} | {_ms(m.latency_ms, 'p90')} | "
                     f"{m.runs} | {m.threads or '—'} |")
    return lines + ["", f"Latency: {measurements[0].warmup} warm-up runs, then the timed runs above, one sample at "
                    "a time; p50/p90 in milliseconds.",
                    f"CPU: {env.get('cpu_model')} ({env.get('machine')}; "
                    f"{', '.join(env.get('isa_flags', [])) or 'no flags read'}).", ""]


def next_command(manifest, run_path: str) -> str:
    target = (manifest.target or {}).get("name", "host")
    if target.startswith("cortex-"):
        return (f"Build `{run_path}/{target}/` (model.c, kernels.c: no interpreter, no arena guess) into your "
                f"firmware, or compare cores with `mnd measure {run_path} --target cortex-m55`.")
    return f"Build `{run_path}/tflm/` into your TFLite-Micro firmware, or re-measure with " \
           f"`mnd measure {run_path} --target {target} --threads 2`."


def write_report(run_dir: Path, manifest, run_path: str) -> Path:
    """`run_path`: where the run will live once published (the report names it in its next command)."""
    path = run_dir / "report.md"
    path.write_text(render(manifest, run_path))
    return path
