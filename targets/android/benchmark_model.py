"""Parses what LiteRT's (TensorFlow Lite's) `benchmark_model` prints into numbers; unknown numbers are errors.

The formats come from the tool's sources (tensorflow/lite/tools/benchmark/benchmark_model.cc, the Stat and
StatWithPercentiles classes of stats_calculator.h, StatsCalculator::GetStatsByNodeType in stats_calculator.cc,
profiling_listener.cc) and from outputs users pasted; tests/unit/benchmark_model_samples/README.md lists them.

What is read, and from which lines (an optional "INFO: " or Android logcat prefix is ignored on every line):
  * run statistics: the line after each "Running benchmark for at least N iterations ..." line, first the warm-up,
    then the timed runs: "count=50 first=.. curr=.. min=.. max=.. avg=.. std=.." (newer builds add
    " p5=.. median=.. p95=.."; older ones start with "curr="), "count=1 curr=X" when all runs took the same time
    ("count=5 curr=X(all same)"), "count=0" when none ran;
  * the summary, "Inference timings in us: Init: .., First inference: .., Warmup (avg): .., Inference (avg): .."
    or, before 2019-2020, "Average inference timings in us: Warmup: .., Init: .., Inference: .." ("no stats:"
    instead of "Inference:");
  * memory: "Memory footprint delta from the start of the tool (MB): init=.. overall=.." (called
    "Peak memory footprint (MB): init=.. overall=.." in 2020-2021 builds) and
    "Overall peak memory footprint (MB) via periodic monitoring: ..";
  * with --enable_op_profiling=true: the "Summary by node type" table of the regular runs (primary graph)
    and the "Timings (microseconds): .." line of the benchmark initialization's profile;
  * logged flags: "Min num runs: [100]", "Num threads: [4]", "Min warmup runs: [10]", "Use xnnpack: [1]", ...
"""
import math
import re

from mnd.base.errors import MndError

QUOTE_LIMIT = 200
TAIL_LINES = 8
STAT_KEYS = ("count", "first", "curr", "min", "max", "avg", "std", "p5", "median", "p95")
ALL_SAME = "(all same)"
STATS_START = re.compile(r"^(?:count|first|curr|min|max|avg|std)=")
RUNNING = "Running benchmark for at least "
SUMMARY_MARKERS = ("Inference timings in us:", "Average inference timings in us:")
SUMMARY_KEYS = {"Init": "init_us", "First inference": "first_inference_us", "Warmup (avg)": "warmup_avg_us",
                "Warmup": "warmup_avg_us", "Inference (avg)": "inference_avg_us", "Inference": "inference_avg_us",
                "no stats": "inference_avg_us"}
MEMORY_DELTA = re.compile(r"^(?:Memory footprint delta from the start of the tool|Peak memory footprint) \(MB\):")
PEAK_MEMORY = "Overall peak memory footprint (MB) via periodic monitoring:"
INIT_PROFILE = "Profiling Info for Benchmark Initialization:"
RUN_PROFILE = "Operator-wise Profiling Info for Regular Benchmark Runs:"
NODE_TYPE_TITLE = re.compile(r"^=+ Summary by node type =+$")
PROFILE_TIMINGS = "Timings (microseconds):"
LOG_PREFIX = re.compile(r"^(?:\d\d-\d\d \d\d:\d\d:\d\d\.\d+\s+\d+\s+\d+\s+[VDIWEF]\s+\S+\s*:\s?)?(?:INFO: )?")
LOGGED_PARAM = re.compile(r"^(?P<label>[^:\[\]]+?)\s*:\s*\[(?P<value>[^\]]*)\]$")
INT_PARAMS = {"min num runs": "num_runs", "num threads": "num_threads", "min warmup runs": "warmup_runs"}
DELEGATE_PARAMS = {"use xnnpack": "xnnpack", "use gpu": "gpu", "use nnapi": "nnapi", "use hexagon": "hexagon",
                   "use coreml": "coreml"}
TABLE_COLUMNS = {"node type": "node_type", "count": "count", "avg ms": "avg_ms", "avg %": "percent",
                 "cdf %": "cdf_percent", "mem kb": "mem_kb", "times called": "times_called"}
REQUIRED_COLUMNS = ("node_type", "avg_ms", "percent")


class BenchmarkOutputError(MndError):
    """benchmark_model printed something this parser cannot read as the numbers it promises."""


def quote(line: str) -> str:
    """The line as an error message shows it: stripped, at most QUOTE_LIMIT characters, in quotes."""
    line = line.strip()
    return repr(line if len(line) <= QUOTE_LIMIT else line[:QUOTE_LIMIT] + "...")


def strip_log_prefix(line: str) -> str:
    """`line` without a logcat "MM-DD hh:mm:ss.ms pid tid I tag : " prefix or an "INFO: " prefix, stripped."""
    return LOG_PREFIX.sub("", line.rstrip("\r\n"), count=1).strip()


def parse_number(text: str, line: str, what: str) -> float:
    """`text` as a finite float; BenchmarkOutputError quoting `line` when it is not one."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise BenchmarkOutputError(f"benchmark_model printed {what}={quote(text)}, not a number, in the line "
                                   f"{quote(line)}")
    return value


def parse_count(text: str, line: str, what: str) -> int:
    """`text` as a non-negative integer; BenchmarkOutputError quoting `line` when it is not one."""
    if not text.isdigit():
        raise BenchmarkOutputError(f"benchmark_model printed {what}={quote(text)}, not a count, in the line "
                                   f"{quote(line)}")
    return int(text)


def is_stats_line(line: str) -> bool:
    """Whether `line` (prefix stripped) looks like a Stat::OutputToStream line: it starts with a statistic's key=."""
    return STATS_START.match(line) is not None


def parse_stats_line(line: str) -> dict:
    """A Stat/StatWithPercentiles line as {count, first, curr, min, max, avg, std, p5, median, p95}.

    Keys the line does not print are None, except when it is the all-same form ("count=1 curr=X",
    "count=5 curr=X(all same)"): every run then took X, so first, min, max and avg are X and std is 0.
    Unknown keys, repeated keys, words without '=' and values that are not numbers raise BenchmarkOutputError.
    """
    all_same = ALL_SAME in line
    stats = dict.fromkeys(STAT_KEYS)
    for token in line.replace(ALL_SAME, " ").split():
        key, sep, value = token.partition("=")
        if not sep or key not in STAT_KEYS or stats[key] is not None:
            raise BenchmarkOutputError(f"benchmark_model printed {quote(token)} in its statistics line {quote(line)}; "
                                       f"expected each of {', '.join(STAT_KEYS)} at most once as key=number")
        stats[key] = parse_count(value, line, key) if key == "count" else parse_number(value, line, key)
    if stats["count"] is None:
        raise BenchmarkOutputError(f"benchmark_model's statistics line {quote(line)} has no count=")
    if stats["count"] > 0 and stats["curr"] is None:
        raise BenchmarkOutputError(f"benchmark_model's statistics line {quote(line)} has no curr=")
    if all_same or (stats["count"] == 1 and stats["avg"] is None):
        for key in ("first", "min", "max", "avg"):
            stats[key] = stats[key] if stats[key] is not None else stats["curr"]
        stats["std"] = stats["std"] if stats["std"] is not None else 0.0
    elif stats["count"] > 1 and stats["avg"] is None:
        raise BenchmarkOutputError(f"benchmark_model's statistics line {quote(line)} has no avg=")
    return stats


def parse_summary_line(line: str) -> dict:
    """The "Inference timings in us: ..." or older "Average inference timings in us: ..." line.

    Returns {"init_us", "first_inference_us", "warmup_avg_us", "inference_avg_us"}, None for those not printed;
    an unknown "Key: value" part or a value that is not a number raises BenchmarkOutputError.
    """
    marker = next(m for m in SUMMARY_MARKERS if m in line)
    values = dict.fromkeys(("init_us", "first_inference_us", "warmup_avg_us", "inference_avg_us"))
    for part in line.split(marker, 1)[1].split(","):
        key, sep, value = part.strip().rpartition(": ")
        if not sep or key not in SUMMARY_KEYS:
            raise BenchmarkOutputError(f"benchmark_model printed {quote(part)} in its timing summary {quote(line)}; "
                                       f"expected parts such as 'Init: 1234' or 'Inference (avg): 5678.9'")
        values[SUMMARY_KEYS[key]] = parse_number(value.strip(), line, key)
    return values


def parse_memory_delta_line(line: str) -> dict:
    """"Memory footprint delta from the start of the tool (MB): init=X overall=Y" as {"init_mb", "overall_mb"}."""
    match = re.fullmatch(r"[^:]+\(MB\):\s*init=(\S+)\s+overall=(\S+)", line)
    if not match:
        raise BenchmarkOutputError(f"benchmark_model printed the memory line {quote(line)}; "
                                   f"expected 'init=<MB> overall=<MB>' after '(MB):'")
    return {"init_mb": parse_number(match[1], line, "init"), "overall_mb": parse_number(match[2], line, "overall")}


def parse_peak_memory_line(line: str) -> float:
    """"Overall peak memory footprint (MB) via periodic monitoring: X" as X."""
    return parse_number(line[len(PEAK_MEMORY):].strip(), line, "peak memory")


def parse_logged_param(line: str) -> tuple | None:
    """A logged flag such as "Num threads: [4]" as (key, value) for the flags kept, else None.

    Kept: num_runs, num_threads, warmup_runs (ints) and ("delegate", (name, bool)) for "Use xnnpack/gpu/nnapi/...";
    a kept flag whose value is not an integer or a 0/1/true/false raises BenchmarkOutputError.
    """
    match = LOGGED_PARAM.match(line)
    if not match:
        return None
    label, value = " ".join(match["label"].lower().split()), match["value"].strip()
    if label in INT_PARAMS:
        if not re.fullmatch(r"-?\d+", value):
            raise BenchmarkOutputError(f"benchmark_model logged {quote(line)}; expected an integer in the brackets")
        return INT_PARAMS[label], int(value)
    if label in DELEGATE_PARAMS:
        if value.lower() not in ("0", "1", "true", "false"):
            raise BenchmarkOutputError(f"benchmark_model logged {quote(line)}; expected 0, 1, true or false")
        return "delegate", (DELEGATE_PARAMS[label], value.lower() in ("1", "true"))
    return None


def parse_table_header(line: str) -> tuple:
    """The header of a "Summary by node type" table as (column keys, separator).

    Whitespace-aligned tables name columns in brackets ("[Node type]  [count]  [avg ms] ..."); CSV ones
    (profiling to a CSV file) separate plain names with commas. Unknown or missing required columns raise.
    """
    bracketed = re.findall(r"\[([^\]]+)\]", line)
    names, separator = (bracketed, None) if bracketed else (line.split(","), ",")
    keys = []
    for name in names:
        normal = " ".join(name.lower().replace("_", " ").split())
        if normal not in TABLE_COLUMNS or TABLE_COLUMNS[normal] in keys:
            raise BenchmarkOutputError(f"benchmark_model printed the node-type table header {quote(line)}; "
                                       f"column {quote(name)} is unknown or repeated")
        keys.append(TABLE_COLUMNS[normal])
    missing = [key for key in REQUIRED_COLUMNS if key not in keys]
    if missing:
        raise BenchmarkOutputError(f"benchmark_model's node-type table header {quote(line)} lacks {missing}")
    return tuple(keys), separator


def split_table_row(line: str, columns: tuple, separator: str | None) -> list:
    """`line` cut into len(columns) cells; the node-type cell takes the surplus (XNNPACK names hold spaces)."""
    cells = [cell.strip() for cell in line.split(separator)]
    surplus = len(cells) - len(columns)
    if surplus < 0:
        raise BenchmarkOutputError(f"benchmark_model printed the node-type table row {quote(line)} with "
                                   f"{len(cells)} cells; its header has {len(columns)}: {', '.join(columns)}")
    name_at = columns.index("node_type")
    joiner = ", " if separator else " "
    name = joiner.join(cells[name_at:name_at + surplus + 1])
    return cells[:name_at] + [name] + cells[name_at + surplus + 1:]


def parse_percent(text: str, line: str, what: str) -> float:
    """"89.270%" as 89.27; text without the trailing % raises, quoting `line`."""
    if not text.endswith("%"):
        raise BenchmarkOutputError(f"benchmark_model printed {what}={quote(text)}, not a percentage, in {quote(line)}")
    return parse_number(text[:-1], line, what)


def parse_table_row(line: str, columns: tuple, separator: str | None) -> dict:
    """One node-type row as {"node_type", "avg_ms", "percent", "times_called", "count"} (None when no column)."""
    cells = dict(zip(columns, split_table_row(line, columns, separator)))
    if not cells["node_type"]:
        raise BenchmarkOutputError(f"benchmark_model printed a node-type table row without a type: {quote(line)}")
    row = {"node_type": cells["node_type"], "avg_ms": parse_number(cells["avg_ms"], line, "avg ms"),
           "percent": parse_percent(cells["percent"], line, "avg %"), "times_called": None, "count": None}
    for key in ("times_called", "count"):
        if key in cells:
            row[key] = parse_count(cells[key], line, key.replace("_", " "))
    if "cdf_percent" in cells:
        parse_percent(cells["cdf_percent"], line, "cdf %")
    if "mem_kb" in cells:
        parse_number(cells["mem_kb"], line, "mem KB")
    return row


def parse_node_type_table(lines: list, start: int) -> tuple:
    """The table whose title is lines[start]: (rows, index after its closing blank line)."""
    if start + 1 >= len(lines):
        raise BenchmarkOutputError(f"benchmark_model's output ends after {quote(lines[start])}, before the header")
    columns, separator = parse_table_header(lines[start + 1])
    rows, at = [], start + 2
    while at < len(lines) and lines[at]:
        rows.append(parse_table_row(lines[at], columns, separator))
        at += 1
    if not rows:
        raise BenchmarkOutputError(f"benchmark_model printed the table {quote(lines[start])} with no rows")
    return rows, at


def stats_after_running_line(lines: list, start: int) -> dict:
    """The statistics line that follows the "Running benchmark ..." line lines[start]; other lines between are logs."""
    for line in lines[start + 1:]:
        if is_stats_line(line):
            return parse_stats_line(line)
        if line.startswith(RUNNING) or any(marker in line for marker in SUMMARY_MARKERS):
            break
    raise BenchmarkOutputError(f"benchmark_model printed {quote(lines[start])} but no statistics line "
                               f"(count=...) after it")


def tail(lines: list) -> str:
    """The last TAIL_LINES non-empty lines, joined with ' | ', for errors about missing output."""
    kept = [line for line in lines if line][-TAIL_LINES:]
    return " | ".join(quote(line)[1:-1] for line in kept) or "(nothing)"


def scan(lines: list) -> dict:
    """One pass over the prefix-stripped lines, collecting every section it recognizes."""
    found = {"runs": [], "summary": None, "memory": None, "peak_mb": None, "ops": None, "init": None,
             "profile_timings": None, "params": {}, "delegates": {}}
    section, at = None, 0
    while at < len(lines):
        line = lines[at]
        if line.startswith(RUNNING):
            found["runs"].append(stats_after_running_line(lines, at))
        elif any(marker in line for marker in SUMMARY_MARKERS):
            found["summary"] = parse_summary_line(line)
        elif MEMORY_DELTA.match(line):
            found["memory"] = parse_memory_delta_line(line)
        elif line.startswith(PEAK_MEMORY):
            found["peak_mb"] = parse_peak_memory_line(line)
        elif line == INIT_PROFILE or line == RUN_PROFILE:
            section = line
        elif NODE_TYPE_TITLE.match(line):
            rows, at = parse_node_type_table(lines, at)
            if section != INIT_PROFILE and found["ops"] is None:
                found["ops"] = rows
            continue
        elif line.startswith(PROFILE_TIMINGS):
            stats = parse_stats_line(line[len(PROFILE_TIMINGS):].strip())
            key = "init" if section == INIT_PROFILE else "profile_timings"
            found[key] = found[key] or stats
        else:
            param = parse_logged_param(line)
            if param and param[0] == "delegate":
                found["delegates"][param[1][0]] = param[1][1]
            elif param:
                found["params"][param[0]] = param[1]
        at += 1
    return found


def parse_benchmark_output(text: str) -> dict:
    """What benchmark_model printed, as numbers.

    Returns {"init_ms", "first_inference_us", "warmup_avg_us", "inference_avg_us": float or None,
    "inference", "warmup", "init": statistics dicts (see parse_stats_line) or None, "memory": {"init_mb",
    "overall_mb", "peak_mb"} or None, "ops": [{"node_type", "avg_ms", "percent", "times_called", "count"}] or None,
    "num_runs", "num_threads", "warmup_runs": int or None, "delegates": {"xnnpack": bool, ...} as logged}.

    "inference" is the statistics line of the timed runs (the second "Running benchmark ..." block) or, in
    outputs without those blocks, the regular-run profile's "Timings (microseconds):" line; "warmup" is the first
    block's; "init" is the initialization profile's Timings line (--enable_op_profiling). The averages come from
    the summary line when printed, else from those statistics. Raises BenchmarkOutputError for a malformed line in
    any of these sections, for output with no inference timing at all, and for timed runs that did not run.
    """
    raw_lines = text.splitlines()
    found = scan([strip_log_prefix(line) for line in raw_lines])
    if len(found["runs"]) > 2:
        raise BenchmarkOutputError(f"benchmark_model printed {len(found['runs'])} 'Running benchmark' blocks; "
                                   f"expected a warm-up and a timed one from a single benchmark")
    warmup = found["runs"][0] if found["runs"] else None
    inference = found["runs"][1] if len(found["runs"]) == 2 else found["profile_timings"]
    summary = found["summary"] or {}
    if inference is None and summary.get("inference_avg_us") is None:
        raise BenchmarkOutputError(f"benchmark_model printed no inference timings; its last lines: {tail(raw_lines)}")
    if inference is not None and inference["count"] == 0:
        raise BenchmarkOutputError("benchmark_model ran no timed inference (count=0); check --num_runs, "
                                   f"--min_secs and --max_secs; its last lines: {tail(raw_lines)}")
    memory = dict(found["memory"], peak_mb=found["peak_mb"]) if found["memory"] else None
    if memory is None and found["peak_mb"] is not None:
        memory = {"init_mb": None, "overall_mb": None, "peak_mb": found["peak_mb"]}
    init_us = summary.get("init_us")
    return {
        "init_ms": init_us / 1000.0 if init_us is not None else None,
        "first_inference_us": first_not_none(summary.get("first_inference_us"), warmup and warmup["first"]),
        "warmup_avg_us": first_not_none(summary.get("warmup_avg_us"), warmup and warmup["avg"]),
        "inference_avg_us": first_not_none(summary.get("inference_avg_us"), inference and inference["avg"]),
        "inference": inference, "warmup": warmup, "init": found["init"], "memory": memory, "ops": found["ops"],
        "num_runs": found["params"].get("num_runs"), "num_threads": found["params"].get("num_threads"),
        "warmup_runs": found["params"].get("warmup_runs"), "delegates": found["delegates"],
    }


def first_not_none(*values):
    """The first value that is not None (0.0 counts), else None."""
    return next((value for value in values if value is not None), None)
