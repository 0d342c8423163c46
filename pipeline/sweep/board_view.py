"""The sweep report's per-board view (--ssh or --serial given more than once): for each board or phone, the
variants whose cost it measured, the measurement rows it measured over all variants, and the variants it dropped
out of (with the first reason)."""
from mnd.pipeline.report.escape import code, text


def board_lines(doc: dict) -> list:
    """Markdown bullet lines, one per board; [] for a sweep on one board."""
    names = list(doc["settings"].get("boards") or ())
    rows = [row for row in doc["rows"] if row.get("boards")]
    for row in rows:
        names += [share["name"] for share in row["boards"] if share["name"] not in names]
    if len(names) < 2:
        return []
    lines = []
    for name in names:
        costs = [row["name"] for row in rows if row.get("board") == name]
        shares = [(row["name"], share) for row in rows for share in row["boards"] if share["name"] == name]
        measured = sum(share["rows"] for _, share in shares)
        dropped = [(variant, share["dropped"]) for variant, share in shares if share["dropped"]]
        line = (f"- {code(name)}: {measured} measurement row{'' if measured == 1 else 's'} over {len(shares)} "
                f"variant{'' if len(shares) == 1 else 's'}; the cost of {len(costs)}")
        if dropped:
            line += (f"; dropped out of {len(dropped)} (first: {code(dropped[0][0])}: {text(dropped[0][1])})")
        lines.append(line)
    return lines
