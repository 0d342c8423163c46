"""The one check on class names, wherever they are read (class folders, labels.txt, --labels files) or written
(labels.txt): labels.txt keeps one name a line, so a name with a line break or any other control character would
split in two there and shift every class after it; and labels.txt, the manifest and the C header are UTF-8."""
from mnd.base.control_chars import has_bidi_control, has_control, is_utf8, visible
from mnd.base.errors import DataError

CONTROL = ("holds a line break or control character, which would split it in two in labels.txt and shift every "
           "class after it")
BIDI = ("holds a bidirectional control character (U+202A-202E, U+2066-2069), which reorders how it and the text "
        "after it are shown in reports and terminals")
NOT_UTF8 = "is not UTF-8 (a folder name in another encoding), which labels.txt and the C header cannot hold"


def check_class_names(names, where: str, fix: str, error=DataError) -> tuple:
    """`names` as a tuple, or `error` naming the first bad one: "{where}: class name '...' {why}; {fix}"."""
    names = tuple(names)
    bad = [(name, _problem(name)) for name in names if _problem(name)]
    if bad:
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise error(f"{where}: class name '{visible(bad[0][0])}'{more} {bad[0][1]}; {fix}")
    return names


def _problem(name: str) -> str | None:
    if has_control(name):
        return CONTROL
    if has_bidi_control(name):
        return BIDI
    return None if is_utf8(name) else NOT_UTF8


def labels_text(names) -> str:
    """labels.txt: the class names one a line, in output order."""
    return "".join(f"{name}\n" for name in check_class_names(names, "labels.txt", "rename the class"))
