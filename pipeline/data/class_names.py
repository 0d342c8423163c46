"""The one check on class names, wherever they are read (class folders, labels.txt, --labels files) or written
(labels.txt): labels.txt keeps one name a line, so a name with a line break or any other control character would
split in two there and shift every class after it."""
from mnd.pipeline.control_chars import has_control, visible
from mnd.pipeline.errors import DataError


def check_class_names(names, where: str, fix: str, error=DataError) -> tuple:
    """`names` as a tuple, or `error` naming the first with a control character: "{where}: class name ... {fix}"."""
    names = tuple(names)
    bad = [name for name in names if has_control(name)]
    if bad:
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise error(f"{where}: class name '{visible(bad[0])}'{more} holds a line break or control character, which "
                    f"would split it in two in labels.txt and shift every class after it; {fix}")
    return names


def labels_text(names) -> str:
    """labels.txt: the class names one a line, in output order."""
    return "".join(f"{name}\n" for name in check_class_names(names, "labels.txt", "rename the class"))
