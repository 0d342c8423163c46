"""report.md and report.html of a sweep, from its sweep.json document: the table of variants and the trade-off
plots (paper Figures 4 and 5 with a dataset). The HTML embeds its figures as PNG data; it loads nothing and runs
no script."""
import html
from pathlib import Path

from mnd.pipeline import rundir
from mnd.pipeline.report.escape import code, text
from mnd.pipeline.report.html import inline
from mnd.pipeline.report.intervals import accuracy_interval
from mnd.pipeline.sweep import plots
from mnd.pipeline.sweep.board_view import board_lines
from mnd.pipeline.sweep.fits import target_limits

COLUMNS = ("variant", "alpha", "resolution", "mult-adds", "params", "int8 bytes", "RAM bytes", "flash bytes",
           "cost", "eval n", "float acc [95% CI]", "int8 acc [95% CI]", "fits", "status")

ACCURACY_FIGURES = (("mult_adds", "Accuracy vs mult-adds (as paper Figure 4)"),
                    ("params", "Accuracy vs parameters (as paper Figure 5)"))


def write_reports(folder: Path, doc: dict) -> None:
    rundir.replace_files(folder, {"report.md": render_markdown(doc, str(folder)),
                                  "report.html": render_html(doc, str(folder))})


def render_markdown(doc: dict, folder: str) -> str:
    lines = [f"# mnd sweep on {code(doc['settings']['target'])}", "", *_summary(doc), "", "## Variants", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cells) + " |" for cells in _cells(doc["rows"])]
    boards = board_lines(doc)
    if boards:
        lines += ["", "## Boards", "", *boards]
    notes = _notes(doc["rows"])
    if notes:
        lines += ["", "## Not run, failed or flagged", "", *[f"- {note}" for note in notes]]
    lines += ["", "## Next", "", *_next(doc, folder)]
    return "\n".join(lines) + "\n"


def render_html(doc: dict, folder: str) -> str:
    settings, rows = doc["settings"], doc["rows"]
    head = "".join(f"<th>{html.escape(name)}</th>" for name in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell.replace('**', ''))}</td>" for cell in cells) + "</tr>\n"
                   for cells in _cells(rows))
    parts = [f"<h1>mnd sweep on {html.escape(settings['target'])}</h1>",
             "<ul>" + "".join(f"<li>{inline(line[2:])}</li>" for line in _summary(doc))
             + "</ul>", "<h2>Variants</h2>", f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table>"]
    boards = board_lines(doc)
    if boards:
        parts += ["<h2>Boards</h2>", "<ul>" + "".join(f"<li>{inline(line[2:])}</li>" for line in boards) + "</ul>"]
    notes = _notes(rows)
    if notes:
        parts += ["<h2>Not run, failed or flagged</h2>",
                  "<ul>" + "".join(f"<li>{inline(note)}</li>" for note in notes) + "</ul>"]
    parts += ["<h2>Plots</h2>", *[_figure_html(figure, caption) for figure, caption in _figures(doc)]]
    parts += ["<h2>Next</h2>", "<ul>" + "".join(f"<li><code>{html.escape(line[2:].strip('`'))}</code></li>"
                                                for line in _next(doc, folder)) + "</ul>"]
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>mnd sweep on {html.escape(settings['target'])}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            + "\n".join(parts) + "\n</body>\n</html>\n")


def _figures(doc: dict) -> list:
    """(figure, caption) for every figure this sweep has data for."""
    from mnd.targets.registry import get_target

    settings = doc["settings"]
    rows = [row for row in doc["rows"] if row["status"] == "measured"]
    limits = target_limits(get_target(settings["target"]), settings["flash_kb"], settings["ram_kb"],
                           settings.get("part"))
    candidates = [
        (plots.cost_figure(rows, settings["target"]), "Cost vs mult-adds, one line per width multiplier alpha; "
         "points labelled with the input resolution; log axes where the values span more than 10x"),
        (plots.memory_figure(rows, settings["target"], limits), "Memory per variant; dashed lines: the target's "
         "memory (black) and the budgets given (red)"),
        *[(plots.accuracy_figure(rows, x, title), f"{title}: top-1 on the held-out images; o float, x int8; error "
           "bars: 95% Wilson intervals on each variant's evaluation samples (none where a row does not record n); "
           "points labelled with the input resolution; log x where the values span more than 10x")
          for x, title in ACCURACY_FIGURES],
    ]
    return [(figure, caption) for figure, caption in candidates if figure is not None]


def _figure_html(figure, caption: str) -> str:
    alt = html.escape(caption, quote=True)
    return (f"<figure><img src=\"{plots.png_data_uri(figure)}\" alt=\"{alt}\">"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _summary(doc: dict) -> list:
    settings, rows = doc["settings"], doc["rows"]
    if settings["mode"] == "cost-only":
        mode = ("- mode: cost-only, random weights: mult-adds, parameters, sizes and speed are real; accuracy was "
                "not measured (random weights say nothing about it); each variant is an int8 TFLite model only, "
                f"{settings['classes']} classes, {settings['channels']}-channel input")
    else:
        mode = (f"- mode: each variant trained on {code(settings['dataset'])} for {settings['epochs']} epochs (seed "
                f"{settings['seed']}), float and int8 accuracy on its held-out part, each with its 95% Wilson "
                "interval [low, high] in percent")
    counted = {row["status"]: 0 for row in rows}
    for row in rows:
        counted[row["status"]] += 1
    budgets = [f"{name} {settings[key]:g} KiB" for key, name in (("flash_kb", "flash"), ("ram_kb", "RAM"))
               if settings[key] is not None] + ([f"those of board preset {settings['part']}"]
                                                if settings.get("part") else [])
    emulated = any(row["emulated"] for row in rows)
    return [mode,
            f"- grid: alpha {', '.join(f'{a:g}' for a in doc['grid']['alpha'])} x resolution "
            f"{', '.join(map(str, doc['grid']['resolution']))}: "
            + ", ".join(f"{count} {status}" for status, count in counted.items()),
            "- measured: one emulated run per variant, instruction counts from QEMU (not cycles or time)" if emulated
            else f"- measured with {settings['warmup']} warm-up and {settings['runs']} timed runs per runtime",
            f"- memory budgets: {', '.join(budgets) if budgets else 'none given (--flash-kb, --ram-kb)'}"]


def _cells(rows: list) -> list:
    return [[row["name"], f"{row['alpha']:g}", str(row["resolution"]), f"{row['mult_adds']:,}", f"{row['params']:,}",
             _number(row["int8_bytes"]), _number(row["ram_bytes"]), _number(row["flash_bytes"]), _cost(row),
             *_accuracies(row), _fits(row["fits"]), row["status"]]
            for row in rows]


def _cost(row: dict) -> str:
    if row["instructions"] is not None:
        return f"{row['instructions']:,} instr." + (" (emulated)" if row["emulated"] else "")
    if row["latency_ms_p50"] is not None:
        return f"{row['latency_ms_p50']:.3f} ms p50" + (" (emulated)" if row["emulated"] else "")
    return "—"


def _notes(rows: list) -> list:
    notes = []
    for row in rows:
        if row["status"] == "does not fit":
            notes.append(f"{code(row['name'])} not run: {text(row['fit_detail'])}")
        elif row["status"] == "failed":
            notes.append(f"{code(row['name'])} failed: {text(row['error'])}")
        elif row["fits"] is False:
            notes.append(f"{code(row['name'])} does not fit: {text(row['fit_detail'])}")
        if row["failed_validations"]:
            notes.append(f"{code(row['name'])} failed validations (kept, see its report): "
                         + text(", ".join(row["failed_validations"])))
    return notes


def _next(doc: dict, folder: str) -> list:
    target = doc["settings"]["target"]
    measured = [row["run_dir"] for row in doc["rows"] if row["run_dir"]]
    lines = [f"- `xdg-open {folder}/{measured[0]}/report.html` (each variant's own export report)"] if measured else []
    if measured and doc["settings"]["mode"] != "cost-only":  # a cost-only run's random input cannot be reloaded
        lines.append(f"- `mnd measure {folder}/{measured[0]} --target {target}` (re-measure one variant)")
    return lines + ["- `mnd summary --grid` (the counts of the paper's 16 models)"]


def _number(value) -> str:
    return "—" if value is None else f"{value:,}"


def _accuracies(row: dict) -> list:
    """eval n, float and int8 accuracy each with its Wilson 95% interval ("n unknown" for a row without n)."""
    if row["float_acc"] is None and row["int8_acc"] is None:
        return ["—", "—", "—"]
    n = row.get("eval_samples")
    return ["n unknown" if n is None else f"{n:,}", accuracy_interval(row["float_acc"], n),
            accuracy_interval(row["int8_acc"], n)]


def _fits(value) -> str:
    return "—" if value is None else "yes" if value else "**no**"


STYLE = ("body{font-family:sans-serif;max-width:72rem;margin:1rem auto;padding:0 1rem}"
         "table{border-collapse:collapse;font-size:0.85rem}td,th{border:1px solid #ccc;padding:2px 6px;"
         "text-align:right}td:first-child,th:first-child{text-align:left}figure{margin:1rem 0}"
         "img{max-width:100%}figcaption{font-size:0.85rem;color:#555}")
