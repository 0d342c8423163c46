"""The child process that loads a SavedModel (checked by saved_model_guard first) and freezes its serving_default
signature into one GraphDef with the weights as constants; the parent process never runs TensorFlow's SavedModel
loader. Usage: python -m mnd.pipeline.sources.saved_model_child JOB_DIR (JOB_DIR/model in, frozen.pb and
result.json out; a failure writes its one-line reason to error.txt and exits 3)."""
import json
import sys
from pathlib import Path

ENDPOINT = "serving_default"


class Unusable(Exception):
    """A SavedModel that loads but that mnd cannot use; the message is the whole reason."""


def freeze(model_dir: Path, job_dir: Path) -> dict:
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    loaded = tf.saved_model.load(str(model_dir))
    if ENDPOINT not in loaded.signatures:
        names = ", ".join(sorted(loaded.signatures)) or "none"
        raise Unusable(f"it has no {ENDPOINT} signature (it has: {names}); save it with a serving_default "
                       "signature that takes the image")
    signature = loaded.signatures[ENDPOINT]
    frozen = convert_variables_to_constants_v2(signature)
    (job_dir / "frozen.pb").write_bytes(frozen.graph.as_graph_def().SerializeToString())
    keys = sorted(signature.structured_outputs)  # a signature returns a dict; tf.nest flattens it by sorted key
    pairs = zip(keys, frozen.outputs, strict=True)
    return {"inputs": [{"tensor": t.name, "name": t.name.split(":")[0], "shape": t.shape.as_list(),
                        "dtype": t.dtype.name} for t in frozen.inputs],
            "outputs": [{"key": str(key), "tensor": t.name, "shape": t.shape.as_list()} for key, t in pairs]}


def main(job_dir: Path) -> int:
    try:
        result = freeze(job_dir / "model", job_dir)
    except Unusable as error:
        (job_dir / "error.txt").write_text(str(error))
        return 3
    except Exception as error:  # TensorFlow raises many types for damaged or unusual SavedModels
        lines = str(error).strip().splitlines() or [type(error).__name__]
        (job_dir / "error.txt").write_text(f"{lines[0][:300]} — is the SavedModel complete?")
        return 3
    (job_dir / "result.json").write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
