"""Pipeline stages the CLI calls; each takes plain values and returns the run's manifest."""
import logging
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

from mnd.base.errors import Interrupted, UsageError
from mnd.pipeline import rundir
from mnd.pipeline.data import fingerprint
from mnd.pipeline.data.class_names import labels_text
from mnd.pipeline.data.datasets import check_split_fraction, native_channels
from mnd.pipeline.data.preprocess import Preprocessing
from mnd.pipeline.environment import environment
from mnd.pipeline.model import init_weights
from mnd.pipeline.model.registry import parse_model_name
from mnd.pipeline.training import strategies
from mnd.pipeline.training.checkpoints import RunCheckpoints
from mnd.pipeline.training.fit import TrainConfig, estimate_batch_norm_statistics, first_examples, phases, recipe_of
from mnd.pipeline.training.inputs import list_source, training_inputs

log = logging.getLogger("mnd")
RUN_SCHEMA = "mnd.run/1"
MODEL_FILE = "model.keras"


@dataclass(frozen=True)
class Distribution:
    """The strategy a run trains under (training.strategies), created by the caller before any TensorFlow op."""
    name: str = "default"
    cluster: strategies.Cluster = field(default_factory=strategies.Cluster)
    strategy: object = None

    def resolved(self):
        if self.strategy is not None:
            return self.strategy
        import tensorflow as tf

        return tf.distribute.get_strategy()


def run_training(model_name: str, dataset_source: str, destination: rundir.Destination, config: TrainConfig, *,
                 cache_root: Path, val_split: float = 0.2, channels: int | None = None, activation: str | None = None,
                 preprocess: str | None = None, to_gray: bool = False, progress=None, init: str = "none",
                 distribution: Distribution | None = None, resumed: dict | None = None) -> dict:
    """Train into a fresh run directory (claimed by the caller); Ctrl-C keeps the last completed epoch's checkpoint.
    `init` is imagenet, none or a weights file (model.init_weights); `preprocess` None: signed with init, else unit.
    `resumed` is the manifest of an interrupted run at `destination` to continue (training.resume).
    Image folders and label files stream from the decoded-image cache under `cache_root` (MND_CACHE)."""
    from mnd.pipeline.training.loop import Hooks, Resume, fit_distributed
    from mnd.pipeline.training.training_data import check_global_batch

    distribution = distribution or Distribution()
    strategy = distribution.resolved()
    out = destination.path
    channels = channels or native_channels(dataset_source)
    preprocess = init_weights.check_options(init, preprocess, channels)
    spec = parse_model_name(model_name, activation, channels=channels)  # activation None: the architecture's own
    prep = Preprocessing(mode=preprocess, side=spec.side, channels=channels, to_gray=to_gray)
    check_split_fraction(val_split)
    files = fingerprint.take(dataset_source)
    listed = list_source(dataset_source, prep)
    spec = replace(spec, classes=len(listed.class_names))
    start_weights = _checked_init(init, spec) if resumed is None else _recorded_init(resumed)  # before any cache
    inputs = training_inputs(listed, prep, config, spec.side, val_split, files and files["sha256"], cache_root)
    data = inputs.data
    shares = strategies.describe(distribution.name, distribution.cluster, strategy, config.batch_size,
                                 config.learning_rate)
    if resumed is not None:
        shares = _resumed_shares(resumed["distribution"], shares)
    global_batch = check_global_batch(shares["global_batch"], shares["replicas"], data.train_samples)
    shares.update(global_batch=global_batch, per_replica_batch=global_batch // shares["replicas"])
    effective = replace(config, batch_size=global_batch, learning_rate=shares["learning_rate"])
    log.info("training %s on %s: %d train / %d validation images, %d classes, %d epochs, seed %d; %s strategy, "
             "%d replica(s), global batch %d, peak learning rate %g", spec.name, inputs.name, data.train_samples,
             data.val_samples, spec.classes, config.epochs, config.seed, distribution.name, shares["replicas"],
             global_batch, shares["learning_rate"])
    options = {"model": model_name, "dataset": dataset_source, "val_split": val_split, "channels": channels,
               "activation": activation, "preprocess": preprocess, "to_gray": to_gray, "init": init}
    manifest = resumed or {
        "schema": RUN_SCHEMA, "status": "running", "model": spec.to_dict(), "model_file": MODEL_FILE,
        "preprocessing": prep.to_dict(),
        "dataset": {**inputs.describe(), "source": dataset_source, "val_split": val_split,
                    "split_seed": 0, "train_samples": data.train_samples, "val_samples": data.val_samples,
                    "fingerprint": files, "input": data.describe()},
        "init": start_weights.description if start_weights else {"source": "none"},
        "training": {**config.to_dict(), "phases": phases(effective, start_weights is not None)},
        "options": options, "epochs_completed": 0, "val_accuracy": None, "best_epoch": None,
        "last_val_accuracy": None, "history": [], "environment": environment(),
    }
    manifest.update(status="running", distribution=shares)
    if resumed is not None:
        manifest.setdefault("resumes", []).append({"after_epoch": resumed["epochs_completed"], **shares})
    started_at = manifest["epochs_completed"]
    staging = rundir.staging_dir(destination)
    if resumed is not None:
        shutil.copytree(out, staging, dirs_exist_ok=True, symlinks=True)
    checkpoints = RunCheckpoints(staging, chief=distribution.cluster.chief)

    def on_epoch_end(model, record, optimizer):
        checkpoints.save(model, optimizer, record["epoch"])
        best = manifest["val_accuracy"]
        if best is None or record["val_accuracy"] > best:
            partial = staging / (MODEL_FILE + ".partial.keras")
            model.save(partial)
            partial.replace(staging / MODEL_FILE)
            manifest.update(val_accuracy=record["val_accuracy"], best_epoch=record["epoch"])
        manifest["history"].append(record)
        manifest.update(epochs_completed=record["epoch"], last_val_accuracy=record["val_accuracy"])
        rundir.write_json(staging / "manifest.json", manifest)

    estimate = lambda model: estimate_batch_norm_statistics(model, first_examples(data))  # noqa: E731
    on_built = lambda built: manifest["training"].update(  # noqa: E731
        family=spec.to_dict().get("family", "v1"), recipe=recipe_of(built))
    hooks = Hooks(on_built=on_built, on_phase=_log_phase if start_weights else None, on_epoch_end=on_epoch_end,
                  progress=progress)
    try:
        (staging / "labels.txt").write_text(labels_text(inputs.class_names))
        rundir.write_json(staging / "preprocessing.json", prep.to_dict())
        resume = Resume(started_at, checkpoints) if resumed is not None else None
        model, _ = fit_distributed(spec, data, effective, strategy, init=start_weights, hooks=hooks, resume=resume,
                                   estimate_statistics=estimate)
        if config.epochs == 0:  # an untrained, seeded model: for pipeline benchmarks, not for accuracy
            model.save(staging / MODEL_FILE)
    except KeyboardInterrupt:
        if manifest["epochs_completed"] == started_at:
            rundir.discard(staging, destination)
            kept = f"{out} is as it was" if resumed else "nothing was written"
            raise Interrupted(f"interrupted before an epoch completed; {kept}") from None
        manifest["status"] = "interrupted"
        rundir.write_json(staging / "manifest.json", manifest)
        rundir.publish(staging, destination)
        raise Interrupted(f"interrupted after epoch {manifest['epochs_completed']} of {config.epochs}; the last "
                          f"completed checkpoint is in {out}; continue with mnd train --resume {out}") from None
    except BaseException:
        rundir.discard(staging, destination)
        raise
    finally:
        checkpoints.close()
    manifest["status"] = "complete"
    rundir.write_json(staging / "manifest.json", manifest)
    rundir.publish(staging, destination)
    return manifest


def _resumed_shares(recorded: dict, now: dict) -> dict:
    """A resumed run keeps the global batch and peak learning rate it started with (the data order and the
    schedule depend on them), split over the replicas it has now."""
    if recorded["global_batch"] % now["replicas"]:
        raise UsageError(f"the run's global batch {recorded['global_batch']} cannot be split over {now['replicas']} "
                         "replicas; resume with a strategy whose replica count divides it")
    return {**now, "global_batch": recorded["global_batch"], "base_learning_rate": recorded["base_learning_rate"],
            "learning_rate": recorded["learning_rate"]}


def _checked_init(init: str, spec):
    """The --init weights, refused (UsageError) before anything is written when they do not fit `spec`."""
    from mnd.pipeline.model.keras_builder import build_model

    weights = init_weights.resolve(init, spec)
    if weights is not None:
        weights.description["layers_loaded"] = init_weights.load_into(build_model(spec), spec, weights)
    return weights


def _recorded_init(manifest: dict):
    """A resumed run's checkpoint holds every weight: only whether it started from --init weights matters."""
    if manifest["init"].get("source", "none") == "none":
        return None
    return init_weights.InitWeights([], manifest["init"])


def _log_phase(index: int, phase: dict) -> None:
    log.info("phase %d: %d epochs at peak learning rate %g, frozen: %s", index + 1, phase["epochs"],
             phase["learning_rate"], phase["frozen"])
