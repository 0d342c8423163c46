"""Where the model to export comes from: the built-in default, a registry name, a run directory, a Keras file
(.keras, legacy .h5), a SavedModel directory, or a .tflite file."""
import fcntl
import json
import logging
import re
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from mnd.base.errors import ModelError, OutputError, UsageError
from mnd.base.json_shape import Nullable, Obj, check, read_json, refuse_problems
from mnd.base.paths import inside
from mnd.pipeline import rundir
from mnd.pipeline.data.class_names import check_class_names
from mnd.pipeline.data.preprocess import Preprocessing
from mnd.pipeline.manifest import FINGERPRINT_SHAPE, PREPROCESSING_SHAPE, SCHEMA
from mnd.pipeline.model.registry import is_model_name, parse_model_name

log = logging.getLogger("mnd")
DEFAULT_MODEL = "mobilenet_v1_025_32"
DEFAULT_DATASET = "digits"
MAX_SIDE = 4096
MAX_CLASSES = 100_000
RUN_SCHEMA = "mnd.run/1"
RETRAIN = "train it again with 'mnd train'"
# Keras Applications' model names: mobilenet_0.25_224, mobilenetv2_0.35_96, MobileNetV3Small / MobilenetV3large
KERAS_APPLICATIONS = re.compile(r"mobilenet(_\d\.\d\d_\d+|v2_\d\.\d\d_\d+|v3(small|large))", re.IGNORECASE)
RUN_SHAPE = Obj({"schema": str, "status": str, "model_file": str, "preprocessing": PREPROCESSING_SHAPE,
                 "model": Obj({"name": str, "alpha": float, "classes": int}, closed=False),
                 "dataset": Obj({"source": str, "val_split": float}, {"fingerprint": Nullable(FINGERPRINT_SHAPE)},
                                closed=False), "training": dict,
                 "epochs_completed": int, "val_accuracy": float | None, "history": list, "environment": dict},
                {"init": dict, "options": dict, "distribution": dict, "resumes": list, "best_epoch": int | None,
                 "last_val_accuracy": float | None})


@dataclass(frozen=True)
class ModelSource:
    kind: str  # "keras" (a float graph: PTQ runs here) or "tflite" (an imported, possibly quantized, file)
    path: Path
    name: str
    alpha: float | None
    prep: Preprocessing
    labels: tuple
    dataset: str | None = None      # the training dataset, the default calibration/evaluation source
    val_split: float | None = None  # how the training run held out validation images
    run_dir: Path | None = None
    loaded: object = None           # the Keras model, for kind "keras"
    dataset_fingerprint: dict | None = None  # the training run's record of `dataset` (data/fingerprint.py)


def resolve_model(model: str | None, cache_dir: Path, epochs: int, seed: int, progress=None,
                  prep_overrides: dict | None = None, labels_file: str | None = None,
                  arch: str | None = None, classes: int | None = None) -> ModelSource:
    if check_model(model, arch) == "weights":
        source = _from_weights(Path(model), arch, classes)
    else:
        source = _resolve(model, cache_dir, epochs, seed, progress)
    if prep_overrides:
        source = replace(source, prep=replace(source.prep, **prep_overrides))
    if labels_file:
        source = replace(source, labels=_read_labels(Path(labels_file), len(source.labels)))
    log.info("preprocessing: %s, %s resize%s (recorded in the manifest)", source.prep.to_dict()["formula"],
             source.prep.resize, f", centre crop {source.prep.crop_fraction}" if source.prep.crop_fraction < 1 else "")
    return source


def check_model(model: str | None, arch: str | None = None) -> str:
    """What --model names, decided without loading it (so before TensorFlow starts): "registry", "run",
    "tflite", "keras" or "weights" (with --arch); a missing or unsupported one is refused here."""
    if arch:
        parse_model_name(arch)
        path = Path(model or "")
        if path.suffix != ".h5" or not path.is_file():
            raise ModelError(f"--arch needs --model pointing at a weights-only .h5 file; '{path}' is not one")
        return "weights"
    if model is None or is_model_name(model):
        return "registry"
    path = Path(model)
    if path.is_dir() and (path / "manifest.json").exists():
        return "run"
    if path.suffix == ".tflite" and path.is_file():
        return "tflite"
    if (path.suffix in (".keras", ".h5") and path.is_file()) or (path / "saved_model.pb").is_file():
        return "keras"
    if not path.exists():
        if "/" not in model and "." not in model:
            parse_model_name(model)  # raises with a did-you-mean for registry-like typos
        raise ModelError(f"model '{model}' not found; give a registry name (mobilenet_v1_025_96), a .keras, .h5 "
                         "or .tflite file, a SavedModel directory, or a run directory from 'mnd train'")
    raise ModelError(f"cannot import '{model}': supported are .keras, .h5 and .tflite files, SavedModel "
                     "directories and 'mnd train' run directories")


def _resolve(model, cache_dir, epochs, seed, progress) -> ModelSource:
    kind = check_model(model)
    if kind == "registry":
        return _cached_training_run(model or DEFAULT_MODEL, cache_dir, epochs, seed, progress)
    path = Path(model)
    if kind == "run":
        return from_run_dir(path)
    return _from_tflite(path) if kind == "tflite" else _from_keras(path)


def from_run_dir(run: Path) -> ModelSource:
    """The model of an 'mnd train' run directory, refused with one line unless its manifest is exactly an mnd.run/1
    one and its model and labels files are inside the run."""
    path, manifest = read_json(run, "mnd train", RETRAIN)
    if manifest.get("schema") != RUN_SCHEMA:
        if manifest.get("schema") == SCHEMA:
            raise ModelError(f"'{run}' is an export (mnd.manifest/1), not an 'mnd train' run directory; give the "
                             "model it was exported from, or one of its .tflite files")
        raise ModelError(f"'{run}' is not an 'mnd train' run directory (schema {repr(manifest.get('schema'))[:80]}, "
                         f"not {RUN_SCHEMA}); {RETRAIN}")
    refuse_problems(path, check(manifest, RUN_SHAPE), RETRAIN)
    from mnd.pipeline.sources.keras_file import load_keras_model

    model, classes = manifest["model"], manifest["model"]["classes"]
    inside(run, manifest["model_file"], f"'{path}': model_file", error=ModelError, fix=RETRAIN)
    model_path = run / manifest["model_file"]
    if not model_path.exists():
        raise ModelError(f"'{path}': model_file {repr(manifest['model_file'])[:200]} is missing; {RETRAIN}")
    try:
        prep = Preprocessing.from_dict(manifest["preprocessing"])
    except UsageError as error:
        raise ModelError(f"'{path}': preprocessing: {error}; {RETRAIN}") from None
    return ModelSource("keras", model_path, model["name"], model["alpha"], prep, _run_labels(run, classes),
                       manifest["dataset"]["source"], manifest["dataset"]["val_split"], run,
                       load_keras_model(model_path), manifest["dataset"].get("fingerprint"))


def _run_labels(run: Path, classes: int) -> tuple:
    """The class names in a training run's labels.txt, one a line, at least `classes` of them."""
    path = inside(run, "labels.txt", f"'{run}':", error=ModelError, fix=RETRAIN)
    try:
        names = tuple(path.read_bytes().decode("utf-8").split("\n")[:classes]) if path.is_file() else ()
    except (OSError, UnicodeDecodeError) as reason:
        raise ModelError(f"'{run / 'labels.txt'}' cannot be read ({reason}); {RETRAIN}") from None
    if len(names) < classes:
        raise ModelError(f"'{run / 'labels.txt'}' is missing or names {len(names)} classes, the model has {classes}; "
                         f"{RETRAIN}")
    return check_class_names(names, f"'{run / 'labels.txt'}'", RETRAIN, error=ModelError)


def _from_keras(path: Path) -> ModelSource:
    from mnd.pipeline.sources.keras_file import load_keras_model

    return _keras_source(path, load_keras_model(path))


def _keras_source(path: Path, model) -> ModelSource:
    shape = model.input_shape
    prep = Preprocessing(mode=keras_input_mode(model), side=int(shape[1]), channels=int(shape[3]))
    classes = int(model.output_shape[-1])
    return ModelSource("keras", path, path.stem, None, prep, tuple(str(i) for i in range(classes)), loaded=model)


def keras_input_mode(model) -> str:
    """The preprocessing a Keras model expects, from what it says about itself: "raw" (0..255) when a Rescaling layer
    reads its input (Keras Applications' MobileNetV3 with include_preprocessing), "signed" (-1..1) for the other
    Keras Applications MobileNets (their names), else "unit" (0..1, mnd's own models); --preprocess overrides it."""
    import keras

    readers = [layer for layer in model.layers[1:] if getattr(layer, "_inbound_nodes", None)
               and any(tensor is model.inputs[0] for node in layer._inbound_nodes for tensor in node.input_tensors)]
    if any(isinstance(layer, keras.layers.Rescaling) for layer in readers):
        log.info("'%s' rescales its input itself (a Rescaling layer reads it): it takes pixels 0..255", model.name)
        return "raw"
    if KERAS_APPLICATIONS.fullmatch(model.name):
        log.info("'%s' is a Keras Applications MobileNet: it takes pixels scaled to -1..1", model.name)
        return "signed"
    return "unit"


def _from_weights(path: Path, arch: str, classes: int | None) -> ModelSource:
    """A weights-only .h5 (check_model: it is one) poured into a registry architecture (--arch, optionally
    --classes)."""
    from mnd.pipeline.sources.keras_file import classes_in_weights, load_weights_into

    classes = classes or classes_in_weights(path)
    if classes is None:
        raise ModelError(f"cannot tell the class count of '{path}'; give --classes N with --arch")
    return _keras_source(path, load_weights_into(path, arch, classes))


def _from_tflite(path: Path) -> ModelSource:
    from mnd.base.tflite.read import read_tflite

    info = read_tflite(path.read_bytes(), str(path))
    side, channels, classes = classifier_shape(info, path)
    mode = "unit" if info.inputs[0].dtype == "float32" else "raw"  # quantized: the pixel bytes, their own contract
    prep = Preprocessing(mode=mode, side=side, channels=channels)
    return ModelSource("tflite", path, path.stem, None, prep, tuple(str(i) for i in range(classes)))


def classifier_shape(info, path: Path) -> tuple:
    """(side, channels, classes) of an image classifier: one input [1, side, side, 1 or 3] and one output whose
    last dimension counts the classes, every other dimension 1; sizes bounded, so that a corrupt shape is refused
    before anything is allocated for it."""
    inputs, outputs = list(info.inputs[0].shape), list(info.outputs[0].shape) if info.outputs else []
    if len(inputs) != 4 or inputs[0] != 1 or inputs[1] != inputs[2] or not 1 <= inputs[1] <= MAX_SIDE \
            or inputs[3] not in (1, 3):
        raise ModelError(f"'{path}' takes input {inputs[:8]}; mnd exports image models with a square "
                         f"[1, side, side, 1 or 3] input, side at most {MAX_SIDE}")
    if not outputs or any(dim != 1 for dim in outputs[:-1]) or not 1 <= outputs[-1] <= MAX_CLASSES:
        raise ModelError(f"'{path}' gives output {outputs[:8]}; mnd exports classifiers with a [1, classes] output "
                         f"(at most {MAX_CLASSES} classes)")
    return int(inputs[1]), int(inputs[3]), int(outputs[-1])


def check_labels_file(path: Path) -> None:
    if not path.is_file():
        raise ModelError(f"labels file '{path}' not found; give a text file with one class name per line")


def _read_labels(path: Path, classes: int) -> tuple:
    check_labels_file(path)
    try:
        lines = path.read_bytes().decode("utf-8").split("\n")
    except (OSError, UnicodeDecodeError) as reason:
        raise ModelError(f"labels file '{path}' cannot be read ({reason}); give a UTF-8 text file with one class "
                         "name per line") from None
    names = check_class_names((line.strip() for line in lines if line.strip()), f"labels file '{path}'",
                              "give one name per line, without control characters", error=ModelError)
    if len(names) != classes:
        raise ModelError(f"labels file '{path}' has {len(names)} names but the model has {classes} classes; "
                         "give one name per output, in output order")
    return names


def _cached_training_run(name: str, cache_dir: Path, epochs: int, seed: int, progress) -> ModelSource:
    """A training run of the built-in dataset under `cache_dir`, keyed by everything that decides its weights."""
    from mnd.pipeline.training.fit import RECIPE_VERSION, TrainConfig
    from mnd.pipeline.training.run import run_training

    run = cache_dir / f"{name}-{DEFAULT_DATASET}-e{epochs}-s{seed}-r{RECIPE_VERSION}"
    with _cache_lock(run) as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another export training the same run: wait for it, then reuse it
        status = _cached_status(run)
        if status == "complete":
            log.info("reusing the cached training run %s", run)
            return from_run_dir(run)
        if status is not None:
            log.info("the cached training run %s is %s, not complete: training it again", run, status)
            shutil.rmtree(run)
        log.info("training %s on %s for %d epochs (cached in %s for later exports)", name, DEFAULT_DATASET, epochs,
                 run)
        run_training(name, DEFAULT_DATASET, rundir.claim(run, force=False), TrainConfig(epochs=epochs, seed=seed),
                     cache_root=cache_dir, progress=progress)
        return from_run_dir(run)


def _cache_lock(run: Path):
    try:
        run.parent.mkdir(parents=True, exist_ok=True)
        return open(run.with_name(run.name + ".lock"), "w")
    except OSError as error:
        raise OutputError(f"cannot use the training cache '{run.parent}': {error.strerror or error}; make it writable "
                          "or point MND_CACHE at a writable directory") from None


def _cached_status(run: Path) -> str | None:
    """'complete', another state word ('interrupted', 'unreadable'), or None when nothing is cached."""
    if not run.exists():
        return None
    try:
        return str(json.loads((run / "manifest.json").read_text()).get("status", "unreadable"))
    except (OSError, ValueError, AttributeError):
        return "unreadable"
