"""Pipeline stages the CLI calls; each takes plain values and returns the run's manifest."""
import logging
from dataclasses import replace
from pathlib import Path

from mnd.pipeline import rundir
from mnd.pipeline.data import fingerprint
from mnd.pipeline.data.class_names import labels_text
from mnd.pipeline.data.datasets import check_split_fraction, native_channels
from mnd.pipeline.data.preprocess import Preprocessing
from mnd.pipeline.environment import environment
from mnd.pipeline.errors import Interrupted
from mnd.pipeline.model import init_weights
from mnd.pipeline.model.registry import parse_model_name
from mnd.pipeline.training.fit import TrainConfig, phases, recipe_of, train
from mnd.pipeline.training.inputs import list_source, training_inputs

log = logging.getLogger("mnd")
RUN_SCHEMA = "mnd.run/1"
MODEL_FILE = "model.keras"


def run_training(model_name: str, dataset_source: str, destination: rundir.Destination, config: TrainConfig, *,
                 cache_root: Path, val_split: float = 0.2, channels: int | None = None, activation: str | None = None,
                 preprocess: str | None = None, to_gray: bool = False, progress=None, init: str = "none") -> dict:
    """Train into a fresh run directory (claimed by the caller); Ctrl-C keeps the last completed epoch's checkpoint.
    `init` is imagenet, none or a weights file (model.init_weights); `preprocess` None: signed with init, else unit.
    Image folders and label files stream from the decoded-image cache under `cache_root` (MND_CACHE)."""
    out = destination.path
    channels = channels or native_channels(dataset_source)
    preprocess = init_weights.check_options(init, preprocess, channels)
    spec = parse_model_name(model_name, activation, channels=channels)  # activation None: the architecture's own
    prep = Preprocessing(mode=preprocess, side=spec.side, channels=channels, to_gray=to_gray)
    check_split_fraction(val_split)
    files = fingerprint.take(dataset_source)
    listed = list_source(dataset_source, prep)
    spec = replace(spec, classes=len(listed.class_names))
    start_weights = _checked_init(init, spec)  # refused before a cache is built
    inputs = training_inputs(listed, prep, config, spec.side, val_split, files and files["sha256"], cache_root)
    data = inputs.data
    log.info("training %s on %s: %d train / %d validation images, %d classes, %d epochs, seed %d",
             spec.name, inputs.name, data.train_samples, data.val_samples, spec.classes, config.epochs, config.seed)
    manifest = {
        "schema": RUN_SCHEMA, "status": "running", "model": spec.to_dict(), "model_file": MODEL_FILE,
        "preprocessing": prep.to_dict(),
        "dataset": {**inputs.describe(), "source": dataset_source, "val_split": val_split,
                    "split_seed": 0, "train_samples": data.train_samples, "val_samples": data.val_samples,
                    "fingerprint": files, "input": data.describe()},
        "init": start_weights.description if start_weights else {"source": "none"},
        "training": {**config.to_dict(), "phases": phases(config, start_weights is not None)},
        "epochs_completed": 0, "val_accuracy": None, "history": [],
        "environment": environment(),
    }
    staging = rundir.staging_dir(destination)

    def checkpoint(model, record):
        partial = staging / (MODEL_FILE + ".partial.keras")
        model.save(partial)
        partial.replace(staging / MODEL_FILE)
        manifest["history"].append(record)
        manifest.update(epochs_completed=record["epoch"], val_accuracy=record["val_accuracy"])
        rundir.write_json(staging / "manifest.json", manifest)

    try:
        (staging / "labels.txt").write_text(labels_text(inputs.class_names))
        rundir.write_json(staging / "preprocessing.json", prep.to_dict())
        model, _ = train(spec, prep, data, config, on_epoch_end=checkpoint, progress=progress,
                         init=start_weights, on_phase=_log_phase if start_weights else None,
                         on_built=lambda built: manifest["training"].update(family=spec.to_dict().get("family", "v1"),
                                                                           recipe=recipe_of(built)))
        if config.epochs == 0:  # an untrained, seeded model: for pipeline benchmarks, not for accuracy
            model.save(staging / MODEL_FILE)
    except KeyboardInterrupt:
        if manifest["epochs_completed"] == 0:
            rundir.discard(staging, destination)
            raise Interrupted("interrupted before the first epoch completed; nothing was written") from None
        manifest["status"] = "interrupted"
        rundir.write_json(staging / "manifest.json", manifest)
        rundir.publish(staging, destination)
        raise Interrupted(f"interrupted after epoch {manifest['epochs_completed']} of {config.epochs}; "
                          f"the last completed checkpoint is in {out}") from None
    except BaseException:
        rundir.discard(staging, destination)
        raise
    manifest["status"] = "complete"
    rundir.write_json(staging / "manifest.json", manifest)
    rundir.publish(staging, destination)
    return manifest


def _checked_init(init: str, spec):
    """The --init weights, refused (UsageError) before anything is written when they do not fit `spec`."""
    from mnd.pipeline.model.keras_builder import build_model

    weights = init_weights.resolve(init, spec)
    if weights is not None:
        weights.description["layers_loaded"] = init_weights.load_into(build_model(spec), spec, weights)
    return weights


def _log_phase(index: int, phase: dict) -> None:
    log.info("phase %d: %d epochs at peak learning rate %g, frozen: %s", index + 1, phase["epochs"],
             phase["learning_rate"], phase["frozen"])
