"""Train a MobileNet (V1, V2, V3) on a TrainingData's batches: RMSprop, the augmentation and class weights the data
applies, no decay on depthwise; the family's dropout (recipe_of records what each family's model uses)."""
import logging
from dataclasses import dataclass

from mnd.pipeline.training.training_data import TrainingData

log = logging.getLogger("mnd")
BATCH_NORM_ESTIMATION_SAMPLES = 256
BATCH_NORM_FROZEN = "the backbone's batch norm (inference mode, the --init statistics)"
RECIPE_VERSION = 3  # part of the training cache's key: bump when the same TrainConfig would give other weights


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 2e-3
    warmup_epochs: int = 2
    weight_decay: float = 4e-5
    bn_momentum: float = 0.9
    max_shift: float = 0.08  # random translation, as a fraction of the side
    seed: int = 0
    frozen_epochs: int | None = None  # with --init: the first phase's epochs (None: max(1, epochs // 3))
    fine_tune_lr_factor: float = 0.01  # with --init: the second phase's peak learning rate, x learning_rate
    augment: tuple = ("shift",)  # training.augment.OPTIONS applied (--augment)
    class_weights: str = "none"  # training.class_weights.CHOICES (--class-weights)

    def to_dict(self) -> dict:
        return {"optimizer": "RMSprop(rho=0.9, momentum=0.9)", "schedule": "linear warm-up, cosine decay",
                **self.__dict__}


def schedule(config: TrainConfig, steps_per_epoch: int):
    import keras

    total = config.epochs * steps_per_epoch
    warmup = min(config.warmup_epochs * steps_per_epoch, total // 2)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.learning_rate / 10, decay_steps=max(total - warmup, 1), alpha=0.0,
        warmup_target=config.learning_rate, warmup_steps=warmup)


def phases(config: TrainConfig, with_init: bool) -> list[dict]:
    """From scratch: one phase, everything trained. From --init weights: the new head alone with the backbone
    frozen (its BatchNorm layers in inference mode), then every weight but the backbone's BatchNorm layers (kept in
    inference mode, as Keras' fine-tuning guide advises: small batches would replace ImageNet's statistics) at
    fine_tune_lr_factor x the rate."""
    if not with_init:
        return [{"epochs": config.epochs, "learning_rate": config.learning_rate, "frozen": "nothing"}]
    frozen = max(1, config.epochs // 3) if config.frozen_epochs is None else config.frozen_epochs
    frozen = min(frozen, config.epochs)
    return [{"epochs": frozen, "learning_rate": config.learning_rate,
             "frozen": "backbone (every layer before global_pool; BatchNorm in inference mode)"},
            {"epochs": config.epochs - frozen, "learning_rate": config.learning_rate * config.fine_tune_lr_factor,
             "frozen": BATCH_NORM_FROZEN}]


def set_backbone_trainable(model, frozen: str) -> None:
    """Keras 3: a non-trainable BatchNormalization layer also normalizes with its moving statistics."""
    import keras

    for layer in model.layers:
        if layer.name == "global_pool":
            break
        is_norm = isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = frozen == "nothing" or (frozen == BATCH_NORM_FROZEN and not is_norm)


def first_examples(data: TrainingData):
    """The model input of the first BATCH_NORM_ESTIMATION_SAMPLES examples of epoch 0, as the loop sees them."""
    return next(iter(data.train_batches(0, min(BATCH_NORM_ESTIMATION_SAMPLES, data.train_samples))))[0]


def recipe_of(model) -> dict:
    """What training does that depends on the family (V1, V2, V3), read from the model as built: the dropout before
    the classifier, which weighted layers carry the L2 weight decay and which do not, by class. The loss has no label
    smoothing for any family; the optimizer and schedule are TrainConfig's, the same for every family."""
    import keras

    weighted = [layer for layer in model.layers if getattr(layer, "kernel", None) is not None]
    decayed = [layer for layer in weighted if getattr(layer, "kernel_regularizer", None) is not None]
    undecayed = {}
    for layer in weighted:
        if layer not in decayed:
            undecayed[type(layer).__name__] = undecayed.get(type(layer).__name__, 0) + 1
    dropout = [float(layer.rate) for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    return {"loss": "sparse categorical cross-entropy", "label_smoothing": 0.0,
            "dropout_before_classifier": dropout[0] if dropout else 0.0,
            "weight_decay_layers": len(decayed), "layers_without_weight_decay": undecayed}


def estimate_batch_norm_statistics(model, x) -> None:
    """An untrained model's BatchNorm statistics from one pass over training images, weights untouched.

    With the initial statistics (mean 0, variance 1) random weights shrink the activations layer by layer to about
    1e-9 at the classifier, a range no int8 runtime can represent (TFLite-Micro aborts); normalized, the untrained
    model quantizes like a trained one, which is what pipeline checks and benchmarks of `--train-epochs 0` need."""
    import keras

    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in norms]
    for layer in norms:
        layer.momentum = 0.0  # the moving statistics become this batch's statistics
    model(x, training=True)
    for layer, momentum in zip(norms, momenta):
        layer.momentum = momentum
