"""A comparison of several runs (`mnd report RUN RUN ... --out DIR`): every measurement of every run in one table,
and side-by-side plots of accuracy and latency or instructions per run; report.md and report.html like a run's."""
from pathlib import Path

from mnd.pipeline.report import plots
from mnd.pipeline.report.escape import code, text
from mnd.pipeline.report.html import markdown_to_html, page, with_figures
from mnd.pipeline.report.intervals import accuracy_interval

SCHEMA = "mnd.comparison/1"


def run_names(paths: list) -> list:
    """Each run's folder name, or its path as given where two runs share a folder name."""
    names = [Path(path).name or str(path) for path in paths]
    return [name if names.count(name) == 1 else str(path) for name, path in zip(names, paths)]


def _speed(m) -> str:
    if m.latency_ms:
        return f"{m.latency_ms['p50']:.3f} ms"
    if m.instructions is not None:
        cycles = f", {m.cycles_estimated:,} cycles (estimated)" if m.cycles_estimated is not None else ""
        return f"{m.instructions:,} instructions{cycles}"
    median = ((m.benchmark or {}).get("inference") or {}).get("median")
    return "—" if median is None else f"{median / 1000:.3f} ms (benchmark_model median)"


def _bytes(value) -> str:
    return "—" if value is None else f"{value:,} B"


def comparison_markdown(runs: list, out_path: str) -> str:
    """`runs`: (name, path, Manifest) each."""
    lines = [f"# mnd report: {len(runs)} runs compared", ""]
    for name, path, manifest in runs:
        target = (manifest.target or {}).get("name", "—")
        lines.append(f"- {code(name)}: {code(path)}, model {text(manifest.model['name'])} on {text(target)}, "
                     f"{len(manifest.measurements)} measurement(s) on {text(manifest.data['evaluation']['samples'])} "
                     "evaluation samples")
    lines += ["", "## Measurements", "",
              "| run | model | target | artifact | runtime | threads | accuracy [95% interval] | n | latency p50 or "
              "instructions | RAM | flash |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, _, manifest in runs:
        for m in manifest.measurements:
            target = m.target + (" (emulated)" if m.emulated else "")
            lines.append(f"| {text(name)} | {text(manifest.model['name'])} | {text(target)} | {text(m.artifact)} | "
                         f"{text(m.runtime)} | {m.threads or '—'} | {accuracy_interval(m.accuracy, m.n)} | {m.n} | "
                         f"{_speed(m)} | "
                         f"{_bytes(m.ram_bytes)} | {_bytes(m.flash_bytes)} |")
    warned = [(name, warning) for name, _, manifest in runs for warning in manifest.warnings]
    if warned:
        lines += ["", "## Warnings", "", *(f"- {text(name)}: {text(warning)}" for name, warning in warned)]
    lines += ["", "## Next", "",
              f"Open {code(f'{out_path}/report.html')}; each run's own report is its report.html (re-render one with "
              "`mnd report RUN`)."]
    return "\n".join(lines) + "\n"


def comparison_figures(runs: list) -> list:
    bars = [plots.bar_of(m, prefix=name) for name, _, manifest in runs for m in manifest.measurements]
    figures = []
    if bars:
        figures.append((plots.accuracy_speed_figure(bars, f"{len(runs)} runs compared"),
                        "Accuracy and latency (or executed instructions) per run, runtime, artifact and thread count."))
    memory = [(f"{name}: {m.target} · {m.runtime}", m.ram_parts, m.flash_parts, m.emulated)
              for name, _, manifest in runs for m in manifest.measurements if m.ram_parts or m.flash_parts]
    if memory:
        figures.append((plots.memory_figure([row[:3] for row in memory], "RAM and flash per run",
                                            any(row[3] for row in memory)),
                        "RAM and flash by part, for the runs on microcontroller targets."))
    return figures


def comparison_html(runs: list, out_path: str) -> str:
    body = markdown_to_html(comparison_markdown(runs, out_path))
    return page(f"mnd report: {len(runs)} runs compared", with_figures(body, comparison_figures(runs)))


def comparison_record(runs: list) -> dict:
    """The comparison folder's manifest.json: which runs it compares (and what lets --force replace it)."""
    return {"schema": SCHEMA, "runs": [{"name": name, "path": str(path), "model": manifest.model["name"],
                                        "target": (manifest.target or {}).get("name")}
                                       for name, path, manifest in runs]}
