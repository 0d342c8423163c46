"""One line saying whether a model fits a board preset (targets/cortex_m/board_fit.fit's verdict), with the margins."""


def fit_line(verdict: dict) -> str:
    def part(name: str, p: dict) -> str:
        left = f"{p['margin_bytes']:,} B left" if p["fits"] else f"over by {-p['margin_bytes']:,} B"
        return f"{name} {p['needed_bytes']:,} of {p['available_bytes']:,} B ({left})"

    head = "fits" if verdict["fits"] else "does NOT fit"
    return (f"{head} {verdict['board']} ({verdict['part']}): {part('flash', verdict['flash'])}, "
            f"{part('RAM', verdict['ram'])}; {verdict['basis']}")
