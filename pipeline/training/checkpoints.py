"""Checkpoints of a run (tf.train.Checkpoint of the model, the optimizer and the epoch, kept by a CheckpointManager
in the run directory's checkpoints/ after each epoch) and the resume of an interrupted run from the last one.

Under MultiWorkerMirroredStrategy every worker takes part in saving; the chief writes the real checkpoint, the
others write to a temporary folder they delete (TensorFlow's multi-worker pattern)."""
import shutil
import tempfile
from pathlib import Path

FOLDER = "checkpoints"


class RunCheckpoints:
    def __init__(self, run_folder: Path, chief: bool = True):
        self.source = Path(run_folder) / FOLDER  # what a resumed run restores, whichever worker this is
        self.folder = self.source if chief else Path(tempfile.mkdtemp(prefix="mnd-worker-checkpoints-"))
        self.chief = chief

    def save(self, model, optimizer, epoch: int) -> None:
        import tensorflow as tf

        checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, epoch=tf.Variable(epoch, dtype=tf.int64))
        tf.train.CheckpointManager(checkpoint, self.folder, max_to_keep=1).save(checkpoint_number=epoch)

    def restore(self, model, optimizer=None) -> int:
        """Load the latest checkpoint into `model` (and `optimizer`, when the run goes on in the same phase; a new
        phase starts a new optimizer) and return its epoch."""
        import tensorflow as tf

        path = latest(self.source)
        epoch = tf.Variable(0, dtype=tf.int64)
        objects = {"model": model, "epoch": epoch, **({"optimizer": optimizer} if optimizer is not None else {})}
        status = tf.train.Checkpoint(**objects).restore(path)
        (status.assert_existing_objects_matched() if optimizer is not None else status.expect_partial())
        return int(epoch.numpy())

    def close(self) -> None:
        if not self.chief:
            shutil.rmtree(self.folder, ignore_errors=True)


def latest(folder: Path) -> str | None:
    import tensorflow as tf

    return tf.train.latest_checkpoint(str(folder)) if Path(folder).is_dir() else None
