"""The TFLite converter's own failures become one ModelError line instead of a long ConverterError traceback."""
import pytest

from mnd.base.errors import ModelError
from mnd.quantize.ptq import float_tflite


def test_an_op_outside_the_tflite_builtins_is_one_model_error_line(tmp_path):
    import tensorflow as tf

    class StringMath(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32)])
        def serve(self, x):
            return tf.strings.to_number(tf.strings.as_string(x))

    module = StringMath()
    tf.saved_model.save(module, str(tmp_path / "sm"), signatures=module.serve)
    with pytest.raises(ModelError) as caught:
        float_tflite(tmp_path / "sm")
    message = str(caught.value)
    assert message.startswith("the TFLite converter cannot make the float model: 'tf.AsString' op")
    assert "\n" not in message
