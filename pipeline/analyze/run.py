"""`mnd analyze MODEL [--board NAME]`: per-layer MACs and parameters, the C engine's planned arena (the same plan
the Cortex-M export's mnd-c uses for the board's core), TFLite-Micro's arena when it is found in seconds, a flash
estimate and whether it all fits the board. No emulator, no TensorFlow."""
import hashlib
from pathlib import Path

import numpy as np

from mnd.base.errors import MndError
from mnd.base.tempdirs import temporary_directory
from mnd.base.tflite.read import describe, load_tflite
from mnd.engine.footprint import flash_estimate
from mnd.engine.generator import generate
from mnd.pipeline.analyze.inputs import read_model
from mnd.pipeline.analyze.layers import layer_rows
from mnd.targets.cortex_m.board_fit import fit
from mnd.targets.cortex_m.cores import get_core

TFLM_SECONDS = 10  # TFLM's arena search (a doubling then a bisection of host allocations) takes ~1-2 s on VWW


def analyze(given: str, board=None) -> dict:
    """The document `mnd analyze --json` prints; `board`: a boards.Board or None (portable kernels, no verdict)."""
    model = read_model(given)
    tree = load_tflite(model.data, str(model.path))
    info = describe(tree, str(model.path))
    core = board.core if board else None
    kernels = get_core(core).kernels if core else "portable"
    with temporary_directory("mnd-analyze-") as tmp:
        generated = generate(model.data, Path(tmp) / "engine", str(model.path), kernels=kernels)
        flash_bytes, basis = flash_estimate((Path(tmp) / "engine" / "model.c").read_text(), core, kernels)
        (Path(tmp) / model.path.name).write_bytes(model.data)  # the bytes the engine runs, under the file's name
        tflm_arena, tflm_note = _tflm_arena(Path(tmp) / model.path.name, info.inputs[0])
    layers = layer_rows(tree, info.ops, generated.macs)
    ram_bytes = generated.arena_bytes + generated.input_bytes + generated.output_bytes
    verdict = fit(board, flash_bytes, ram_bytes, basis) if board else None
    return {
        "model": str(model.path), "sha256": hashlib.sha256(model.path.read_bytes()).hexdigest(),
        "input": _tensor(info.inputs[0]), "output": _tensor(info.outputs[0]), "notes": list(model.notes),
        "macs": int(sum(generated.macs)), "params": sum(row["params"] for row in layers),
        "weight_bytes": sum(row["weight_bytes"] for row in layers),
        "arena_bytes": generated.arena_bytes, "arena_floor_bytes": generated.arena_floor_bytes,
        "arena_kernels": kernels, "core": core,
        "tflm_arena_bytes": tflm_arena, "tflm_arena_note": tflm_note,
        "flash_bytes": flash_bytes, "ram_bytes": ram_bytes, "estimate": basis,
        "board": board.to_dict() if board else None, "fits": verdict["fits"] if verdict else None, "fit": verdict,
        "layers": layers}


def _tensor(tensor) -> dict:
    return {"shape": list(tensor.shape), "dtype": tensor.dtype, "scale": tensor.scale,
            "zero_point": tensor.zero_point}


def _tflm_arena(path: Path, model_input) -> "tuple[int | None, str]":
    from mnd.base.runtimes.sandbox import tflm_arena_bytes

    sample = np.zeros(tuple(model_input.shape[1:]), np.dtype(model_input.dtype))
    try:
        arena = tflm_arena_bytes(path, sample, timeout=TFLM_SECONDS)
    except MndError as error:
        return None, f"not computed: TFLite-Micro's arena search did not succeed ({error})"
    return arena, ("TFLite-Micro's smallest arena, found with its Python interpreter: a 64-bit host build, whose "
                   "pointers and structs are larger than a 32-bit core's, so an upper estimate")
