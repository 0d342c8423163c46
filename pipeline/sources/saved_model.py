"""A SavedModel directory as a Keras model, without running TensorFlow's SavedModel loader in this process.

1. saved_model_guard reads saved_model.pb and refuses any op outside its allowlist (file I/O, Python, printing);
2. a child process loads exactly the checked bytes (next to links to the variables) and freezes serving_default
   into one GraphDef with the weights as constants (saved_model_child);
3. this process checks the frozen graph against the inference allowlist again and wraps it in a Keras layer.
"""
import json
import logging
import re
import signal
import subprocess
import sys
from pathlib import Path

import keras

from mnd.base.errors import ModelError
from mnd.base.tempdirs import temporary_directory
from mnd.pipeline.sources.saved_model_guard import check_graph_def, check_saved_model

log = logging.getLogger("mnd")
GRAPH_FILES = ("saved_model.pb", "saved_model.pbtxt", "saved_model.cpb")  # only the checked bytes go to the child
CHILD_TIMEOUT_S = 900


class FrozenGraph(keras.layers.Layer):
    """A frozen TensorFlow graph (weights as constants) called as one inference-only Keras layer."""

    def __init__(self, function, **kwargs):
        super().__init__(trainable=False, **kwargs)
        self.function = function

    def call(self, inputs):
        return self.function(inputs)


def load_saved_model(path: Path) -> keras.Model:
    checked = check_saved_model(path)
    with temporary_directory("mnd-savedmodel-") as tmp:
        job = Path(tmp)
        _stage(path, checked, job / "model")
        info = _freeze_in_child(path, job)
        graph_def = _read_graph_def(job / "frozen.pb")
    check_graph_def(graph_def, path)
    inputs, outputs = info["inputs"], info["outputs"]
    if len(inputs) != 1:
        raise ModelError(f"'{path}' serving_default takes {len(inputs)} inputs; mnd exports models with one "
                         "image input")
    if len(outputs) != 1:
        raise ModelError(f"'{path}' serving_default returns {len(outputs)} outputs "
                         f"({', '.join(output['key'] for output in outputs)}); mnd exports classifiers with one output")
    layer = FrozenGraph(_graph_function(graph_def, inputs[0]["tensor"], outputs[0]["tensor"]), name="saved_model")
    image = keras.Input(shape=tuple(inputs[0]["shape"][1:]), dtype=inputs[0]["dtype"], name=inputs[0]["name"])
    return keras.Model(image, layer(image), name=re.sub(r"\W", "_", path.name))


def _stage(path: Path, checked: bytes, model_dir: Path) -> None:
    """The checked graph bytes, never the file again (it could change meanwhile), beside links to the rest."""
    model_dir.mkdir()
    (model_dir / "saved_model.pb").write_bytes(checked)
    for entry in path.iterdir():
        if entry.name not in GRAPH_FILES:
            (model_dir / entry.name).symlink_to(entry.resolve())


def _freeze_in_child(path: Path, job: Path) -> dict:
    log.info("loading the SavedModel %s in a child process", path)
    try:
        process = subprocess.run([sys.executable, "-m", "mnd.pipeline.sources.saved_model_child", str(job)],
                                 capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise ModelError(f"cannot load '{path}': TensorFlow's SavedModel loader did not finish within "
                         f"{CHILD_TIMEOUT_S} s") from None
    if process.returncode == 3 and (job / "error.txt").is_file():
        reason = (job / "error.txt").read_text().replace(str(job / "model"), str(path))
        raise ModelError(f"cannot load '{path}': {reason}")
    if process.returncode != 0:
        how = f"was killed by {signal.Signals(-process.returncode).name}" if process.returncode < 0 \
            else f"failed (exit {process.returncode})"
        detail = [line.strip() for line in process.stderr.splitlines() if line.strip()]
        reason = f": {detail[-1][:300]}" if detail else ""
        raise ModelError(f"cannot load '{path}': TensorFlow's SavedModel loader {how}{reason}; it ran in a child "
                         "process, so nothing else was affected")
    return json.loads((job / "result.json").read_text())


def _read_graph_def(frozen: Path):
    from tensorflow.core.framework import graph_pb2

    graph_def = graph_pb2.GraphDef()
    graph_def.ParseFromString(frozen.read_bytes())
    return graph_def


def _graph_function(graph_def, input_tensor: str, output_tensor: str):
    """The frozen graph as a concrete function from the input tensor to the output tensor (built, not run)."""
    import tensorflow as tf

    def imported():
        tf.graph_util.import_graph_def(graph_def, name="")

    wrapped = tf.compat.v1.wrap_function(imported, [])
    graph = wrapped.graph
    return wrapped.prune(graph.get_tensor_by_name(input_tensor), graph.get_tensor_by_name(output_tensor))
