"""Checkpoints and --resume: an interrupted run continued from its last checkpoint ends with the weights of an
uninterrupted one (data order and augmentation are functions of (seed, epoch)); model.keras is the best epoch's."""
import json

import numpy as np
import pytest

from mnd.base.errors import Interrupted, UsageError
from mnd.pipeline import rundir
from mnd.pipeline.training.fit import TrainConfig
from mnd.pipeline.training.resume import interrupted_run, resume_training
from mnd.pipeline.training.run import Distribution, run_training

from tests.unit.test_train_init import photos, v1_025_file  # noqa: F401 (fixtures)

CONFIG = TrainConfig(epochs=3, batch_size=128, warmup_epochs=1)


def _stop_before_epoch(stop: int):
    """A progress callback that interrupts (as Ctrl-C does) when epoch `stop` begins."""
    def progress(epoch, _epochs, _steps):
        if epoch == stop:
            raise KeyboardInterrupt

    return progress


def _train(out, progress=None, dataset="digits", config=CONFIG, init="none"):
    return run_training("mobilenet_v1_025_32", str(dataset), rundir.claim(out, force=False), config, progress=progress,
                        init=str(init), cache_root=out.parent / "decoded-cache")


def _checkpoint_tensors(run):
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(run / "checkpoints"))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if name != "_CHECKPOINTABLE_OBJECT_GRAPH"}


@pytest.mark.slow
def test_a_resumed_run_ends_with_the_uninterrupted_runs_weights(tmp_path):
    whole = _train(tmp_path / "whole")
    with pytest.raises(Interrupted, match="--resume"):
        _train(tmp_path / "cut", progress=_stop_before_epoch(2))
    assert interrupted_run(tmp_path / "cut")["epochs_completed"] == 1
    resumed = resume_training(tmp_path / "cut", Distribution(), tmp_path / "decoded-cache")
    assert resumed["status"] == "complete" and resumed["resumes"][0]["after_epoch"] == 1
    assert [r["step_losses"] for r in resumed["history"]] == [r["step_losses"] for r in whole["history"]]
    expected, got = _checkpoint_tensors(tmp_path / "whole"), _checkpoint_tensors(tmp_path / "cut")
    assert expected.keys() == got.keys() and any("optimizer" in name for name in got)
    assert all(np.array_equal(expected[name], got[name]) for name in expected)
    with pytest.raises(UsageError, match="complete, not interrupted"):
        interrupted_run(tmp_path / "cut")


@pytest.mark.slow
def test_a_run_cut_between_the_init_phases_resumes_to_the_same_weights(tmp_path, photos, v1_025_file):  # noqa: F811
    """Cut where phase 1 (backbone frozen) ends: the resumed run restores the model and starts phase 2's optimizer
    afresh, as the uninterrupted run does."""
    config = TrainConfig(epochs=3, frozen_epochs=1, batch_size=8, warmup_epochs=1)
    _train(tmp_path / "whole", dataset=photos, config=config, init=v1_025_file)
    with pytest.raises(Interrupted):
        _train(tmp_path / "cut", progress=_stop_before_epoch(2), dataset=photos, config=config, init=v1_025_file)
    resumed = resume_training(tmp_path / "cut", Distribution(), tmp_path / "decoded-cache")
    assert [phase["epochs"] for phase in resumed["training"]["phases"]] == [1, 2]
    expected, got = _checkpoint_tensors(tmp_path / "whole"), _checkpoint_tensors(tmp_path / "cut")
    assert expected.keys() == got.keys() and all(np.array_equal(expected[name], got[name]) for name in expected)


@pytest.mark.slow  # the session's shared 30-epoch digits run
def test_model_keras_holds_the_best_validation_epoch(digits_run):
    import keras

    from mnd.pipeline.data.datasets import load_dataset, stratified_split
    from mnd.pipeline.data.preprocess import Preprocessing

    manifest = json.loads((digits_run / "manifest.json").read_text())
    accuracies = [record["val_accuracy"] for record in manifest["history"]]
    assert manifest["best_epoch"] == 1 + int(np.argmax(accuracies)) and manifest["val_accuracy"] == max(accuracies)
    assert manifest["last_val_accuracy"] == accuracies[-1]
    prep = Preprocessing.from_dict(manifest["preprocessing"])
    _, val_set = stratified_split(load_dataset("digits", prep), manifest["dataset"]["val_split"])
    predictions = keras.models.load_model(digits_run / "model.keras").predict(prep.apply(val_set.pixels), verbose=0)
    assert np.mean(predictions.argmax(-1) == val_set.labels) == pytest.approx(manifest["val_accuracy"], abs=1e-9)


@pytest.mark.parametrize("args, message", [
    (["--resume", "RUN", "--model", "mobilenet_v1_025_32"], "drop --model, --dataset and --out"),
    (["--resume", "RUN"], "no readable manifest.json"),
    (["--model", "mobilenet_v1_025_32", "--dataset", "digits"], "mnd train needs --out (or --resume RUN_DIR)"),
])
def test_cli_refuses_bad_resume_options_in_one_line(mnd, tmp_path, args, message):
    result = mnd("train", *[str(tmp_path / "missing") if a == "RUN" else a for a in args], check=2)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and list(tmp_path.iterdir()) == []
