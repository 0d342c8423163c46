"""A value the user gave (an adb serial, an ssh destination) as one shell word on one line, for error messages and
the commands they suggest: shlex.quote where it prints as it is, else bash's $'...' with control characters escaped,
so that a newline or an escape sequence in the value can neither break the message's one line nor the command."""
import shlex

_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def shell_word(value) -> str:
    text = str(value)
    if text.isprintable():
        return shlex.quote(text)
    return "$'" + "".join(_ESCAPES.get(c) or (c if c.isprintable() else _code(c)) for c in text) + "'"


def _code(character: str) -> str:
    point = ord(character)
    return f"\\x{point:02x}" if point < 0x100 else f"\\u{point:04x}" if point < 0x10000 else f"\\U{point:08x}"
