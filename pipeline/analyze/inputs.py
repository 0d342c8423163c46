"""What `mnd analyze` reads: a quantized .tflite file (or an export run's int8 model), refused in one line otherwise,
and the int8 bytes the C engine would run (an int8 interface kept as it is, a uint8 one dropped exactly, a uint8 QAT
model requantized as `--requantize-int8` does: the sizes and counts are the same)."""
from dataclasses import dataclass
from pathlib import Path

from mnd.base.errors import MndError, ModelError, UsageError

SUPPORTED = ("mnd analyze reads an int8 or uint8 .tflite file (or an 'mnd export' run directory, for its int8 "
             "model)")
MAX_TFLITE_BYTES = 2 << 30  # the flatbuffer format's own limit


@dataclass(frozen=True)
class Int8Model:
    path: Path        # the file given (or the run's int8 artifact)
    data: bytes       # the int8 model the engine runs
    notes: tuple      # how `data` was derived from the file, when it was


def read_model(given: str) -> Int8Model:
    path = Path(given)
    if path.is_dir():
        return _from_run(path)
    if not path.exists():
        raise UsageError(_missing(given))
    if not path.is_file():
        raise UsageError(f"'{given}' is not a regular file; {SUPPORTED}")
    if path.stat().st_size > MAX_TFLITE_BYTES:
        raise ModelError(f"'{given}' is over 2 GiB, larger than any .tflite file can be; {SUPPORTED}")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UsageError(f"'{given}' cannot be read ({error.strerror}); {SUPPORTED}") from None
    return _int8_of(path, data)


def _missing(given: str) -> str:
    from mnd.pipeline.model.registry import parse_model_name

    try:
        parse_model_name(given)
    except MndError:
        return f"'{given}': no such file; {SUPPORTED}"
    return (f"'{given}' is a registry name, not a file: building its int8 model takes TensorFlow and a conversion "
            f"(a minute, not seconds). {SUPPORTED}. Its MACs and parameters: mnd summary --model {given}; its int8 "
            f"model: mnd export --model {given} --train-epochs 0 --allow-drift --out out/{given}, then "
            f"mnd analyze out/{given}")


def _from_run(run: Path) -> Int8Model:
    from mnd.pipeline.manifest import Manifest

    if not (run / "manifest.json").is_file():
        raise UsageError(f"'{run}' is a folder without an 'mnd export' manifest.json; {SUPPORTED}")
    manifest = Manifest.read(run)  # the one checked reader: schema, paths inside the run, sizes and hashes
    artifact = manifest.artifact("tflite_int8")
    if artifact is None:
        raise ModelError(f"'{run}' has no int8 .tflite (see its report's warnings for why); {SUPPORTED}")
    path = run / artifact.path
    return _int8_of(path, path.read_bytes())


def _int8_of(path: Path, data: bytes) -> Int8Model:
    from mnd.base.tflite.read import read_tflite
    from mnd.base.tflite.repair import repair_tflite, requantize_uint8_to_int8
    from mnd.pipeline.sources.tflite_boundary import strip_uint8_boundary

    source = str(path)
    data, repairs = repair_tflite(data, source)
    info = read_tflite(data, source)
    notes = tuple(repairs)
    if info.is_int8 and info.inputs[0].dtype == "uint8":
        data = strip_uint8_boundary(data, source)
        notes += ("int8 between uint8 QUANTIZE ops: sized without those two ops, as the export runs it",)
    elif not info.is_int8 and info.inputs[0].dtype == "uint8":
        data = requantize_uint8_to_int8(data, source)
        notes += ("uint8 (quantization-aware) model: sized on its int8 conversion (--requantize-int8), which has "
                  "the same shapes, weights count and arena",)
    elif not info.is_int8:
        raise ModelError(f"'{path}' is a {info.inputs[0].dtype} model, not a quantized one; quantize it first "
                         f"(mnd export --model <its Keras original> writes an int8 .tflite). {SUPPORTED}")
    return Int8Model(path, data, notes)

