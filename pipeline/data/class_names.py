"""The one check on class names, wherever they are read (class folders, labels.txt, --labels files) or written
(labels.txt): labels.txt keeps one name a line, so a name with a line break or any other control character would
split in two there and shift every class after it; and labels.txt, the manifest and the C header are UTF-8."""
from mnd.pipeline.control_chars import has_control, is_utf8, visible
from mnd.pipeline.errors import DataError

CONTROL = ("holds a line break or control character, which would split it in two in labels.txt and shift every "
           "class after it")
NOT_UTF8 = "is not UTF-8 (a folder name in another encoding), which labels.txt and the C header cannot hold"


def check_class_names(names, where: str, fix: str, error=DataError) -> tuple:
    """`names` as a tuple, or `error` naming the first bad one: "{where}: class name '...' {why}; {fix}"."""
    names = tuple(names)
    bad = [(name, CONTROL if has_control(name) else NOT_UTF8) for name in names
           if has_control(name) or not is_utf8(name)]
    if bad:
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise error(f"{where}: class name '{visible(bad[0][0])}'{more} {bad[0][1]}; {fix}")
    return names


def labels_text(names) -> str:
    """labels.txt: the class names one a line, in output order."""
    return "".join(f"{name}\n" for name in check_class_names(names, "labels.txt", "rename the class"))
