"""What a board, phone or emulated core sends back goes through one reader (targets/board_output.py): malformed
JSON, a missing key, non-numeric or non-finite latencies, items the job did not send, a wrong output shape and
pickled arrays are each one BoardOutputError line naming the board; nothing is ever unpickled."""
import io
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from mnd.targets.board_output import BoardOutputError, int8_rows, load_array
from mnd.targets.cortex_m.cores import CORES
from mnd.targets.cortex_m.qemu import FirmwareRunError, _parse_counts, _parse_report
from mnd.targets.engine_remote import run_mnd_c
from mnd.targets.linux_arm64.result import read_probe, read_result
from mnd.targets.transport.base import RemoteResult

BOARD = "rpi4 (ssh pi@board)"
JOB = [{"id": "litert-ref-tflite_int8-t1", "outputs": "outputs_litert-ref-tflite_int8-t1.npy", "accuracy_pass": True}]
HEADER = {"runner": 1, "python": "3.11.2", "machine": "aarch64", "packages": {"numpy": "2.0", "onnxruntime": None},
          "litert_module": "ai_edge_litert"}


def result(**item_changes) -> dict:
    item = {"id": JOB[0]["id"], "ok": True, "error": None, "outputs": JOB[0]["outputs"], "latencies_ms": [1.5, 2.0],
            "seconds": 3.0, **item_changes}
    return {**HEADER, "fatal": None, "items": [item]}


def npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


class Planted:
    """Unpickling it would create a file: proof that nothing was unpickled."""

    path = None

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def refused(call, *phrases):
    with pytest.raises(BoardOutputError) as caught:
        call()
    message = str(caught.value)
    assert message.startswith(BOARD.split()[0]) and "\n" not in message, message
    assert all(phrase in message for phrase in phrases), message
    return message


def test_a_result_as_the_runner_writes_it_is_read():
    assert read_result(json.dumps(result()).encode(), BOARD, JOB, 2)["items"][0]["latencies_ms"] == [1.5, 2.0]
    assert read_probe(b"a warning line\n" + json.dumps(HEADER).encode() + b"\n", BOARD)["machine"] == "aarch64"


@pytest.mark.parametrize("data, phrase", [
    (b'{"runner": 1, "items": [', "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
    (json.dumps([1, 2]).encode(), "a list where an object belongs"),
    (json.dumps({k: v for k, v in result().items() if k != "items"}).encode(), "missing key 'items'"),
    (json.dumps(result(latencies_ms=["fast"])).encode(), "a string where a number belongs"),
    (json.dumps(result(latencies_ms=[-1.0])).encode(), "not durations"),
    (json.dumps(result()).replace("1.5", "NaN").encode(), "NaN is not a JSON number"),
    (json.dumps(result(id="../../etc")).encode(), "where the job sent"),
    (json.dumps(result(outputs="../../.ssh/authorized_keys")).encode(), "names outputs"),
    (json.dumps(result(latencies_ms=[1.0] * 3)).encode(), "2 timed runs were asked for"),
    (json.dumps(result(error="x" * 5000)).encode(), "a string of 5000 characters"),
], ids=["truncated", "not utf-8", "a list", "missing key", "non-numeric latency", "negative latency", "NaN",
        "unknown item", "outputs elsewhere", "latency count", "long string"])
def test_a_malformed_result_json_is_one_line_naming_the_board(data, phrase):
    refused(lambda: read_result(data, BOARD, JOB, 2), "result.json", phrase)


def test_a_pickled_array_is_refused_and_never_unpickled(tmp_path):
    Planted.path = tmp_path / "unpickled"
    data = npy(np.array([Planted()], dtype=object))
    assert pickle.loads(pickle.dumps(Planted())) is None and Planted.path.exists()  # the payload works...
    Planted.path.unlink()
    refused(lambda: load_array(data, BOARD, "outputs.npy", 1, 1), "not a plain .npy array")
    assert not Planted.path.exists()  # ...and was not run


@pytest.mark.parametrize("array, phrase", [
    (np.zeros((3, 10), np.float32), "expected 4 samples of 10 values"),
    (np.zeros((4, 9), np.int8), "expected 4 samples of 10 values"),
    (np.array(["x"] * 40).reshape(4, 10), "not numbers"),
])
def test_outputs_of_the_wrong_shape_or_kind_are_refused(array, phrase):
    refused(lambda: load_array(npy(array), BOARD, "outputs.npy", 4, 10), phrase)
    assert load_array(npy(np.zeros((4, 1, 10), np.int8)), BOARD, "outputs.npy", 4, 10).shape == (4, 10)


class Board:
    """A transport whose mnd-c prints `report` and leaves `outputs` to pull."""

    def __init__(self, report: str, outputs: bytes):
        self.report, self.outputs = report, outputs

    def run(self, argv, *, cwd, timeout):
        return RemoteResult(0, self.report.encode(), b"")

    def pull(self, workdir, names, local):
        (Path(local) / names[0]).write_bytes(self.outputs)


ENGINE_REPORT = {"engine": "mnd-c", "samples": 2, "input_bytes": 3, "output_bytes": 4, "arena_bytes": 8, "warmup": 0,
                 "runs": 1, "latencies_ms": [0.5]}


@pytest.mark.parametrize("report, outputs, phrase", [
    (ENGINE_REPORT, bytes(7), "holds 7 bytes"),
    ({**ENGINE_REPORT, "samples": 3}, bytes(8), "says 3 samples"),
    ({**ENGINE_REPORT, "latencies_ms": [None]}, bytes(8), "null where a number belongs"),
    ({**ENGINE_REPORT, "runs": "1"}, bytes(8), "runs: a string"),
])
def test_mnd_c_reports_and_outputs_that_do_not_fit_are_refused(tmp_path, report, outputs, phrase):
    board = Board(json.dumps(report), outputs)
    refused(lambda: run_mnd_c(board, "/w", tmp_path, inputs="i", outputs="o", warmup=0, runs=1, timeout=9,
                              board=BOARD, shape=(2, 4)), phrase)
    good = Board(json.dumps(ENGINE_REPORT), bytes(8))
    assert run_mnd_c(good, "/w", tmp_path, inputs="i", outputs="o", warmup=0, runs=1, timeout=9, board=BOARD,
                     shape=(2, 4))[0].shape == (2, 4)
    refused(lambda: int8_rows(bytes(5), BOARD, "outputs.bin", 2, 4), "expected 2 samples x 4")


def test_the_cortex_m_harness_report_and_counts_are_checked(tmp_path):
    core = CORES["cortex-m4"]
    with pytest.raises(FirmwareRunError, match="lacks layers, output_bytes"):
        _parse_report(core, "mnd-report samples=1 stack_peak=4 stack_size=8 stack_at_invoke=1")
    (tmp_path / "counts.txt").write_text("marker 12\nmarker x\ntotal 9\n")
    with pytest.raises(FirmwareRunError, match="not a count"):
        _parse_counts(core, tmp_path / "counts.txt", "")
