"""The emulated arm64 board: the cached Debian root filesystem run under qemu-aarch64 with the board's CPU pinned,
reached through EmulatedTransport. Models are built on the host, run on the board, and the outputs compared with
the host's: LiteRT's default (XNNPACK) kernels with 1 and 4 threads, its reference kernels, ONNX Runtime."""
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from mnd.targets.linux_arm64.rootfs import ensure_rootfs
from mnd.targets.transport.base import RemoteTimeout, TransportError
from mnd.targets.transport.emulated import EmulatedTransport
from tests.conftest import skip_or_fail

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
ODD_NAME = "it's a \"test\" file.bin"
SDOT = "int main(void){__asm__ volatile(\"sdot v0.4s, v1.16b, v2.16b\");return 0;}"  # Armv8.2 dotprod only
GUEST_RUNTIMES = """
import numpy as np, onnxruntime
from ai_edge_litert.interpreter import Interpreter, OpResolverType

def litert(path, x, **options):
    interpreter = Interpreter(model_path=path, **options)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])

x, q = np.load("float_input.npy"), np.load("int8_input.npy")
outputs = {"onnxruntime": onnxruntime.InferenceSession("tiny.onnx").run(None, {"x": x.reshape(1, -1)})[0]}
for model, data in (("float", x), ("int8", q)):
    outputs[f"{model}_xnnpack_1"] = litert(f"{model}.tflite", data, num_threads=1)
    outputs[f"{model}_xnnpack_4"] = litert(f"{model}.tflite", data, num_threads=4)
    outputs[f"{model}_reference"] = litert(f"{model}.tflite", data,
                                           experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
np.savez("outputs.npz", **outputs)
"""


@pytest.fixture(scope="module")
def transport(arm64_rootfs) -> EmulatedTransport:
    return EmulatedTransport(arm64_rootfs, "cortex-a72")


def test_commands_run_on_aarch64_with_the_pinned_cpu(transport):
    with transport.workdir() as remote:
        result = transport.run(["sh", "-c", 'uname -m; echo "$QEMU_CPU"; grep -m1 "CPU part" /proc/cpuinfo'],
                               cwd=remote, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().split("\n")[:3] == ["aarch64", "cortex-a72", "CPU part\t: 0xd08"]
    assert transport.describe() == "emulated arm64 (qemu-aarch64, cortex-a72)"


def test_the_pinned_cpu_lacks_what_the_board_lacks(arm64_rootfs, tmp_path):
    """Cortex-A72 (Raspberry Pi 4) has no dotprod: sdot is an illegal instruction there, fine on Cortex-A76."""
    if shutil.which("aarch64-linux-gnu-gcc") is None:
        skip_or_fail("aarch64-linux-gnu-gcc not found (Debian package gcc-aarch64-linux-gnu; run 'make toolchain')")
    (tmp_path / "sdot.c").write_text(SDOT)
    subprocess.run(["aarch64-linux-gnu-gcc", "-static", "-march=armv8.2-a+dotprod", "-o", tmp_path / "sdot",
                    tmp_path / "sdot.c"], check=True)
    statuses = {}
    for cpu in ("cortex-a72", "cortex-a76"):
        board = EmulatedTransport(arm64_rootfs, cpu)
        with board.workdir() as remote:
            board.push([tmp_path / "sdot"], remote)
            statuses[cpu] = board.run(["./sdot"], cwd=remote, timeout=60).returncode
    assert statuses == {"cortex-a72": 128 + 4, "cortex-a76": 0}  # 4: SIGILL, as the shell reports it


@pytest.mark.filterwarnings("ignore:Statistics for quantized inputs were expected")  # TF's int8 converter
def test_litert_and_onnxruntime_run_tiny_models_like_the_host(transport, tmp_path):
    models = tiny_models(tmp_path)
    with transport.workdir() as remote:
        (tmp_path / "runtimes.py").write_text(GUEST_RUNTIMES)
        transport.push([tmp_path / name for name in (*models, "runtimes.py")], remote)
        result = transport.run(["python3", "runtimes.py"], cwd=remote, timeout=300)
        assert result.returncode == 0, result.stderr.decode(errors="replace")[-3000:]
        transport.pull(remote, ["outputs.npz"], tmp_path)
    assert b"Created TensorFlow Lite XNNPACK delegate for CPU" in result.stderr
    board = dict(np.load(tmp_path / "outputs.npz"))
    host = host_outputs(tmp_path)  # overwrites outputs.npz, read already
    assert set(board) == set(host)
    for name, expected in host.items():
        if name.startswith("int8"):  # integer kernels: at most one step apart across kernel paths
            assert np.abs(board[name].astype(int) - expected.astype(int)).max() <= 1, name
        else:
            np.testing.assert_allclose(board[name], expected, rtol=1e-4, atol=1e-5, err_msg=name)


def test_push_and_pull_keep_names_with_spaces_and_quotes(transport, tmp_path):
    local = tmp_path / "a dir with spaces"
    local.mkdir()
    payload = bytes(range(256)) * 40
    (local / ODD_NAME).write_bytes(payload)
    back = tmp_path / "back again"
    back.mkdir()
    with transport.workdir() as remote:
        transport.push([local / ODD_NAME], remote)
        result = transport.run(["cp", ODD_NAME, f"copy of {ODD_NAME}"], cwd=remote, timeout=60)
        assert result.returncode == 0, result.stderr
        transport.pull(remote, [f"copy of {ODD_NAME}"], back)
        with pytest.raises(TransportError, match="not found"):
            transport.pull(remote, ["never written"], back)
    assert (back / f"copy of {ODD_NAME}").read_bytes() == payload


def test_environment_and_working_directory_reach_the_command(transport):
    with transport.workdir() as remote:
        result = transport.run(["sh", "-c", 'printf "%s|%s" "$GREETING" "$PWD"'], cwd=remote, timeout=60,
                               env={"GREETING": "it's \"quoted\" $HOME"})
    assert result.stdout.decode() == f"it's \"quoted\" $HOME|{remote}"


def test_a_command_past_its_time_limit_is_stopped(transport):
    with transport.workdir() as remote:
        started = time.monotonic()
        with pytest.raises(RemoteTimeout):
            transport.run(["sleep", "60"], cwd=remote, timeout=2)
        assert time.monotonic() - started < 10
        assert transport.run(["true"], cwd=remote, timeout=60).returncode == 0


def test_the_work_directory_is_private_and_removed(transport, arm64_rootfs):
    with transport.workdir() as remote:
        host_side = arm64_rootfs / remote.lstrip("/")
        assert remote.startswith("/tmp/mnd.") and host_side.is_dir()
        assert host_side.stat().st_mode & 0o777 == 0o700
        (host_side / "leftover").write_text("x")
    assert not host_side.exists()
    transport.remove_workdir(remote)  # already gone: no error


def test_a_cached_root_filesystem_is_not_rebuilt(arm64_rootfs):
    started = time.monotonic()
    assert ensure_rootfs() == arm64_rootfs
    assert time.monotonic() - started < 2


def tiny_models(folder) -> list:
    """float.tflite, int8.tflite (a small conv/depthwise/dense net, built with TensorFlow), tiny.onnx, inputs."""
    import onnx
    import tensorflow as tf
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    model = tf.keras.Sequential([tf.keras.Input((12, 12, 3), batch_size=1),
                                 tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
                                 tf.keras.layers.DepthwiseConv2D(3, padding="same", activation="relu"),
                                 tf.keras.layers.GlobalAveragePooling2D(), tf.keras.layers.Dense(5),
                                 tf.keras.layers.Softmax()])
    samples = rng.standard_normal((16, 1, 12, 12, 3)).astype(np.float32)
    (folder / "float.tflite").write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([sample] for sample in samples)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    (folder / "int8.tflite").write_bytes(converter.convert())
    np.save(folder / "float_input.npy", samples[0])
    np.save(folder / "int8_input.npy", rng.integers(-128, 128, (1, 12, 12, 3)).astype(np.int8))

    weights = rng.standard_normal((12 * 12 * 3, 5)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"]), helper.make_node("Relu", ["y"], ["out"])], "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 12 * 12 * 3])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 5])], [numpy_helper.from_array(weights, "w")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8),
              folder / "tiny.onnx")
    return ["float.tflite", "int8.tflite", "tiny.onnx", "float_input.npy", "int8_input.npy"]


def host_outputs(folder) -> dict:
    """What GUEST_RUNTIMES computes, run here by the host venv's x86 LiteRT and ONNX Runtime in `folder`."""
    result = subprocess.run([sys.executable, "runtimes.py"], cwd=folder, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(np.load(folder / "outputs.npz"))
