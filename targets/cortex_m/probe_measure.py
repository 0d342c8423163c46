"""The row for a Cortex-M board through a GDB server (--probe): the probe build of the same generated model run on
the board, every output checked bit-exact with LiteRT's reference kernels as on the emulated core, with the DWT's
cycles per layer and per inference, and milliseconds at the --board preset's clock. Where the core has no working
cycle counter (QEMU's gdbstub, or a part without one) the row says so and carries no cycles: never zeros.

With --board the firmware is linked for the preset's memory map (boards.Board.memory); without it, for QEMU's map
of the core: the build for QEMU's own gdbstub, whose row names the emulated machine and has no clock."""
from pathlib import Path

import numpy as np

from mnd.base.errors import UsageError
from mnd.base.tempdirs import temporary_directory
from mnd.pipeline.manifest import Measurement
from mnd.pipeline.validate import accuracy
from mnd.targets.board_output import int8_rows
from mnd.targets.cortex_m.boards import get_board
from mnd.targets.cortex_m.cores import get_core
from mnd.targets.cortex_m.firmware import memory_fields
from mnd.targets.cortex_m.gdb_probe import parse_probe, run_on_probe

DWT = "DWT CYCCNT"


def measure_on_probe(core: str, firmware, generated, manifest, evaluation, inputs: np.ndarray, settings,
                     check_bit_exact) -> Measurement:
    """`check_bit_exact(outputs)` raises unless the board's outputs are LiteRT's reference kernels' own."""
    probe = parse_probe(settings.board.probe)
    if settings.board_preset is None:
        machine = get_core(core).machine
        board_name, part, clock_mhz = machine, f"QEMU's {core} memory map (no --board)", None
    else:
        board = get_board(settings.board_preset)
        if board.core != core:
            raise UsageError(f"--board {board.name} is counted on {board.core}, not {core}")
        board_name, part, clock_mhz = board.name, board.part, float(board.clock_mhz)
    expected = {"layers": len(generated.layers), "input_bytes": generated.input_bytes,
                "output_bytes": generated.output_bytes}
    with temporary_directory(f"mnd-{core}-probe-") as tmp:
        run = run_on_probe(core, board_name, firmware, probe, Path(tmp), inputs.tobytes(), expected,
                           timeout_s=120 + 5 * len(inputs), reset=settings.board.probe_reset)
    outputs = int8_rows(run.outputs, board_name, "the outputs read back", len(inputs), manifest.model["classes"])
    check_bit_exact(outputs)
    cycles, latency, layers = _cycles(run, generated, clock_mhz)
    return Measurement(
        target=core, runtime="mnd-c", artifact="tflite_int8", accuracy=accuracy(outputs, evaluation.labels),
        n=len(inputs), latency_ms=latency, runs=len(inputs), threads=None, warmup=None, emulated=False,
        arena_bytes=generated.arena_bytes, arena_floor_bytes=generated.arena_floor_bytes,
        tflm_arena_bytes=manifest.model.get("tflm_arena_bytes"), layers=layers,
        **memory_fields(firmware, run.stack_peak_bytes), clock_mhz=clock_mhz,
        probe={"url": probe.url, "board": board_name, "part": part,
               "cycle_counter": "absent" if run.counter_absent else DWT, "note": run.counter_absent},
        cycles=cycles)


def probe_memory(board_preset: str | None):
    """The map the probe build is linked for: the --board preset's, else None (QEMU's for the core)."""
    return get_board(board_preset).memory if board_preset else None


def _cycles(run, generated, clock_mhz: float | None) -> tuple:
    """(cycles per inference, latency_ms p50/p90, layers): no cycles and no latency without a counter, no latency
    without a clock."""
    described = [{"index": i, "op": op, "macs": macs} for i, (op, macs) in enumerate(zip(generated.layers,
                                                                                          generated.macs))]
    if run.layer_cycles is None:
        return None, None, described
    per_layer = np.asarray(run.layer_cycles, dtype=np.int64)
    per_sample = per_layer.sum(axis=1)
    latency = None
    if clock_mhz is not None:
        milliseconds = per_sample / (clock_mhz * 1e3)
        latency = {"p50": float(np.percentile(milliseconds, 50)), "p90": float(np.percentile(milliseconds, 90))}
    layers = [{**layer, "cycles": int(round(count))} for layer, count in zip(described, per_layer.mean(axis=0))]
    return int(round(float(per_sample.mean()))), latency, layers
