"""Shared by the C engine's kernel tests: tiny int8 models from the TFLite converter, their ops emitted with
engine.ops, compiled with the portable kernels and a generated driver on the host (gcc -std=c99 -Wall -Werror),
and compared with LiteRT's reference kernels tensor by tensor (interpreters run in child processes)."""
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from mnd.engine import KERNELS_DIR as RUNTIME
from mnd.engine import PORTABLE_SOURCES
from mnd.engine.ops import emit_op


SAMPLES = 4
CFLAGS = ["-O2", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]


def _gcc():
    if shutil.which("gcc") is None:
        pytest.skip("host gcc not found")
    return "gcc"


def _compile(tmp: Path, driver: str) -> Path:
    (tmp / "driver.c").write_text(driver)
    binary = tmp / "driver"
    subprocess.run([_gcc(), *CFLAGS, f"-I{RUNTIME}", str(tmp / "driver.c"),
                    *(str(RUNTIME / name) for name in PORTABLE_SOURCES), "-o", str(binary)], check=True,
                   capture_output=True, text=True)
    return binary


# ---- tiny converted models ----

def _convert(saved: Path, samples: np.ndarray) -> bytes:
    """The converter's own output: FULLY_CONNECTED kept as it is, so its kernel can be tested."""
    from mnd.quantize.ptq import converted_int8

    return converted_int8(saved, samples)


def _build(tmp: Path, shape: tuple, layers, seed: int, low: float = -1.0, high: float = 1.0):
    """(path, int8 inputs) of a converted Keras model; inputs drawn uniformly from [low, high). `layers`: a list
    applied in turn, or a function from the Keras input to the output (for graphs with branches)."""
    import keras

    from mnd.base.runtimes.inputs import inputs_for

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape, batch_size=1)
    x = inputs
    for layer in ([layers] if callable(layers) else layers):
        x = layer(x)
    saved = tmp / "saved"
    keras.Model(inputs, x).export(str(saved), verbose=False)
    rng = np.random.default_rng(seed)
    samples = rng.uniform(low, high, (24, *shape)).astype(np.float32)
    path = tmp / "model.tflite"
    path.write_bytes(_convert(saved, samples))
    return path, inputs_for(path, samples[:SAMPLES])


def _parse(path: Path):
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema_fb

    model = schema_fb.ModelT.InitFromObj(schema_fb.Model.GetRootAsModel(path.read_bytes(), 0))
    return model, model.subgraphs[0]


DRIVER_IO = """#include <stdio.h>
#include <stdlib.h>
#include "kernels.h"
static void load(const char* name, int8_t* data, size_t size) {
  FILE* f = fopen(name, "rb");
  if (!f || fread(data, 1, size, f) != size) exit(2);
  fclose(f);
}
static void save(const char* name, const int8_t* data, size_t size) {
  FILE* f = fopen(name, "wb");
  if (!f || fwrite(data, 1, size, f) != size) exit(3);
  fclose(f);
}
"""


def _driver(emissions, graph, model_input: int) -> str:
    """C main(): op k reads in<k>.bin (SAMPLES inputs), writes out<k>.bin; then the chain writes chain.bin."""
    def size(t):
        return int(np.prod(graph.tensors[t].shape))

    def call(e):
        inputs = {f"in{j}": f"t{t} + s * {size(t)}" for j, t in enumerate(e.inputs)}
        return e.call.format(**inputs, out0=f"t{e.output_tensor} + s * {size(e.output_tensor)}")

    tensors = sorted({model_input} | {t for e in emissions for t in (*e.inputs, e.output_tensor)})
    lines = [DRIVER_IO] + [c for e in emissions for c in e.constants]
    lines += [f"static int8_t t{t}[{SAMPLES * size(t)}];" for t in tensors] + ["int main(void) {", "  int s;"]
    for k, e in enumerate(emissions):
        lines += [f'  load("in{k}_{j}.bin", t{t}, {SAMPLES * size(t)});' for j, t in enumerate(e.inputs)]
        lines += [f"  for (s = 0; s < {SAMPLES}; ++s) {call(e)}",
                  f'  save("out{k}.bin", t{e.output_tensor}, {SAMPLES * size(e.output_tensor)});']
    last = emissions[-1].output_tensor
    lines += [f'  load("in.bin", t{model_input}, {SAMPLES * size(model_input)});',
              f"  for (s = 0; s < {SAMPLES}; ++s) {{", *[f"    {call(e)}" for e in emissions], "  }",
              f'  save("chain.bin", t{last}, {SAMPLES * size(last)});', "  return 0;", "}", ""]
    return "\n".join(lines)


def _reference_tensor(path: Path, inputs: np.ndarray, tensor: int, runtime: str = "litert-ref") -> np.ndarray:
    from mnd.base.runtimes.sandbox import run_model

    return run_model(runtime, path, inputs, tensor=tensor if runtime != "tflm" else None).outputs


def _run_case(tmp: Path, path: Path, inputs: np.ndarray) -> dict:
    """{'ops': [(name, C output, reference output)], 'chain': C chain output, 'reference': model output}."""
    model, graph = _parse(path)
    emissions = [emit_op(model, graph, k, f"op{k}_") for k in range(len(graph.operators))]
    model_input = int(graph.inputs[0])
    reference = {model_input: inputs}
    for e in emissions:
        reference[e.output_tensor] = _reference_tensor(path, inputs, e.output_tensor)
    binary = _compile(tmp, _driver(emissions, graph, model_input))
    inputs.astype(np.int8).tofile(tmp / "in.bin")
    for k, e in enumerate(emissions):
        for j, tensor in enumerate(e.inputs):
            reference[tensor].astype(np.int8).tofile(tmp / f"in{k}_{j}.bin")
    subprocess.run([str(binary)], cwd=tmp, check=True)
    names = [_op_name(model, op) for op in graph.operators]
    ops = [(names[k], np.fromfile(tmp / f"out{k}.bin", np.int8), reference[e.output_tensor].reshape(-1))
           for k, e in enumerate(emissions)]
    return {"ops": ops, "chain": np.fromfile(tmp / "chain.bin", np.int8), "names": names,
            "reference": reference[emissions[-1].output_tensor].reshape(-1)}


def _op_name(model, op) -> str:
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema_fb

    code = model.operatorCodes[op.opcodeIndex]
    builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
    return next(name for name, value in vars(schema_fb.BuiltinOperator).items() if value == builtin)


def _assert_bit_exact(result: dict, expect_ops: set, skip_ops=()):
    assert expect_ops <= set(result["names"]), result["names"]
    for name, got, want in result["ops"]:
        if name in skip_ops:
            continue
        mismatches = int(np.sum(got != want))
        assert mismatches == 0, f"{name}: {mismatches} of {want.size} bytes differ, max |diff| " \
                                f"{int(np.max(np.abs(got.astype(int) - want.astype(int))))}"
    if not skip_ops:
        assert np.array_equal(result["chain"], result["reference"])
