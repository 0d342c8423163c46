"""The model of each sweep variant: random weights for a cost-only sweep, or a training run on the dataset."""
import logging
from pathlib import Path

import numpy as np

from mnd.pipeline import rundir
from mnd.pipeline.data.preprocess import Preprocessing
from mnd.pipeline.sources.resolve import ModelSource, from_run_dir

log = logging.getLogger("mnd")
LOGIT_SPREAD = 4.0


def random_source(spec, seed: int) -> ModelSource:
    """The variant with seeded random weights, scaled (He for convolutions, LeCun for the classifier) so that
    activations keep their spread through all 28 layers: Keras' default initializers let them shrink towards zero,
    and the int8 softmax input would then have a scale too small for the C engine's fixed-point exponent."""
    import keras

    from mnd.pipeline.model.keras_builder import build_model

    keras.utils.set_random_seed(seed)
    model = build_model(spec)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense)):
            kernel = layer.weights[0]
            depthwise = isinstance(layer, keras.layers.DepthwiseConv2D)
            fan_in = int(np.prod(kernel.shape[:2] if depthwise else kernel.shape[:-1]))
            gain = 1.0 if isinstance(layer, keras.layers.Dense) else 2.0
            kernel.assign(rng.normal(0.0, np.sqrt(gain / fan_in), kernel.shape).astype(np.float32))
    prep = Preprocessing(mode="unit", side=spec.side, channels=spec.channels)
    _spread_logits(model, prep, rng)
    return ModelSource("keras", Path(f"random weights, seed {seed}"), spec.name, spec.alpha, prep,
                       tuple(str(i) for i in range(spec.classes)), loaded=model)


def _spread_logits(model, prep: Preprocessing, rng: np.random.Generator) -> None:
    """Scale the classifier so that its logits on random inputs spread over LOGIT_SPREAD (standard deviation):
    near-uniform int8 softmax outputs over many classes stop LiteRT's reference SOFTMAX kernel."""
    import keras

    classifier = model.get_layer("logits")
    pixels = rng.integers(0, 256, (4, prep.side, prep.side, prep.channels), dtype=np.uint8)
    logits = np.asarray(keras.Model(model.inputs, classifier.output)(prep.apply(pixels), training=False))
    kernel = classifier.weights[0]
    kernel.assign(np.asarray(kernel) * (LOGIT_SPREAD / max(float(np.std(logits)), 1e-6)))


def trained_source(spec, dataset: str, epochs: int, seed: int, run: Path, cache_root: Path,
                   progress=None) -> ModelSource:
    """The variant trained on `dataset` into the run directory `run` (decoded images cached under `cache_root`); a
    complete run there (from an earlier, interrupted sweep) is reused."""
    from mnd.pipeline.training.fit import TrainConfig
    from mnd.pipeline.training.run import run_training

    if _complete(run):
        log.info("reusing the training run %s", run)
        return from_run_dir(run)
    run_training(spec.name, dataset, rundir.claim(run, force=True), TrainConfig(epochs=epochs, seed=seed),
                 cache_root=cache_root, activation=spec.activation, progress=progress)
    return from_run_dir(run)


def _complete(run: Path) -> bool:
    import json

    try:
        return json.loads((run / "manifest.json").read_text()).get("status") == "complete"
    except (OSError, ValueError, AttributeError):
        return False
