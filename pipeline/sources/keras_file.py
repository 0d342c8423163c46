"""Load a user's Keras model: a .keras archive, a legacy Keras 2 .h5 file, or a SavedModel directory.

Untrusted files are refused before anything is deserialized when they hold a Lambda layer (its
marshalled Python bytecode would run on load). Keras 2 configs that Keras 3 rejects are rewritten
(see LEGACY_ONLY_KEYS) in a temporary copy; the user's file is never modified. SavedModels go through
saved_model.py: an op allowlist checked before anything loads them, then loading only in a child process.
"""
import json
import logging
import re
import zipfile
from pathlib import Path

import keras
import numpy as np

from mnd.base.errors import ModelError
from mnd.base.tempdirs import temporary_directory

log = logging.getLogger("mnd")

ARCH_FLAG = "--arch mobilenet_v1_025_96"
# Keras >= 2.4 writes Conv's `groups` into every Conv subclass's config; Keras 3 keeps it on Conv1D/2D/3D
# only and refuses it elsewhere. Dropped when it has the only value these layers ever supported.
_NO_GROUPS = ("DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
              "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")
LEGACY_ONLY_KEYS = {name: {"groups": 1} for name in _NO_GROUPS}
# Keras 2 recorded raw TensorFlow calls (tf.nn.relu6(x), x[:, 1]) as these; Keras 3 has no such layers.
TF_OP_LAYERS = ("TFOpLambda", "SlicingOpLambda")
OPS_IN_H5 = "Only input tensors may be passed as positional arguments"  # Keras 3 reloading its own .h5 of x + 3.0
LAMBDA_REFUSAL = ("contains a Lambda layer, which carries arbitrary Python code that would run on load; mnd "
                  "refuses it — rebuild the model without Lambda layers (built-in layers only) and save it again")


def load_keras_model(path: Path) -> keras.Model:
    """The model in `path`, checked to take a square [batch, side, side, 1 or 3] image and give one output."""
    path = Path(path)
    if path.is_dir():
        if not (path / "saved_model.pb").is_file():
            raise ModelError(f"'{path}' is a directory without saved_model.pb; give a .keras or .h5 file, "
                             "a SavedModel directory or an 'mnd train' run directory")
        from mnd.pipeline.sources.saved_model import load_saved_model

        model = load_saved_model(path)  # checked op by op, loaded only in a child process
    elif not path.is_file():
        raise ModelError(f"model file '{path}' not found")
    elif path.suffix == ".keras":
        model = _load_keras_archive(path)
    elif path.suffix in (".h5", ".hdf5"):
        model = _load_legacy_h5(path)
    else:
        raise ModelError(f"cannot load '{path}': supported are .keras, .h5 (Keras 2) and SavedModel directories")
    check_image_model(model, path)
    return model


def check_image_model(model: keras.Model, path: Path) -> None:
    shapes = model.input_shape if isinstance(model.input_shape, list) else [model.input_shape]
    shape = tuple(shapes[0]) if len(shapes) == 1 else tuple(shapes)
    if len(shapes) != 1 or len(shape) != 4 or shape[1] is None or shape[1] != shape[2] or shape[3] not in (1, 3):
        raise ModelError(f"'{path}' takes input {shape}; mnd exports image models with a square "
                         "[batch, side, side, 1 or 3] input")
    if len(model.outputs) != 1:
        raise ModelError(f"'{path}' has {len(model.outputs)} outputs; mnd exports classifiers with one output")


def _corrupt(path: Path, error: Exception) -> ModelError:
    lines = str(error).strip().splitlines() or [type(error).__name__]
    return ModelError(f"cannot load '{path}': {lines[0][:200]} — is the file complete?")


def _class_names(node):
    """Every class_name in a (nested) Keras config, whatever the nesting (Sequential in Functional, wrappers)."""
    return {item["class_name"] for item in _dicts(node) if isinstance(item.get("class_name"), str)}

def _refuse_unsafe(config, path: Path) -> None:
    names = _class_names(config)
    if "Lambda" in names:
        raise ModelError(f"'{path}' {LAMBDA_REFUSAL}")
    tf_ops = sorted(names.intersection(TF_OP_LAYERS))
    if tf_ops:
        raise ModelError(f"'{path}' contains {', '.join(tf_ops)} layers (raw TensorFlow calls recorded by Keras 2), "
                         "which Keras 3 cannot rebuild; rebuild the model with Keras layers only and save it again")


def _load_keras_archive(path: Path) -> keras.Model:
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except Exception as error:  # BadZipFile, KeyError, JSON errors: all mean a damaged archive
        raise _corrupt(path, error) from None
    _refuse_unsafe(config, path)
    try:
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # keras raises many types for damaged archives
        if "safe_mode" in str(error):  # a lambda hidden somewhere the scan above does not look
            raise ModelError(f"'{path}' {LAMBDA_REFUSAL}") from None
        raise _corrupt(path, error) from None


def _read_h5_config(path: Path):
    import h5py

    try:
        with h5py.File(path, "r") as file:
            raw = file.attrs.get("model_config")
            is_keras3_weights = "layers" in file and "vars" in file
    except Exception as error:  # OSError for truncated or non-HDF5 files
        raise _corrupt(path, error) from None
    if raw is None:
        kind = "a Keras 3 weights file" if is_keras3_weights else "weights only"
        raise ModelError(f"'{path}' holds {kind}, no architecture; give the architecture with {ARCH_FLAG} "
                         "(the registry name it was trained as) so mnd builds the model and loads these weights")
    try:
        return json.loads(raw.decode("utf-8") if hasattr(raw, "decode") else raw)
    except ValueError as error:
        raise _corrupt(path, error) from None


def patch_legacy_config(config) -> list:
    """Drop the Keras 2-only keys of LEGACY_ONLY_KEYS in place; returns 'layer.key' for each one dropped."""
    dropped = []
    for node in _dicts(config):
        legacy = LEGACY_ONLY_KEYS.get(node.get("class_name"))
        layer_config = node.get("config")
        if not legacy or not isinstance(layer_config, dict):
            continue
        for key, only_value in legacy.items():
            if key in layer_config:
                if layer_config[key] != only_value:
                    raise ModelError(f"layer '{layer_config.get('name')}' ({node['class_name']}) has {key}="
                                     f"{layer_config[key]}, which Keras 3 cannot express; rebuild it without {key}")
                del layer_config[key]
                dropped.append(f"{layer_config.get('name')}.{key}")
    return dropped


def _dicts(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _dicts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _dicts(value)


def _load_legacy_h5(path: Path) -> keras.Model:
    import h5py

    config = _read_h5_config(path)
    _refuse_unsafe(config, path)
    dropped = patch_legacy_config(config)
    try:
        if not dropped:
            return keras.models.load_model(path, compile=False, safe_mode=True)
        log.info("%s: dropped Keras 2-only config keys Keras 3 rejects: %s", path.name,
                 ", ".join(sorted({item.split(".")[-1] for item in dropped})))
        with temporary_directory("mnd-h5-") as tmp:
            patched = Path(tmp) / "model.h5"
            with h5py.File(path, "r") as source, h5py.File(patched, "w") as target:
                for key, value in source.attrs.items():
                    if key != "training_config":
                        target.attrs[key] = value
                target.attrs["model_config"] = json.dumps(config)
                source.copy(source["model_weights"], target, "model_weights")
            return keras.models.load_model(patched, compile=False, safe_mode=True)
    except ModelError:
        raise
    except Exception as error:  # h5py/keras raise many types for damaged files
        if OPS_IN_H5 in str(error):
            raise ModelError(f"'{path}' has keras.ops arithmetic between its layers (MobileNetV3's hard-sigmoid: "
                             "x + 3), which Keras 3's own .h5 loader cannot rebuild; save the model as .keras "
                             "(model.save('m.keras')) or as a SavedModel (model.export('dir'))") from None
        raise _corrupt(path, error) from None


def load_weights_into(path: Path, arch_name: str, classes: int) -> keras.Model:
    """Registry architecture `arch_name` with the weights of a weights-only .h5, matched layer by layer in order."""
    import h5py

    from mnd.pipeline.model.keras_builder import create_model

    path = Path(path)
    model = create_model(arch_name, classes=classes)
    try:
        with h5py.File(path, "r") as file:
            stored = _keras3_weights(file, model) if "layers" in file and "vars" in file \
                else [(f"'{name}'", arrays) for name, arrays in legacy_weights(file)]
    except ModelError:
        raise
    except Exception as error:  # OSError for truncated files, KeyError for missing groups
        raise _corrupt(path, error) from None
    targets = [layer for layer in model.layers if layer.weights]
    for index, layer in enumerate(targets):
        expected = [tuple(weight.shape) for weight in layer.weights]
        name, arrays = stored[index] if index < len(stored) else ("(none: the file ends here)", [])
        if [array.shape for array in arrays] != expected:
            raise ModelError(f"weights in '{path}' do not fit {arch_name}: first mismatch at layer '{layer.name}' "
                             f"(shapes {expected}) vs the file's layer {name} (shapes "
                             f"{[array.shape for array in arrays]}); check --arch and --classes")
    if len(stored) > len(targets):
        raise ModelError(f"weights in '{path}' do not fit {arch_name}: the file holds {len(stored)} layers with "
                         f"weights, the model {len(targets)} (first extra: {stored[len(targets)][0]}); check --arch")
    for layer, (_, arrays) in zip(targets, stored):
        layer.set_weights(arrays)
    return model


def legacy_weights(file) -> list:
    """[(layer name, [arrays])] of the layers with weights in a Keras 2 layout (Keras Applications' files too): attrs
    layer_names (model order) and, per layer group, weight_names. `file`: an open h5py.File."""
    group = file["model_weights"] if "model_weights" in file else file
    if "layer_names" not in group.attrs:
        raise ModelError(f"'{file.filename}' holds no Keras weights (no layer_names and no layers/ group)")
    stored = []
    for raw in group.attrs["layer_names"]:
        name = raw.decode() if hasattr(raw, "decode") else str(raw)
        weight_names = [w.decode() if hasattr(w, "decode") else str(w) for w in group[name].attrs["weight_names"]]
        if weight_names:
            stored.append((name, [np.asarray(group[name][w]) for w in weight_names]))
    return stored


def _keras3_weights(file, model: keras.Model) -> list:
    """Keras 3 layout: layers/<snake_case class>_<n>/vars/<i>, numbered per class in model order."""
    seen, consumed, stored = {}, set(), []
    for layer in model.layers:
        base = _snake_case(type(layer).__name__)
        count = seen[base] = seen.get(base, -1) + 1
        key = base if count == 0 else f"{base}_{count}"
        consumed.add(key)
        if layer.weights:
            group = file.get(f"layers/{key}/vars")
            arrays = [np.asarray(group[str(i)]) for i in range(len(group))] if group is not None else []
            label = f"'{group.attrs.get('name', key)}' ({key})" if group is not None else f"layers/{key} (absent)"
            stored.append((label, arrays))
    extra = [key for key in file["layers"] if key not in consumed and len(file[f"layers/{key}"].get("vars", {}))]
    return stored + [(f"'{key}'", []) for key in extra]

def _snake_case(name: str) -> str:
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)).lower()


def classes_in_weights(path: Path) -> int | None:
    """The output count of a Keras 2 weights file (its last layer's bias length), or None when unknown."""
    import h5py

    try:
        with h5py.File(path, "r") as file:
            stored = legacy_weights(file)
    except Exception:  # Keras 3 layout or unreadable: the caller asks for --classes
        return None
    return int(stored[-1][1][-1].shape[-1]) if stored else None
