"""The runner's result.json and --probe line as they come back from a board: checked against the contract in
runner.py's docstring (targets/board_output.py does the reading), the items against the job that was sent."""
from mnd.base.json_shape import ListOf, MapOf, Obj
from mnd.targets.board_output import last_json_line, latencies, parse_json, refuse

PROBE_SHAPE = Obj({"runner": int, "python": str, "machine": str, "packages": MapOf(str | None),
                   "litert_module": str | None})
ITEM_SHAPE = Obj({"id": str, "ok": bool, "error": str | None, "outputs": str | None, "latencies_ms": ListOf(float),
                  "seconds": float})
RESULT_SHAPE = Obj({**PROBE_SHAPE.required, "fatal": str | None, "items": ListOf(ITEM_SHAPE)})


def read_probe(stdout: bytes, board: str) -> dict:
    return last_json_line(stdout, board, "the runner's --probe line", PROBE_SHAPE)


def read_result(data: bytes, board: str, runner_items: list, runs: int) -> dict:
    """result.json, whose items must be exactly the job's (`runner_items`), each once, each naming the outputs file
    the job asked for when it has one, with `runs` latencies when it ran."""
    what = "result.json"
    report = parse_json(data, board, what, RESULT_SHAPE)
    if report["fatal"] is not None:
        return report
    sent = {item["id"]: item for item in runner_items}
    ids = [item["id"] for item in report["items"]]
    if sorted(ids) != sorted(sent):
        unknown = sorted(set(ids) - set(sent)) or sorted(set(sent) - set(ids)) or ids
        raise refuse(board, what, f"lists items {repr(unknown)[:80]} where the job sent {len(sent)} other ones")
    for item in report["items"]:
        expected = sent[item["id"]]["outputs"] if item["ok"] and sent[item["id"]].get("accuracy_pass") else None
        if item["outputs"] != expected:
            raise refuse(board, what, f"names outputs {item['outputs']!r:.80} for item {item['id']!r}; expected "
                                      f"{expected!r}")
        latencies(item["latencies_ms"], board, f"{what} item {item['id']!r}")
        if item["ok"] and len(item["latencies_ms"]) != runs:
            raise refuse(board, what, f"has {len(item['latencies_ms'])} latencies for item {item['id']!r}; "
                                      f"{runs} timed runs were asked for")
    return report
