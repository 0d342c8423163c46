"""The one way a value (a model or file name, a class name, a data path, a layer name, a board's facts, a warning)
enters report.md: as Markdown that shows it as it is, on one line, with no heading, table cell, link, image, HTML or
emphasis of its own. report.html is converted from report.md (report/html.py reads the escapes back)."""
import re

from mnd.base.control_chars import visible

# Backslash-escaped (CommonMark lets any ASCII punctuation be): what opens markup anywhere in a line ('[' opens links
# and images, '<' HTML and autolinks, '&' entities, '|' table cells, '$' GitHub's math), '_' unless it sits inside a
# word (where it cannot emphasise), and what makes GFM link bare text ('scheme://', 'www.', '@').
MARKUP = re.compile(r"[\\`*\[<|&#~@$]|(?<![^\W_])_|_(?![^\W_])|:(?=//)|(?<=www)\.", re.IGNORECASE)


def text(value) -> str:
    """`value` as inert Markdown text (control characters written as escapes: \\n, \\x1b)."""
    return MARKUP.sub(lambda match: "\\" + match[0], visible(str(value)))


def code(value) -> str:
    """`value` as a Markdown code span ('|' escaped, as GFM wants it inside a table), or as inert text where it holds
    a backtick (which would end the span)."""
    shown = visible(str(value))
    return text(shown) if "`" in shown else "`" + shown.replace("|", "\\|") + "`"
