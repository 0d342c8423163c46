"""The arena planner never lets two live tensors overlap and reaches the two-buffer floor on a chain."""
import random

from mnd.engine.planner import floor_bytes, lifetimes, plan


def check_no_live_overlap(result, buffers):
    for a in buffers:
        for b in buffers:
            if a.tensor < b.tensor and a.first_use <= b.last_use and b.first_use <= a.last_use:
                a0, b0 = result.offsets[a.tensor], result.offsets[b.tensor]
                assert a0 + a.size <= b0 or b0 + b.size <= a0, (a, b)


def test_chain_reaches_the_floor():
    sizes = {0: 27648, 1: 18432, 2: 18432, 3: 36864, 4: 9216}
    op_inputs, op_outputs = [[0], [1], [2], [3]], [[1], [2], [3], [4]]
    buffers = lifetimes(op_inputs, op_outputs, sizes, 0, 4)
    result = plan(buffers, op_inputs, op_outputs, sizes)
    check_no_live_overlap(result, buffers)
    assert result.floor_bytes == 18432 + 36864
    assert result.arena_bytes == result.floor_bytes


def test_random_graphs_with_branches_never_overlap():
    rng = random.Random(0)
    for _ in range(200):
        count = rng.randint(1, 12)
        sizes = {t: rng.randint(1, 5000) for t in range(count + 1)}
        op_inputs = [[rng.randint(0, i)] + ([rng.randint(0, i)] if rng.random() < 0.3 else []) for i in range(count)]
        op_outputs = [[i + 1] for i in range(count)]
        buffers = lifetimes(op_inputs, op_outputs, sizes, 0, count)
        result = plan(buffers, op_inputs, op_outputs, sizes)
        check_no_live_overlap(result, buffers)
        assert result.arena_bytes >= result.floor_bytes
        assert all(offset % 16 == 0 for offset in result.offsets.values())


def test_a_residual_input_counts_in_the_floor_while_it_is_live():
    """Op 0 writes 1; ops 1-2 expand and project it; op 3 adds 1 back: tensor 1 is live through ops 1 and 2."""
    sizes = {0: 100, 1: 100, 2: 600, 3: 100, 4: 100}
    op_inputs, op_outputs = [[0], [1], [2], [1, 3]], [[1], [2], [3], [4]]
    buffers = lifetimes(op_inputs, op_outputs, sizes, 0, 4)
    result = plan(buffers, op_inputs, op_outputs, sizes)
    check_no_live_overlap(result, buffers)
    assert floor_bytes(buffers, 4) == result.floor_bytes == 100 + 600 + 100  # at op 2: 1, 2 and 3
    assert result.arena_bytes >= result.floor_bytes
