"""Characters that break a line or control a terminal: any of them inside a name would split it in a
one-name-per-line file (labels.txt), in a report line or in an error line, or act on the terminal that shows it."""
import unicodedata

# Cc: C0 and C1 controls and DEL (\n, \r, \t, ESC, NEL ...); Zl, Zp: U+2028, U+2029. Together they are every
# character str.splitlines() breaks a line at.
CONTROL_CATEGORIES = ("Cc", "Zl", "Zp")
# Cs: the lone surrogates Python decodes a file name's non-UTF-8 bytes to; they cannot be written as UTF-8.
SHOWN_ESCAPED = (*CONTROL_CATEGORIES, "Cs")
# The bidirectional embeddings, overrides and isolates (LRE RLE PDF LRO RLO, LRI RLI FSI PDI): inside a name they
# reorder how it, and the text after it on the same line, is shown ("cat\u202egod" reads as "catdog").
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def is_control(char: str) -> bool:
    return unicodedata.category(char) in CONTROL_CATEGORIES


def has_control(text: str) -> bool:
    return any(is_control(char) for char in text)


def has_bidi_control(text: str) -> bool:
    return any(char in BIDI_CONTROLS for char in text)


def is_utf8(text: str) -> bool:
    """Whether `text` can be written as UTF-8: no lone surrogates (a file name's bytes that are not UTF-8)."""
    return not any(unicodedata.category(char) == "Cs" for char in text)


def visible(text: str) -> str:
    """`text` on one line, writable as UTF-8 and shown in its own order: each control character, lone surrogate and
    bidirectional control written as its escape (\\n, \\x1b, \\u2028, \\udcff, \\u202e), the rest as is."""
    return "".join(_escaped(char) if unicodedata.category(char) in SHOWN_ESCAPED or char in BIDI_CONTROLS else char
                   for char in text)


def _escaped(char: str) -> str:
    return repr(char)[1:-1] if repr(char)[1:-1] != char else f"\\u{ord(char):04x}"
