"""Characters that break a line or control a terminal: any of them inside a name would split it in a
one-name-per-line file (labels.txt), in a report line or in an error line, or act on the terminal that shows it."""
import unicodedata

# Cc: C0 and C1 controls and DEL (\n, \r, \t, ESC, NEL ...); Zl, Zp: U+2028, U+2029. Together they are every
# character str.splitlines() breaks a line at.
CONTROL_CATEGORIES = ("Cc", "Zl", "Zp")


def is_control(char: str) -> bool:
    return unicodedata.category(char) in CONTROL_CATEGORIES


def has_control(text: str) -> bool:
    return any(is_control(char) for char in text)


def visible(text: str) -> str:
    """`text` on one line: each control character written as its escape (\\n, \\x1b, \\u2028), the rest as is."""
    return "".join(repr(char)[1:-1] if is_control(char) else char for char in text)
