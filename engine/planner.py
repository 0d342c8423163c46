"""Static memory plan for activations: every tensor gets an offset in one arena, reusing memory between
tensors whose lifetimes do not overlap. First-fit placement is tried in two orders (largest first, as
TFLite-Micro's greedy planner does, and execution order, which ping-pongs a chain between the arena's two
ends and reaches the two-buffer floor on a chain) and the smaller arena wins. The floor is the largest sum of
tensors live at any one op: on residual graphs (MobileNet V2/V3) more than one op's inputs and outputs."""
from dataclasses import dataclass

ALIGNMENT = 16


@dataclass(frozen=True)
class Buffer:
    tensor: int
    size: int
    first_use: int  # index of the op that writes it (-1: the model input, written before op 0)
    last_use: int   # index of the last op that reads it (number of ops: the model output, read at the end)


@dataclass(frozen=True)
class Plan:
    offsets: dict      # tensor index -> byte offset in the arena
    arena_bytes: int
    floor_bytes: int   # the largest sum of tensors live at any one op (planner.floor_bytes): no plan goes below it


def _aligned(value: int) -> int:
    return (value + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def _overlap(a: Buffer, b: Buffer) -> bool:
    return a.first_use <= b.last_use and b.first_use <= a.last_use


def lifetimes(op_inputs: list, op_outputs: list, sizes: dict, model_input: int, model_output: int) -> list:
    """Buffers for every activation tensor from the ops' input/output tensor lists (constants excluded by the
    caller: `sizes` names only activations)."""
    first, last = {model_input: -1}, {model_output: len(op_inputs)}
    for index, (inputs, outputs) in enumerate(zip(op_inputs, op_outputs)):
        for tensor in outputs:
            first.setdefault(tensor, index)
        for tensor in inputs:
            last[tensor] = max(last.get(tensor, index), index)
    return [Buffer(t, sizes[t], first.get(t, -1), last.get(t, first.get(t, -1))) for t in sorted(sizes)]


def _first_fit(ordered: list) -> dict:
    placed = []
    offsets = {}
    for buffer in ordered:
        offset = 0
        for other, other_offset in sorted(((p, offsets[p.tensor]) for p in placed if _overlap(p, buffer)),
                                          key=lambda pair: pair[1]):
            if offset + buffer.size <= other_offset:
                break
            offset = max(offset, _aligned(other_offset + other.size))
        offsets[buffer.tensor] = offset
        placed.append(buffer)
    return offsets


def plan(buffers: list, op_inputs: list, op_outputs: list, sizes: dict) -> Plan:
    candidates = [_first_fit(sorted(buffers, key=lambda b: (-b.size, b.first_use, b.tensor))),
                  _first_fit(sorted(buffers, key=lambda b: (b.first_use, -b.size, b.tensor)))]
    extent = lambda offsets: max((offsets[b.tensor] + b.size for b in buffers), default=0)  # noqa: E731
    offsets = min(candidates, key=extent)
    arena = extent(offsets)
    return Plan(offsets, _aligned(arena), floor_bytes(buffers, len(op_inputs)))


def floor_bytes(buffers: list, op_count: int) -> int:
    """The largest sum of the buffers live at any one op (its inputs, its outputs and scratch, and every tensor
    written before it and read after it, such as a residual block's input): no plan goes below it."""
    return max((sum(b.size for b in buffers if b.first_use <= op <= b.last_use) for op in range(op_count)),
               default=0)
