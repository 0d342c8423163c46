"""Name the first layer where the C engine departs from LiteRT's reference kernels: the same generated C,
built for the host with a hook that dumps every layer's output, compared tensor by tensor. It is built without
MND_PROFILE, so the layer markers, and the harness that provides them, stay out of it."""
import os
from pathlib import Path

import numpy as np

from mnd.base.process_group import run_group
from mnd.base.runtimes.sandbox import run_model
from mnd.base.tempdirs import temporary_directory

DRIVER = r"""#include <stdint.h>
#include <stdio.h>
static FILE* mnd_dump;
#define MND_AFTER_LAYER(index, data, bytes) fwrite((data), 1, (bytes), mnd_dump)
#include "model.c"
int main(int argc, char** argv) {
  static int8_t input[MND_INPUT_BYTES], output[MND_OUTPUT_BYTES];
  FILE* in = fopen(argv[1], "rb");
  mnd_dump = fopen(argv[2], "wb");
  if (!in || !mnd_dump || fread(input, 1, MND_INPUT_BYTES, in) != MND_INPUT_BYTES) return 2;
  mnd_model_invoke(input, output);
  fclose(mnd_dump);
  return 0;
}
"""


def first_differing_layer(project: Path, generated, int8_path: Path, sample: np.ndarray) -> str:
    """A sentence naming the first differing layer on `sample` (or saying the host build agrees)."""
    with temporary_directory("mnd-diagnose-") as tmp:
        work = Path(tmp)
        (work / "driver.c").write_text(DRIVER)
        binary = work / "model_host"
        (work / "tmp").mkdir()  # gcc's temporary files, removed with the folder even if a signal kills it
        build = run_group(["gcc", "-O1", "-std=c99", "-I", str(project), str(work / "driver.c"),
                           *(str(source) for source in sorted(project.glob("kernels*.c"))), "-o", str(binary)],
                          env={**os.environ, "TMPDIR": str(work / "tmp")})
        if build.returncode != 0:  # e.g. the MVE kernels, which have no host version
            return "no layer named: the host diagnosis build cannot compile this core's kernels"
        (work / "input.bin").write_bytes(sample.tobytes())
        run = run_group([str(binary), str(work / "input.bin"), str(work / "layers.bin")], timeout=300)
        if run.returncode != 0:
            return f"no layer named: the host diagnosis build failed on this input (exit {run.returncode})"
        dumped = (work / "layers.bin").read_bytes()
    offset = 0
    for index, (op, tensor) in enumerate(zip(generated.layers, generated.layer_outputs)):
        reference = run_model("litert-ref", int8_path, sample[None], tensor=tensor).outputs.reshape(-1)
        ours = np.frombuffer(dumped[offset:offset + reference.size], np.int8)
        offset += reference.size
        if not np.array_equal(ours, reference):
            worst = int(np.max(np.abs(ours.astype(int) - reference.astype(int))))
            return (f"first differing layer: {index} ({op}), {int(np.sum(ours != reference))} of {reference.size} "
                    f"values differ, by up to {worst}")
    return "the host build of the same C matches every layer, so the difference arises on the emulated core"
