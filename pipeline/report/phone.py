"""Report section for an Android phone: its facts, mnd's C engine (accuracy and latency), and LiteRT's
benchmark_model per file, delegate and thread count with its slowest op types."""
from mnd.pipeline.report.board import share_line
from mnd.pipeline.report.escape import code, text
from mnd.pipeline.report.intervals import accuracy_interval
from mnd.pipeline.report.tables import measurement_table

TOP_OPS = 5


def phone_line(phone: dict) -> str:
    where = "an emulated phone (ro.kernel.qemu=1)" if phone.get("emulated") else "a phone"
    facts = {key: text(phone.get(key) or "—") for key in ("manufacturer", "model", "soc", "android", "sdk", "abi")}
    return (f"- {where}: {facts['manufacturer']} {facts['model']}, SoC {facts['soc']}, Android {facts['android']} "
            f"(SDK {facts['sdk']}), {facts['abi']}, serial {code(phone.get('serial'))}")


def _us(value) -> str:
    return "—" if value is None else f"{value / 1000:.3f}"


def benchmark_table(rows) -> list:
    lines = ["LiteRT's benchmark_model on the phone (its own timings; milliseconds):", "",
             "| artifact | delegate | threads | init | first | warm-up avg | avg | median | p95 | std | runs | "
             "slowest op types |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for m in rows:
        b = m.benchmark
        stats = b.get("inference") or {}
        ops = sorted(b.get("ops") or [], key=lambda op: -op["percent"])[:TOP_OPS]
        slowest = ", ".join(f"{text(op['node_type'])} {op['percent']:.1f}%" for op in ops) or "—"
        init = "—" if b.get("init_ms") is None else f"{b['init_ms']:.3f}"
        delegate = text(m.runtime.removeprefix("benchmark_model-"))
        lines.append(f"| {text(m.artifact)} | {delegate} | {m.threads} | {init} | "
                     f"{_us(b.get('first_inference_us'))} | {_us(b.get('warmup_avg_us'))} | "
                     f"{_us(stats.get('avg') or b.get('inference_avg_us'))} | {_us(stats.get('median'))} | "
                     f"{_us(stats.get('p95'))} | "
                     f"{_us(stats.get('std'))} | {text(stats.get('count'))} | {slowest} |")
    return lines + [""]


def render_phone(measurements, sizes: dict, phone: dict | None) -> list:
    phone = phone or {}
    emulated = any(m.emulated for m in measurements)
    lines = ["### `android`" + (" (emulated)" if emulated else ""), ""]
    if phone:
        lines += [phone_line(phone), *map(share_line, phone.get("boards") or ())]
    if emulated:
        lines.append("- warning: emulated phone: the outputs are the arm64 code's, but the latency says nothing "
                     "about a real phone")
    engine = [m for m in measurements if m.benchmark is None]
    where = "emulated phone" if emulated else "phone"
    lines += ["", "mnd's C engine (static arm64 executable, no interpreter), every output checked bit for bit against "
              "the host's LiteRT reference kernels (see Validation):", "", *measurement_table(engine, sizes, where), ""]
    for m in engine:
        if m.agreement:
            a = m.agreement
            lines += [f"Host LiteRT reference kernels on the same {a['n']} inputs: "
                      f"{accuracy_interval(a['reference_accuracy'], a['n'])} ({a['top1_differing']} top-1 "
                      "predictions differ).", ""]
    benchmarks = [m for m in measurements if m.benchmark is not None]
    if benchmarks:
        lines += benchmark_table(benchmarks)
    return lines
