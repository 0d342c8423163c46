"""`mnd train --init`: a backbone's starting weights from Keras Applications' ImageNet files or a local file.

The backbone is every layer before `global_pool`; its weighted layers are matched to the file's in order (our
layer names differ from Keras Applications': conv_0 <- conv1, dw_1 <- conv_dw_1, ...), every tensor's shape
checked, so a file of another family or alpha is refused before any training."""
import contextlib
import hashlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnd.base.errors import UsageError

log = logging.getLogger("mnd")

KERAS_APPLICATIONS = "https://storage.googleapis.com/tensorflow/keras-applications/"
V1_ALPHA_TEXT = {0.25: "2_5", 0.5: "5_0", 0.75: "7_5", 1.0: "1_0"}
V1_SIDES = (128, 160, 192, 224)
V2_SIDES = (96, 128, 160, 192, 224)
V3_PUBLISHED = {("v3_large", 0.75, False), ("v3_large", 1.0, False), ("v3_large", 1.0, True),
                ("v3_small", 0.75, False), ("v3_small", 1.0, False), ("v3_small", 1.0, True)}


@dataclass(frozen=True)
class InitWeights:
    """The backbone tensors to load, in order, and where they came from (for the manifest)."""

    layers: list  # [(layer name in the file, [arrays])]
    description: dict


def check_options(init: str, preprocess: str | None, channels: int) -> str:
    """The preprocessing to use; ImageNet-trained weights take RGB scaled x/127.5-1 ("signed") and nothing else."""
    if init == "none":
        return preprocess or "unit"
    if preprocess not in (None, "signed"):
        raise UsageError(f"--init weights expect --preprocess signed (x/127.5-1), not {preprocess}; leave "
                         "--preprocess out with --init")
    if channels != 3:
        raise UsageError("--init weights take 3-channel (RGB) input; pass --channels 3 (or --init none for "
                         "grayscale)")
    return "signed"


def imagenet_file(spec) -> tuple[str, str]:
    """(file name, URL) of Keras Applications' no-top ImageNet weights for `spec`'s family and alpha. Weights do not
    depend on the side; where Keras publishes none for this side the 224 file is used, as Keras Applications does."""
    family = getattr(spec, "family", "v1")
    if family == "v1":
        if spec.alpha not in V1_ALPHA_TEXT:
            raise UsageError(f"Keras Applications publishes no ImageNet weights for MobileNet v1 alpha {spec.alpha}; "
                             f"use alpha {', '.join(map(str, V1_ALPHA_TEXT))} or --init none")
        side = spec.side if spec.side in V1_SIDES else 224
        name = f"mobilenet_{V1_ALPHA_TEXT[spec.alpha]}_{side}_tf_no_top.h5"
        return name, KERAS_APPLICATIONS + "mobilenet/" + name
    if family == "v2":
        side = spec.side if spec.side in V2_SIDES else 224
        name = f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(spec.alpha)}_{side}_no_top.h5"
        return name, KERAS_APPLICATIONS + "mobilenet_v2/" + name
    if (family, float(spec.alpha), spec.minimalistic) not in V3_PUBLISHED:
        raise UsageError(f"Keras Applications publishes no ImageNet weights for {spec.name}; use alpha 0.75 or 1.0 "
                         "(minimalistic: 1.0 only) or --init none")
    kind = family.split("_")[1] + ("_minimalistic" if spec.minimalistic else "")
    name = f"weights_mobilenet_v3_{kind}_224_{float(spec.alpha)}_float_no_top_v2.h5"
    return name, KERAS_APPLICATIONS + "mobilenet_v3/" + name


def resolve(init: str, spec) -> InitWeights | None:
    """'none' -> None; 'imagenet' -> Keras Applications' file (downloaded into keras' cache once); else a path."""
    if init == "none":
        return None
    if init == "imagenet":
        import keras

        name, url = imagenet_file(spec)
        log.info("ImageNet weights: %s (downloaded once into keras' cache, ~/.keras/models or $KERAS_HOME)", url)
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # keras prints its progress on stdout, mnd's JSON channel
                path = Path(keras.utils.get_file(name, url, cache_subdir="models"))
        except Exception as error:  # keras wraps every network failure in a plain Exception: "... -- reason"
            reason = str(error).splitlines()[0].rsplit(" -- ", 1)[-1][:120]
            raise UsageError(f"cannot download ImageNet weights ({reason}): download {name} from {url} and pass "
                             f"--init PATH/TO/{name}") from None
        return _read(path, {"source": "imagenet", "url": url, "path": str(path), "sha256": _sha256(path)})
    path = Path(init).expanduser()
    if not path.is_file():
        raise UsageError(f"--init '{init}' is not a file; pass imagenet, none, or a weights file "
                         "(a Keras Applications *_no_top.h5 or a .keras model)")
    return _read(path, {"source": "file", "path": str(path.resolve()), "sha256": _sha256(path)})


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read(path: Path, description: dict) -> InitWeights:
    if path.suffix == ".keras":
        return InitWeights(_keras_model_layers(path), description)
    if path.name.endswith(".weights.h5"):
        raise UsageError(f"--init '{path}' is a Keras 3 weights file, which holds no layer structure to match; pass "
                         "the .keras model it was saved from (or a Keras Applications *_no_top.h5)")
    if path.suffix != ".h5":
        raise UsageError(f"--init '{path}' is not a .h5 or .keras file; pass a Keras Applications *_no_top.h5 or a "
                         ".keras model")
    return InitWeights(_legacy_h5_layers(path), description)


def _legacy_h5_layers(path: Path) -> list:
    """A Keras 2 weights file (Keras Applications' format), read as `mnd export --arch` reads one."""
    import h5py

    from mnd.base.errors import ModelError
    from mnd.pipeline.sources.keras_file import legacy_weights

    try:
        with h5py.File(path, "r") as file:
            return legacy_weights(file)
    except (OSError, KeyError, ModelError) as error:
        raise UsageError(f"--init '{path}' is not a Keras weights file with layer names ({error}); pass a Keras "
                         "Applications *_no_top.h5 or a .keras model") from None


def _keras_model_layers(path: Path) -> list:
    """A saved Keras model: its weighted layers before `global_pool` when it has one (an mnd run), else all."""
    import keras

    try:
        model = keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as error:
        raise UsageError(f"cannot load --init '{path}' as a Keras model ({str(error).splitlines()[0][:160]}); pass "
                         "a .keras model or a Keras Applications *_no_top.h5") from None
    return [(layer.name, [np.asarray(w) for w in layer.get_weights()]) for layer in backbone_layers(model)]


def backbone_layers(model) -> list:
    """The weighted layers before `global_pool` (all of them when there is none), in the model's order."""
    names = [layer.name for layer in model.layers]
    end = names.index("global_pool") if "global_pool" in names else len(names)
    return [layer for layer in model.layers[:end] if layer.weights]


def load_into(model, spec, init: InitWeights) -> int:
    """Set the backbone's weights from `init`, each tensor's shape checked first; returns the layers loaded."""
    ours = backbone_layers(model)
    mismatch = _mismatch(ours, init.layers)
    if mismatch:
        raise UsageError(f"--init {init.description['path']} does not fit {spec.name}: {mismatch}{_guess(init.layers)};"
                         f" use weights of the same family and alpha ({spec.name.rsplit('_', 1)[0]})")
    for layer, (_, arrays) in zip(ours, init.layers):
        layer.set_weights(arrays)
    return len(ours)


def _mismatch(ours: list, theirs: list) -> str:
    for layer, (name, arrays) in zip(ours, theirs):
        want = [tuple(w.shape) for w in layer.weights]
        got = [tuple(a.shape) for a in arrays]
        if want != got:
            return f"the file's layer {name} holds {got}, the backbone's {layer.name} needs {want}"
    if len(ours) != len(theirs):
        return f"the file has {len(theirs)} weighted backbone layers, the model {len(ours)}"
    return ""


def _guess(theirs: list) -> str:
    """For Keras Applications' v1 files: the alpha the file was made for (its first conv has 32 x alpha filters)."""
    if theirs and theirs[0][0] == "conv1" and any(name.startswith("conv_dw_") for name, _ in theirs):
        return f" (the file is MobileNet v1 alpha {theirs[0][1][0].shape[-1] / 32:g})"
    return ""
