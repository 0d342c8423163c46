"""What a board behind a debug probe leaves in RAM (harness/probe.c), read back after each sample: the state words,
the outputs and CYCCNT at each layer marker. Untrusted like any board's output: one BoardOutputError line, naming
what was wrong, unless every sample finished cleanly with the model the harness was built for."""
import struct
from dataclasses import dataclass

import numpy as np

from mnd.targets.board_output import refuse

MAGIC = 0x50444E4D  # "MNDP"
FIELDS = ("magic", "layers", "input_bytes", "output_bytes", "counter", "samples", "marks", "stack_size",
          "stack_peak", "stack_at_invoke", "fault", "fault_pc", "fault_lr", "cfsr", "hfsr", "bfar")
STATE_BYTES = 4 * len(FIELDS)
COUNTING, NO_CYCCNT, NOT_ADVANCING = 0, 1, 2  # harness/dwt.h
COUNTER_ABSENT = {NO_CYCCNT: "the part has no cycle counter (DWT_CTRL.NOCYCCNT)",
                  NOT_ADVANCING: "the DWT cycle counter did not advance once enabled (no DWT there: QEMU, for "
                                 "one, does not emulate it)"}
_EXCEPTIONS = {2: "NMI", 3: "HardFault", 4: "MemManage fault", 5: "BusFault", 6: "UsageFault", 7: "SecureFault"}


@dataclass(frozen=True)
class ProbeRun:
    outputs: bytes                 # every sample's output, concatenated
    layer_cycles: list | None      # [[cycles per layer] per sample]; None when the counter is absent
    counter_absent: str | None     # why there are no cycles, else None
    stack_peak_bytes: int
    stack_at_invoke_bytes: int


def states(data: bytes, board: str, samples: int) -> list:
    """The state after each sample, as {field: value}."""
    if len(data) != samples * STATE_BYTES:
        raise refuse(board, "the harness's state", f"read back {len(data)} bytes; expected {samples} x {STATE_BYTES}")
    words = struct.unpack(f"<{samples * len(FIELDS)}I", data)
    return [dict(zip(FIELDS, words[i * len(FIELDS):(i + 1) * len(FIELDS)])) for i in range(samples)]


def fault_line(state: dict) -> str:
    name = _EXCEPTIONS.get(state["fault"], f"exception {state['fault']}")
    return (f"{name} pc={state['fault_pc']:#x} lr={state['fault_lr']:#x} cfsr={state['cfsr']:#x} "
            f"hfsr={state['hfsr']:#x} bfar={state['bfar']:#x}")


def check_state(state: dict, index: int, board: str, expected: dict) -> None:
    """One sample's state: the harness's, for this model, finished and fault-free. `expected`: layers, input_bytes,
    output_bytes as the firmware was built."""
    what = f"the harness's state after sample {index}"
    if state["magic"] != MAGIC:
        raise refuse(board, what, f"has no mnd marker ({state['magic']:#x}): the ELF did not start, or this is "
                                  "not mnd's probe firmware")
    if state["fault"]:
        raise refuse(board, what, f"reports a fault: {fault_line(state)}")
    for key, value in expected.items():
        if state[key] != value:
            raise refuse(board, what, f"says {key}={state[key]}; the firmware was built with {value}")
    if state["samples"] != index + 1:
        raise refuse(board, what, f"counts {state['samples']} samples finished; expected {index + 1}")
    if state["marks"] != expected["layers"] + 1:
        raise refuse(board, what, f"has {state['marks']} layer markers; expected {expected['layers'] + 1}")
    if state["counter"] not in (COUNTING, *COUNTER_ABSENT):
        raise refuse(board, what, f"has cycle counter status {state['counter']}, not one the harness writes")
    if state["stack_peak"] >= state["stack_size"]:
        raise refuse(board, what, f"used all {state['stack_size']} bytes of its stack (stack overflow)")


def layer_cycles(data: bytes, board: str, samples: int, layers: int) -> list:
    """CYCCNT at each of the layers + 1 markers, sample by sample, as cycles per layer (modulo 2**32: the
    counter wraps)."""
    if len(data) != samples * (layers + 1) * 4:
        raise refuse(board, "the layer cycle counts", f"read back {len(data)} bytes; expected {samples} x "
                                                      f"{layers + 1} x 4")
    marks = np.frombuffer(data, "<u4").astype(np.int64).reshape(samples, layers + 1)
    return (np.diff(marks, axis=1) % (1 << 32)).tolist()


def probe_run(outputs: bytes, cycles: bytes, state_data: bytes, board: str, samples: int, expected: dict) -> ProbeRun:
    found = states(state_data, board, samples)
    for index, state in enumerate(found):
        check_state(state, index, board, expected)
    counters = {state["counter"] for state in found}
    if len(counters) != 1:
        raise refuse(board, "the harness's state", "changed its cycle counter status between samples")
    counter = counters.pop()
    if len(outputs) != samples * expected["output_bytes"]:
        raise refuse(board, "the outputs", f"read back {len(outputs)} bytes; expected {samples} x "
                                           f"{expected['output_bytes']}")
    per_layer = layer_cycles(cycles, board, samples, expected["layers"]) if counter == COUNTING else None
    return ProbeRun(outputs=outputs, layer_cycles=per_layer, counter_absent=COUNTER_ABSENT.get(counter),
                    stack_peak_bytes=max(state["stack_peak"] for state in found),
                    stack_at_invoke_bytes=found[-1]["stack_at_invoke"])
