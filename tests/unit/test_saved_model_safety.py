"""SavedModels with side effects are refused before anything runs them; legitimate ones load in a child process."""
import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from mnd.base.errors import ModelError
from mnd.pipeline.model.keras_builder import create_model
from mnd.pipeline.sources.keras_file import load_keras_model
from mnd.pipeline.sources.saved_model_guard import check_saved_model

SIDE_EFFECTS = {"write": ("WriteFile", "writes files"), "py_function": ("EagerPyFunc", "runs Python code"),
                "print": ("PrintV2", "prints or writes to a file"), "read": ("ReadFile", "reads files")}


def _hostile(kind: str, marker, out):
    """A 32x32x1 -> 10 classifier whose serving function also does `kind` (writing `marker` when run)."""

    class Hostile(tf.Module):
        def __init__(self):
            self.w = tf.Variable(tf.ones([1, 10]))

        @tf.function(input_signature=[tf.TensorSpec([None, 32, 32, 1], tf.float32, name="image")])
        def serve(self, image):
            if kind == "write":
                tf.io.write_file(str(marker), "x")
            elif kind == "py_function":
                tf.py_function(lambda: marker.write_text("x") and 0.0, [], tf.float32)
            elif kind == "print":
                tf.print("x", output_stream=f"file://{marker}")
            else:
                image += tf.cast(tf.strings.length(tf.io.read_file(str(marker))), tf.float32) * 0.0
            return {"probs": tf.nn.softmax(tf.reduce_mean(image, axis=[1, 2]) @ self.w)}

    module = Hostile()
    tf.saved_model.save(module, str(out), signatures={"serving_default": module.serve})
    return out


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """{kind: (SavedModel directory, marker path its graph would write)}, built once."""
    root = tmp_path_factory.mktemp("hostile")
    return {kind: (_hostile(kind, root / f"MARKER_{kind}", root / f"sm_{kind}"), root / f"MARKER_{kind}")
            for kind in SIDE_EFFECTS}


def _refusal(message: str, kind: str) -> None:
    op, what = SIDE_EFFECTS[kind]
    assert "\n" not in message and f"op {op} ({what})" in message, message
    assert "which mnd does not run" in message and ".keras" in message


@pytest.mark.parametrize("kind", sorted(SIDE_EFFECTS))
def test_side_effect_ops_are_refused_before_loading(hostile, kind, monkeypatch):
    def no_loading(*args, **kwargs):
        raise AssertionError("loaded an untrusted SavedModel")

    monkeypatch.setattr(tf.saved_model, "load", no_loading)
    path, marker = hostile[kind]
    with pytest.raises(ModelError) as info:
        load_keras_model(path)
    _refusal(str(info.value), kind)
    assert not marker.exists()


@pytest.mark.parametrize("command, kind", [("evaluate", "write"), ("export", "py_function")])
def test_cli_refuses_side_effects_in_one_line(mnd, hostile, tmp_path, command, kind):
    path, marker = hostile[kind]
    out = tmp_path / "X"
    args = ["--data", "digits"] if command == "evaluate" else ["--out", out, "--target", "host"]
    result = mnd(command, "--model", path, *args, timeout=300)
    errors = [line for line in result.stderr.splitlines() if line.startswith("mnd: error:")]
    assert result.returncode == 2 and len(errors) == 1, result.stderr[-2000:]
    _refusal(errors[0], kind)
    assert "Traceback" not in result.stderr and not marker.exists()
    assert list(tmp_path.iterdir()) == []  # no --out, no staging directory beside it


def _graph(tmp_path, nodes, saver=None, outputs=(), functions=()):
    """A hand-made TF1-style saved_model.pb: nodes are (name, op, inputs), functions (name, [(node, op)])."""
    proto = saved_model_pb2.SavedModel()
    meta = proto.meta_graphs.add()
    for name, op, inputs in nodes:
        meta.graph_def.node.add(name=name, op=op, input=inputs)
    for name, body in functions:
        function = meta.graph_def.library.function.add()
        function.signature.name = name
        for node_name, op in body:
            function.node_def.add(name=node_name, op=op)
    if saver:
        meta.saver_def.filename_tensor_name, meta.saver_def.save_tensor_name, meta.saver_def.restore_op_name = saver
    for tensor in outputs:
        meta.signature_def["serving_default"].outputs["out"].name = tensor
    (tmp_path / "saved_model.pb").write_bytes(proto.SerializeToString())
    return tmp_path


SAVER = [("file", "PlaceholderWithDefault", []), ("tensors", "Const", []), ("var", "VarHandleOp", []),
         ("save", "SaveV2", ["file", "tensors", "tensors", "var"]), ("saved", "Identity", ["file", "^save"]),
         ("restore", "RestoreV2", ["file", "tensors", "tensors"]), ("assign", "AssignVariableOp", ["var", "restore"]),
         ("restore_all", "NoOp", ["^assign"]), ("image", "Placeholder", []),
         ("read", "ReadVariableOp", ["var"]), ("logits", "MatMul", ["image", "read"])]


def test_checkpoint_io_only_where_the_saver_puts_it(tmp_path):
    saver = ("file:0", "saved:0", "restore_all")
    assert check_saved_model(_graph(tmp_path, SAVER, saver, ["logits:0"]))
    with pytest.raises(ModelError, match=r"op SaveV2 \(writes checkpoint files\) in node 'save'"):
        check_saved_model(_graph(tmp_path, SAVER, saver, ["logits:0", "saved:0"]))  # a signature runs the save
    with pytest.raises(ModelError, match=r"op SaveV2 \(writes checkpoint files\)"):
        check_saved_model(_graph(tmp_path, SAVER, None, ["logits:0"]))  # no SaverDef: nothing is the saver's
    elsewhere = [*SAVER[:5], ("restore", "RestoreV2", ["tensors", "tensors", "tensors"]), *SAVER[6:]]
    with pytest.raises(ModelError, match=r"op RestoreV2 \(reads checkpoint files\) in node 'restore'"):
        check_saved_model(_graph(tmp_path, elsewhere, saver, ["logits:0"]))  # reads another prefix than the saver's


def test_functions_are_checked_whoever_calls_them(tmp_path):
    calls = [("image", "Placeholder", []), ("call", "helper", ["image"])]
    assert check_saved_model(_graph(tmp_path, calls, functions=[("helper", [("y", "Relu6")])]))
    with pytest.raises(ModelError, match=r"op WriteFile \(writes files\) in function 'unused'"):
        check_saved_model(_graph(tmp_path, calls, functions=[("helper", [("y", "Relu6")]),
                                                             ("unused", [("w", "WriteFile")])]))
    with pytest.raises(ModelError, match=r"op helper \(not a pure inference op\) in node 'call'"):
        check_saved_model(_graph(tmp_path, calls))  # neither an allowed op nor a function the file holds


def test_damaged_saved_model_pb_is_one_line(tmp_path):
    (tmp_path / "saved_model.pb").write_bytes(b"\xff\xff\xff not a protobuf")
    with pytest.raises(ModelError, match="is the file complete"):
        load_keras_model(tmp_path)


@pytest.mark.slow
def test_keras_export_loads_in_a_child_process(tmp_path, monkeypatch):
    keras.utils.set_random_seed(0)
    model = create_model("mobilenet_v1_025_32", classes=3, channels=1)
    model.export(str(tmp_path / "sm"), verbose=False)

    def not_here(*args, **kwargs):
        raise AssertionError("ran TensorFlow's SavedModel loader in the parent process")

    monkeypatch.setattr(tf.saved_model, "load", not_here)
    monkeypatch.setattr(keras.layers, "TFSMLayer", not_here)
    loaded = load_keras_model(tmp_path / "sm")
    x = np.random.default_rng(0).random((2, 32, 32, 1), dtype=np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
