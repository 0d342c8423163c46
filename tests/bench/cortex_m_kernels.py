"""Instructions per inference of the C kernels on emulated Cortex-M cores, per layer, and bit-exactness of the
whole model with LiteRT's reference kernels.

    .venv/bin/python -m tests.bench.cortex_m_kernels [--cores cortex-m4,cortex-m7] [--samples 10] [--model PATH]
"""
import argparse
import shutil
import tempfile
from pathlib import Path

import numpy as np

from mnd.engine import KERNELS_DIR as RUNTIME
from mnd.engine import PORTABLE_SOURCES

MODEL = Path("/work/shared/assets/mlperf_vww/vww_96_int8.tflite")
IMAGES = Path("/work/shared/assets/vww_dev/bin")


def _inputs(count: int) -> np.ndarray:
    files = sorted(IMAGES.glob("*.bin"))[:count]
    raw = [np.fromfile(f, np.uint8).astype(np.int16) - 128 for f in files]
    return np.stack(raw).astype(np.int8)


def measure(model: Path, core_name: str, inputs: np.ndarray, work: Path):
    """(generated model, qemu RunResult) for every sample of `inputs` on `core_name`."""
    from mnd.engine.generator import generate
    from mnd.targets.cortex_m.cores import CORES
    from mnd.targets.cortex_m.firmware import build_firmware
    from mnd.targets.cortex_m.qemu import run_firmware

    core = CORES[core_name]
    gen_dir = work / core_name
    generated = generate(model.read_bytes(), gen_dir, model.name)
    for source in RUNTIME.glob("kernels*"):
        shutil.copy(source, gen_dir / source.name)
    firmware = build_firmware(core, [gen_dir / name for name in ("model.c", *PORTABLE_SOURCES)], [gen_dir],
                              gen_dir / "build")
    result = run_firmware(core, firmware, gen_dir / "run", inputs.tobytes(), timeout_s=600)
    return generated, result


def main() -> None:
    from mnd.base.runtimes.sandbox import run_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--cores", default="cortex-m4")
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--layers", action="store_true", help="print instructions per layer")
    args = parser.parse_args()
    inputs = _inputs(args.samples)
    inputs = inputs.reshape(len(inputs), *run_model_shape(args.model))
    reference = run_model("litert-ref", args.model, inputs).outputs.reshape(len(inputs), -1)
    with tempfile.TemporaryDirectory(prefix="mnd-bench-") as tmp:
        for core in args.cores.split(","):
            generated, result = measure(args.model, core, inputs, Path(tmp))
            got = np.frombuffer(result.outputs, np.int8).reshape(len(inputs), -1)
            mismatches = int(np.sum(got != reference))
            per_layer = result.per_sample()[0]
            total = result.inference_instructions()[0]
            macs = sum(generated.macs)
            print(f"{core}: {total} instructions/inference, {macs} MACs, {total / macs:.2f} instr/MAC, "
                  f"{mismatches} of {reference.size} output bytes differ from litert-ref over {len(inputs)} samples")
            if args.layers:
                for index, (name, layer_macs, count) in enumerate(zip(generated.layers, generated.macs, per_layer)):
                    ratio = f"{count / layer_macs:6.2f}/MAC" if layer_macs else ""
                    print(f"  {index:3d} {name:18s} macs {layer_macs:8d} instr {count:9d} {ratio}")


def run_model_shape(model: Path) -> tuple:
    from mnd.base.tflite.read import read_tflite

    info = read_tflite(model.read_bytes(), model.name)
    return tuple(int(d) for d in info.inputs[0].shape[1:])


if __name__ == "__main__":
    main()
