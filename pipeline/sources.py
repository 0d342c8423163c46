"""Where the model to export comes from: the built-in default, a registry name, a run directory, a .keras file."""
import logging
from dataclasses import dataclass
from pathlib import Path

from pipeline import rundir
from pipeline.architecture import NAME_PATTERN
from pipeline.errors import ModelError
from pipeline.preprocess import Preprocessing

log = logging.getLogger("mnd")
DEFAULT_MODEL = "mobilenet_v1_025_32"
DEFAULT_DATASET = "digits"


@dataclass(frozen=True)
class ModelSource:
    keras_path: Path
    name: str
    alpha: float | None
    prep: Preprocessing
    labels: tuple
    dataset: str | None = None      # the training dataset, the default calibration/evaluation source
    val_split: float | None = None  # how the training run held out validation images
    run_dir: Path | None = None


def resolve_model(model: str | None, cache_dir: Path, epochs: int, seed: int, progress=None) -> ModelSource:
    if model is None or NAME_PATTERN.match(model):
        return _cached_training_run(model or DEFAULT_MODEL, cache_dir, epochs, seed, progress)
    path = Path(model)
    if path.is_dir() and (path / "manifest.json").exists():
        return from_run_dir(path)
    if path.suffix == ".keras" and path.is_file():
        return _from_keras_file(path)
    if not path.exists():
        from pipeline.architecture import parse_model_name
        if "/" not in model and "." not in model:
            parse_model_name(model)  # raises with a did-you-mean for registry-like typos
        raise ModelError(f"model '{model}' not found; give a registry name (mobilenet_v1_025_96), "
                         "a .keras file or a run directory from 'mnd train'")
    raise ModelError(f"cannot export '{model}': supported are .keras files and 'mnd train' run directories")


def from_run_dir(run: Path) -> ModelSource:
    import json

    manifest = json.loads((run / "manifest.json").read_text())
    if manifest.get("schema") != "mnd.run/1" or manifest.get("epochs_completed") is None:
        raise ModelError(f"'{run}' is not an 'mnd train' run directory (no mnd.run/1 manifest)")
    labels = tuple((run / "labels.txt").read_text().split("\n")[:manifest["model"]["classes"]])
    return ModelSource(run / manifest.get("model_file", "model.keras"), manifest["model"]["name"],
                       manifest["model"]["alpha"], Preprocessing.from_dict(manifest["preprocessing"]), labels,
                       manifest["dataset"]["source"], manifest["dataset"]["val_split"], run)


def _from_keras_file(path: Path) -> ModelSource:
    import keras

    try:
        model = keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # keras raises many types for damaged archives
        raise ModelError(f"cannot load '{path}': {str(error).splitlines()[0][:200]} — is the file complete?") from None
    shape = model.input_shape
    if len(shape) != 4 or shape[1] != shape[2] or shape[3] not in (1, 3):
        raise ModelError(f"'{path}' takes input {shape}; mnd exports image models with a square "
                         "[batch, side, side, 1 or 3] input")
    classes = int(model.output_shape[-1])
    prep = Preprocessing(mode="unit", side=int(shape[1]), channels=int(shape[3]))
    log.info("preprocessing for %s: %s (the default for imported Keras models; recorded in the manifest)",
             path.name, prep.to_dict()["formula"])
    return ModelSource(path, path.stem, None, prep, tuple(str(i) for i in range(classes)))


def _cached_training_run(name: str, cache_dir: Path, epochs: int, seed: int, progress) -> ModelSource:
    from pipeline.stages import run_training
    from pipeline.train import TrainConfig

    run = cache_dir / f"{name}-{DEFAULT_DATASET}-e{epochs}-s{seed}"
    if (run / "manifest.json").exists():
        log.info("reusing the cached training run %s", run)
        return from_run_dir(run)
    log.info("training %s on %s for %d epochs (cached in %s for later exports)", name, DEFAULT_DATASET, epochs, run)
    rundir.refuse_existing(run, force=True)
    run_training(name, DEFAULT_DATASET, run, TrainConfig(epochs=epochs, seed=seed), force=True, progress=progress)
    return from_run_dir(run)
