"""report.html: report.md's content as HTML tables, with the figures embedded as PNG data URIs — one file, readable
offline and printable, no JavaScript, nothing loaded from anywhere (its Content-Security-Policy forbids it too).

The HTML is converted from the Markdown report (headings, lists, tables, `code`, **bold**), so both say the same,
with the figures right after the summary;
every character of it is escaped first: a run directory, and so every string in the report, can come from anyone."""
import html
import re

from mnd.base.control_chars import visible
from mnd.pipeline.report.markdown import render_parts

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; color: #1a1a1a; max-width: 76rem; margin: 1.5rem auto; padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.3rem; border-bottom: 1px solid #ccc; margin-top: 2rem; }
h3 { font-size: 1.1rem; }
table { border-collapse: collapse; margin: 0.6rem 0; font-size: 0.85rem; }
th, td { border: 1px solid #bbb; padding: 0.2rem 0.45rem; text-align: left; vertical-align: top; }
th { background: #eef1f5; } tr:nth-child(even) td { background: #fafafa; }
code { font: 0.85em ui-monospace, monospace; background: #f2f2f2; padding: 0 0.2em; overflow-wrap: anywhere; }
strong { color: #b00020; }
figure { margin: 1rem 0; } figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: 0.85rem; color: #444; }
@media print {
  body { max-width: none; margin: 0; font-size: 11px; }
  table, figure, tr { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
  tr:nth-child(even) td, th { background: none; }
}
"""
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html.escape(visible(title))}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n")


# Read left to right as CommonMark does: a backslash-escaped ASCII punctuation character (report/escape.py writes
# them) is that character, never markup; a `code` span shows its content as it is.
INLINE_TOKEN = re.compile(r"\\([!-/:-@\[-`{-~])|`([^`]*)`")


def inline(text: str) -> str:
    """One line of Markdown text as HTML: escaped, with `code`, **bold** and backslash escapes read."""
    held = []

    def hold(match) -> str:
        held.append(html.escape(match[1]) if match[1] is not None else f"<code>{html.escape(match[2])}</code>")
        return "\0"

    marked = html.escape(INLINE_TOKEN.sub(hold, text.replace("\0", "\ufffd")))
    marked = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", marked)
    pieces = iter(held)
    return re.sub("\0", lambda _: next(pieces), marked)


def table_cells(line: str, columns: int | None = None) -> list:
    """The cells of a '|' table row ('\\|' is a '|' inside a cell); with `columns`, an unescaped '|' inside the
    last cell (such as "max |diff|") stays in it."""
    cells = re.split(r"(?<!\\)\|", line.strip().removeprefix("|").removesuffix("|"))
    if columns and len(cells) > columns:
        cells = cells[:columns - 1] + ["|".join(cells[columns - 1:])]
    return [cell.strip().replace("\\|", "|") for cell in cells]


def markdown_to_html(markdown: str) -> str:
    """The report's Markdown subset: '#' headings, '- ' lists, '|' tables (header, '|---|' rule, rows), paragraphs."""
    blocks, lines = [], markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        kind = _block_kind(line)
        run = [line]
        while kind in ("list", "table", "paragraph") and i + 1 < len(lines) and _block_kind(lines[i + 1]) == kind:
            i += 1
            run.append(lines[i])
        i += 1
        if kind == "heading":
            level = min(len(line) - len(line.lstrip("#")), 6)
            blocks.append(f"<h{level}>{inline(line.lstrip('#').strip())}</h{level}>")
        elif kind == "list":
            blocks.append("<ul>\n" + "\n".join(f"<li>{inline(item[2:])}</li>" for item in run) + "\n</ul>")
        elif kind == "table":
            blocks.append(_table(run))
        elif kind == "paragraph":
            blocks.append(f"<p>{inline(' '.join(run))}</p>")
    return "\n".join(blocks) + "\n"


def _block_kind(line: str) -> str:
    if not line.strip():
        return "blank"
    if re.match(r"#{1,6} ", line):
        return "heading"
    if line.startswith("- "):
        return "list"
    return "table" if line.startswith("|") else "paragraph"


def _table(rows: list) -> str:
    header, body = rows[0], [row for row in rows[1:] if not re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", row.strip())]
    names = table_cells(header)
    head = "".join(f"<th>{inline(cell)}</th>" for cell in names)
    cells = ["<tr>" + "".join(f"<td>{inline(cell)}</td>" for cell in table_cells(row, len(names))) + "</tr>"
             for row in body]
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(cells) + "\n</tbody>\n</table>"


def figure_html(figure, caption: str) -> str:
    from mnd.pipeline.report import plots  # matplotlib: only when there is a figure

    alt = html.escape(caption, quote=True)
    return (f'<figure>\n<img src="{plots.png_data_uri(figure)}" alt="{alt}">\n'
            f"<figcaption>{html.escape(caption)}</figcaption>\n</figure>")


def run_figures(manifest) -> list:
    """(Figure, caption) for a run: accuracy and speed, per-layer cost, op profiles, memory, SQNR by depth,
    confusion matrix."""
    from mnd.pipeline.report import plots  # matplotlib: only when a report is drawn
    from mnd.pipeline.report.quantization_plots import sqnr_by_depth_figure

    target = (manifest.target or {}).get("name", "—")
    measured = list(manifest.measurements)
    figures = []
    if measured:
        figures.append((plots.accuracy_speed_figure([plots.bar_of(m) for m in measured],
                                                    f"{manifest.model['name']} on {target}"),
                        "Accuracy per runtime and artifact with its Wilson 95% interval, int8 − float with Newcombe's interval, and "
                        "speed per runtime, artifact and thread count."))
    for m in measured:
        if m.layers and ("instructions" in m.layers[0] or "cycles" in m.layers[0]):
            counted = "executed instructions" if "instructions" in m.layers[0] else "DWT cycles on the board"
            figures.append((plots.layer_cost_figure(m.layers, f"{m.target}: {m.runtime} on {m.artifact}, per layer",
                                                    m.emulated),
                            f"Mult-adds and {counted} per layer ({m.target}, {m.runtime})."))
    for m in measured:
        if m.benchmark and m.benchmark.get("ops"):
            title = f"{m.target}: {m.runtime} on {m.artifact}, {m.threads} thread(s): op profile"
            figures.append((plots.op_profile_figure(m.benchmark["ops"], title, m.emulated),
                            f"Time per op type as {m.runtime} profiles it (its own timings)."))
    memory = [m for m in measured if m.ram_parts or m.flash_parts]
    if memory:
        rows = [(f"{m.target}: {m.runtime} · {m.artifact}", m.ram_parts, m.flash_parts) for m in memory]
        figures.append((plots.memory_figure(rows, f"{manifest.model['name']}: RAM and flash on {target}",
                                            any(m.emulated for m in memory)),
                        "RAM and flash by part (model, harness, runtime, stack)."))
    layers = (manifest.quantization or {}).get("layers")
    if layers:
        scheme = manifest.quantization.get("weights_scheme", "int8")
        figures.append((sqnr_by_depth_figure(layers, f"{manifest.model['name']}: int8 ({scheme}) SQNR by depth"),
                        "Quantization error by layer: SQNR of each layer's int8 output against float (accumulated, "
                        "and the error the layer adds itself); marked: the layers where the accumulated SQNR drops most, and the "
                        "layers whose own SQNR is lowest."))
    if manifest.evaluation:
        figures.append((plots.confusion_figure(manifest.evaluation),
                        "Confusion matrix on the evaluation set (rows: true class; columns: predicted)."))
    return figures


def figures_section(figures: list) -> str:
    if not figures:
        return ""
    return "<h2>Figures</h2>\n" + "\n".join(figure_html(figure, caption) for figure, caption in figures) + "\n"


def with_figures(body: str, figures: list) -> str:
    """`body` with a Figures section before its 'Next' heading (or at the end)."""
    section, marker = figures_section(figures), "<h2>Next</h2>"
    return body.replace(marker, section + marker, 1) if marker in body else body + section


def render_html(manifest, run_path: str = "out/RUN") -> str:
    """report.md's title, its summary (in <section id="summary">), the figures, then report.md's details."""
    title, summary, details = (markdown_to_html("\n".join(part)) for part in render_parts(manifest, run_path))
    body = (title + '<section id="summary">\n' + summary + "</section>\n" + figures_section(run_figures(manifest))
            + details)
    return page(f"mnd export: {manifest.model['name']}", body)
