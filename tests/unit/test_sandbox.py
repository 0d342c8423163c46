"""Interpreters run in a child process: an abort inside LiteRT becomes a RuntimeCrash, not a dead caller."""
import numpy as np
import pytest

from mnd.base.runtimes.inputs import inputs_for
from mnd.base.runtimes.sandbox import RuntimeCrash, run_model, tflm_arena_bytes

pytestmark = pytest.mark.slow


def _softmax_model(tmp_path, classes: int, stddev: float):
    import keras

    from mnd.quantize.ptq import export_saved_model, int8_tflite

    inputs = keras.Input((8, 8, 1))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    x = keras.layers.Dense(classes, kernel_initializer=keras.initializers.RandomNormal(stddev=stddev, seed=0))(x)
    model = keras.Model(inputs, keras.layers.Softmax()(x))
    samples = np.random.default_rng(0).random((20, 8, 8, 1), dtype=np.float32)
    path = tmp_path / "softmax.tflite"
    path.write_bytes(int8_tflite(export_saved_model(model, tmp_path / "saved"), samples))
    return path, inputs_for(path, samples)


def test_reference_softmax_abort_becomes_a_clear_error(tmp_path):
    path, inputs = _softmax_model(tmp_path, classes=1001, stddev=1e-4)
    with pytest.raises(RuntimeCrash) as caught:
        run_model("litert-ref", path, inputs)
    message = str(caught.value)
    assert "aborted on sample 0" in message and "TFLITE_CHECK" in message and "SOFTMAX" in message


def test_same_kind_of_model_runs_where_outputs_are_spread(tmp_path):
    path, inputs = _softmax_model(tmp_path, classes=10, stddev=1.0)
    result = run_model("litert-ref", path, inputs, warmup=1, runs=3)
    assert result.outputs.shape == (20, 10) and result.outputs.dtype == np.int8
    assert len(result.latencies_ms) == 3
    tflm = run_model("tflm", path, inputs, arena_size=tflm_arena_bytes(path, inputs[0]))
    assert np.array_equal(tflm.outputs, result.outputs)


def test_arena_search_finds_the_smallest_working_size(tmp_path):
    path, inputs = _softmax_model(tmp_path, classes=10, stddev=1.0)
    arena = tflm_arena_bytes(path, inputs[0])
    assert arena % 16 == 0
    run_model("tflm", path, inputs[:1], arena_size=arena)
    with pytest.raises(RuntimeCrash, match="failed"):
        run_model("tflm", path, inputs[:1], arena_size=arena - 16)


def test_a_corrupt_model_fails_cleanly(tmp_path):
    path = tmp_path / "junk.tflite"
    path.write_bytes(b"\x00" * 64)
    with pytest.raises(RuntimeCrash, match="while loading the model"):
        run_model("litert", path, np.zeros((1, 4), np.float32))
