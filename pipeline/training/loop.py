"""Our training loop under a tf.distribute strategy (default, MirroredStrategy, MultiWorkerMirroredStrategy): Keras 3's
model.fit under MultiWorkerMirroredStrategy has open upstream issues (keras-team/keras#20585), a step under
strategy.run does not. Each input pipeline reads its share of every global batch from a TrainingData; the loss is
the per-example cross-entropy x the example's weight summed over the global batch / the global batch, plus the
model's weight decay scaled per replica, so n replicas take the steps one replica takes on the same global batch."""
import time
from dataclasses import dataclass, replace

from mnd.base import interrupts
from mnd.pipeline.model.architecture import ModelSpec
from mnd.pipeline.training import fit
from mnd.pipeline.training.fit import TrainConfig, phases, schedule, set_backbone_trainable
from mnd.pipeline.training.training_data import TrainingData, check_global_batch

VALIDATION_BATCH = 256


@dataclass
class Resume:
    """Where an interrupted run stopped: the epochs it completed and its checkpoint (training.checkpoints)."""
    epochs_completed: int
    checkpoints: object = None


@dataclass
class Hooks:
    on_built: object = None      # on_built(model): once the model is built, before any step
    on_phase: object = None      # on_phase(index, phase): as each phase starts
    on_epoch_end: object = None  # on_epoch_end(model, record, optimizer): after each completed epoch
    progress: object = None      # progress(epoch, epochs, steps) -> object with update(n, loss) and close(val_accuracy)


def fit_distributed(spec, data, config: TrainConfig, strategy, *, init=None, hooks: Hooks | None = None,
                    resume: Resume | None = None, estimate_statistics=None):
    """Train `spec` on `data` (a TrainingData) under `strategy` and return (model, history). `config.batch_size` is
    the global batch and `config.learning_rate` the peak rate for it (the caller scales both with the replicas).
    `init` (model.init_weights.InitWeights) makes training two-phase (fit.phases). `resume` continues from a
    checkpoint; `estimate_statistics(model)` runs when there is nothing to train (epochs 0, from scratch)."""
    import keras
    import tensorflow as tf

    from mnd.pipeline.model.keras_builder import build_model

    hooks = hooks or Hooks()
    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()
    with strategy.scope():
        model = build_model(spec, bn_momentum=config.bn_momentum, weight_decay=config.weight_decay)
    if init is not None and resume is None:  # a resumed run's checkpoint holds every weight
        from mnd.pipeline.model.init_weights import load_into

        load_into(model, spec, init)
    if hooks.on_built:
        hooks.on_built(model)
    if config.epochs == 0 and init is None and estimate_statistics:
        estimate_statistics(model)
    steps = data.train_samples // config.batch_size
    done = resume.epochs_completed if resume else 0
    history, epoch, evaluate = [], 0, validation(model)
    with interrupts.deferred():  # a signal stops training between steps, never inside one or a checkpoint
        for index, phase in enumerate(phases(config, init is not None)):
            first, epoch = epoch, epoch + phase["epochs"]
            if phase["epochs"] == 0 or epoch <= done:
                continue
            set_backbone_trainable(model, phase["frozen"])
            with strategy.scope():
                optimizer = keras.optimizers.RMSprop(
                    schedule(replace(config, epochs=phase["epochs"], learning_rate=phase["learning_rate"]), steps),
                    rho=0.9, momentum=0.9)
                optimizer.build(model.trainable_variables)
            if resume and first <= done:
                resume.checkpoints.restore(model, optimizer if first < done else None)
            if hooks.on_phase:
                hooks.on_phase(index, phase)
            step = _train_step(model, optimizer, strategy, config.batch_size)
            for number in range(max(first, done) + 1, epoch + 1):
                _synchronize_batch_norm(model, strategy.num_replicas_in_sync > 1)  # as the step is traced
                record = _train_epoch(step, evaluate, strategy, data, number, config, steps, hooks.progress)
                _synchronize_batch_norm(model, False)
                history.append(record)
                if hooks.on_epoch_end:
                    hooks.on_epoch_end(model, record, optimizer)
                interrupts.raise_if_requested()
    set_backbone_trainable(model, "nothing")
    return model, history


def _train_step(model, optimizer, strategy, global_batch: int):
    import keras
    import tensorflow as tf

    def replica_step(x, y, weight):
        with tf.GradientTape() as tape:
            probabilities = model(x, training=True)
            per_example = keras.losses.sparse_categorical_crossentropy(y, probabilities) * weight
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
            if model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    @tf.function
    def step(iterator):
        losses = strategy.run(replica_step, args=next(iterator))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

    return step


def _synchronize_batch_norm(model, synchronized: bool) -> None:
    """With several replicas, batch norm normalizes with the global batch's statistics (summed across replicas at
    each step), so n replicas compute what one replica computes on the same global batch and every replica
    updates the moving statistics alike. Reset before saving: the saved model is a plain one."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = synchronized


def _epoch_batches(strategy, data, epoch: int, global_batch: int):
    """Each input pipeline (one per worker) reads its share of every global batch; a worker with several replicas
    hands them consecutive equal parts of its share (the order the strategy feeds its replicas in)."""
    def pipeline(context):
        share = data.train_batches(epoch, global_batch, context.input_pipeline_id, context.num_input_pipelines)
        local = context.num_replicas_in_sync // context.num_input_pipelines
        if local == 1:
            return share
        return share.unbatch().batch(global_batch // context.num_replicas_in_sync, drop_remainder=True)

    return strategy.distribute_datasets_from_function(pipeline)


def _train_epoch(step, evaluate, strategy, data, epoch, config, steps, progress) -> dict:
    started = time.monotonic()
    bar = progress(epoch, config.epochs, steps) if progress else None
    iterator = iter(_epoch_batches(strategy, data, epoch, config.batch_size))
    losses = []
    for _ in range(steps):
        interrupts.raise_if_requested()
        losses.append(float(step(iterator)))
        if bar:
            bar.update(1, loss=losses[-1])
    interrupts.raise_if_requested()
    val_loss, val_accuracy = evaluate(data)
    if bar:
        bar.close(val_accuracy=val_accuracy)
    return {"epoch": epoch, "loss": sum(losses) / len(losses), "val_loss": val_loss, "val_accuracy": val_accuracy,
            "seconds": round(time.monotonic() - started, 2), "step_losses": [round(loss, 7) for loss in losses]}


def validation(model):
    """evaluate(data) -> (loss, accuracy) on every validation example, on this worker alone (every worker gets the
    same figures): the loss is the mean cross-entropy plus the weight decay, as Keras' evaluate reports it."""
    import keras
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def sums(x, y):
        probabilities = model(x, training=False)
        cross_entropy = tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(y, probabilities))
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(probabilities, -1, output_type=tf.int32), y), tf.float32))
        return cross_entropy, correct

    def evaluate(data) -> tuple[float, float]:
        total_loss = total_correct = 0.0
        count = 0
        for x, y in data.validation_batches(VALIDATION_BATCH):
            loss, correct = sums(x, y)
            total_loss, total_correct, count = total_loss + float(loss), total_correct + float(correct), count + len(y)
        decay = float(tf.add_n(model.losses)) if model.losses else 0.0
        return total_loss / max(count, 1) + decay, total_correct / max(count, 1)

    return evaluate


def train(spec: ModelSpec, prep, data: TrainingData, config: TrainConfig,
          on_epoch_end=None, progress=None, on_built=None, init=None, on_phase=None):
    """Fit on `data` with the default strategy and return (model, history) (fit_distributed does the work). `init`
    (model.init_weights.InitWeights) sets the backbone's starting weights and makes training two-phase (see
    `phases`); `on_phase(index, phase)` runs as each phase starts; `on_built(model)` once the model is built, before
    any step; `on_epoch_end(model, record)` after each completed epoch; `progress(epoch, total, steps)` returns a
    callback object with update(n, loss) and close()."""
    import tensorflow as tf

    config = replace(config, batch_size=check_global_batch(config.batch_size, 1, data.train_samples))
    epoch_end = (lambda model, record, _optimizer: on_epoch_end(model, record)) if on_epoch_end else None
    hooks = Hooks(on_built=on_built, on_phase=on_phase, progress=progress, on_epoch_end=epoch_end)
    estimate = lambda model: fit.estimate_batch_norm_statistics(model, fit.first_examples(data))  # noqa: E731
    return fit_distributed(spec, data, config, tf.distribute.get_strategy(), init=init, hooks=hooks,
                           estimate_statistics=estimate)
