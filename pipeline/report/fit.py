"""One line saying whether a model fits a board preset (targets/cortex_m/board_fit.fit's verdict), with the margins."""


def fit_line(verdict: dict, basis: bool = True) -> str:
    """`basis`: end with where the byte counts come from (the summary leaves it to the detail section)."""
    def part(name: str, p: dict) -> str:
        left = f"{p['margin_bytes']:,} B left" if p["fits"] else f"over by {-p['margin_bytes']:,} B"
        return f"{name} {p['needed_bytes']:,} of {p['available_bytes']:,} B ({left})"

    head = "fits" if verdict["fits"] else "does NOT fit"
    line = (f"{head} {verdict['board']} ({verdict['part']}): {part('flash', verdict['flash'])}, "
            f"{part('RAM', verdict['ram'])}")
    return f"{line}; {verdict['basis']}" if basis else line
