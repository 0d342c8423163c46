"""The sweep's record of finished variants: rows.jsonl in the sweep folder, one JSON line appended per variant (the
same small cost for the 1st and the 1000th, whatever runs the variants: any executor calls `append_row`), read back
on resume with every row checked by `row_problems`, the one check for rows read from rows.jsonl and sweep.json."""
import json
import logging
import os
import re
from pathlib import Path

from mnd.base.errors import OutputError
from mnd.base.json_shape import ListOf, Nullable, Obj, check

log = logging.getLogger("mnd")
ROWS_FILE = "rows.jsonl"
STATUSES = ("measured", "does not fit", "failed")
MAX_ROWS_BYTES = 256 << 20
VARIANT_NAME = re.compile(r"mobilenet_[a-z0-9_]{1,80}")
ROW = Obj({"name": str, "alpha": float, "resolution": int, "classes": int, "channels": int, "mult_adds": int,
           "params": int, "int8_bytes": int | None, "ram_bytes": int | None, "flash_bytes": int | None,
           "latency_ms_p50": float | None, "instructions": int | None, "runtime": str | None,
           "emulated": bool | None, "float_acc": float | None, "int8_acc": float | None,
           "failed_validations": ListOf(str), "fits": bool | None, "fit_detail": str | None, "status": str,
           "error": str | None, "run_dir": str | None, "seconds": float | None},
          # optional: rows written before they were recorded lack them (eval_samples: "n unknown"). With several
          # boards or phones: `board`, the one that measured the row's cost; `boards`, what each one did
          {"eval_samples": int | None, "board": str | None,
           "boards": Nullable(ListOf(Obj({"name": str, "rows": int, "dropped": str | None})))})


def row_problems(row) -> list:
    """Every way `row` differs from a row mnd writes, as short phrases (none for a good row)."""
    problems = check(row, ROW)
    if problems:
        return problems
    if not VARIANT_NAME.fullmatch(row["name"]):
        problems.append(f"name {row['name'][:60]!r} is no variant's name")
    if row["status"] not in STATUSES:
        problems.append(f"status {row['status'][:40]!r} is not one of {', '.join(STATUSES)}")
    if row["run_dir"] not in (None, f"variants/{row['name']}"):
        problems.append(f"run_dir {row['run_dir'][:80]!r} is not variants/{row['name']}")
    return problems


def refuse_row(path: Path, where: str, row, problems: list, fix: str) -> None:
    name = row.get("name") if isinstance(row, dict) else None
    variant = f" (variant {name[:60]!r})" if isinstance(name, str) else ""
    more = f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
    raise OutputError(f"'{path}' {where}{variant} is not a row mnd writes: {'; '.join(problems[:3])}{more}; {fix}")


def append_row(folder: Path, row: dict) -> None:
    """Adds one finished variant's row, on disk before this returns; a later row for the same variant wins."""
    problems = row_problems(row)
    if problems:
        raise ValueError(f"sweep row {row.get('name')!r}: {'; '.join(problems)}")  # a bug of mnd, not a user error
    with open(Path(folder) / ROWS_FILE, "a", encoding="utf-8") as file:
        file.write(json.dumps(row, separators=(",", ":")) + "\n")
        file.flush()
        os.fsync(file.fileno())


def start_record(folder: Path, rows: list) -> None:
    """rows.jsonl holding `rows` (those of a sweep.json written before rows.jsonl existed), unless it exists."""
    path = Path(folder) / ROWS_FILE
    if not path.exists():
        path.write_text("".join(json.dumps(row, separators=(",", ":")) + "\n" for row in rows), encoding="utf-8")


def read_rows(folder: Path) -> list:
    """The rows recorded in rows.jsonl, a later row for a variant replacing an earlier one. A last line without its
    newline (the run stopped while appending it) is dropped, so that variant runs again; any other bad line is
    refused with one line naming it."""
    path = Path(folder) / ROWS_FILE
    fix = "delete that line to run the variant again, or pass --force to start the sweep over"
    if path.is_symlink() or not path.is_file():
        raise OutputError(f"'{path}' is not a regular file; pass --force to start the sweep over")
    if path.stat().st_size > MAX_ROWS_BYTES:
        raise OutputError(f"'{path}' is larger than {MAX_ROWS_BYTES >> 20} MiB, no sweep mnd writes is; pass --force "
                          "to start the sweep over")
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        kept = data[:data.rfind(b"\n") + 1]
        log.warning("warning: %s: the last line was cut short (the sweep stopped while writing it); dropped, that "
                    "variant runs again", path)
        path.write_bytes(kept)
        data = kept
    rows = {}
    for number, line in enumerate(data.split(b"\n")[:-1], 1):
        try:
            row = json.loads(line.decode("utf-8"))
        except (ValueError, RecursionError) as reason:
            refuse_row(path, f"line {number}", None, [f"not JSON ({' '.join(str(reason).split())[:120]})"], fix)
        problems = row_problems(row)
        if problems:
            refuse_row(path, f"line {number}", row, problems, fix)
        rows[(row["alpha"], row["resolution"])] = row
    return list(rows.values())
