"""Fuzzing the reader of board output (targets/board_output.py): random JSON documents as result.json, a valid
result with one value replaced by random JSON, and truncated or byte-flipped .npy files (a pickled one among them)
give a valid result or one BoardOutputError line, never another exception, never an unpickling. 600 cases,
derandomized."""
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mnd.targets.board_output import BoardOutputError, load_array
from mnd.targets.linux_arm64.result import read_probe, read_result
from tests.unit.test_board_output import BOARD, JOB, Planted, npy, result

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                max_size=4), max_leaves=12)
KEYS = ("runner", "python", "machine", "packages", "litert_module", "fatal", "items")
ITEM_KEYS = ("id", "ok", "error", "outputs", "latencies_ms", "seconds")


def fuzz(cases: int):
    return settings(max_examples=cases, derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def reads_or_refuses(call):
    try:
        return call()
    except BoardOutputError as error:
        assert str(error).startswith("rpi4 (") and "\n" not in str(error), str(error)


@fuzz(200)
@given(document=JSON)
def test_random_json_documents(document):
    data = json.dumps(document).encode()
    reads_or_refuses(lambda: read_result(data, BOARD, JOB, 2))
    reads_or_refuses(lambda: read_probe(data, BOARD))


@fuzz(200)
@given(key=st.sampled_from(KEYS + ITEM_KEYS), value=JSON)
def test_a_valid_result_with_one_value_replaced(key, value):
    document = result()
    (document if key in KEYS else document["items"][0])[key] = value
    reads_or_refuses(lambda: read_result(json.dumps(document).encode(), BOARD, JOB, 2))


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    Planted.path = tmp_path_factory.mktemp("pickle") / "unpickled"
    return npy(np.array([Planted()] * 4, dtype=object))


@fuzz(200)
@given(pickled=st.booleans(), cut=st.floats(0, 1), flip=st.integers(0, 255), where=st.floats(0, 1))
def test_truncated_or_flipped_npy_files(planted, pickled, cut, flip, where):
    data = bytearray(planted if pickled else npy(np.arange(40, dtype=np.int8).reshape(4, 10)))
    data[int(where * (len(data) - 1))] ^= flip
    data = bytes(data[:max(1, int(cut * len(data)))] if cut < 1 else data)
    rows = reads_or_refuses(lambda: load_array(data, BOARD, "outputs.npy", 4, 10))
    assert rows is None or rows.shape == (4, 10)
    assert not Planted.path.exists()
