"""`mnd export --formats`: which artifact groups an export writes, and the log line each written artifact gets.

The int8 .tflite (for an imported .tflite file, the file's own copy) is always written: every other artifact and
every target's measurement derive from it. The C engine projects of the cortex-m, rpi and android targets (mnd-c)
are no format: the target builds its own from that .tflite whenever it measures, whatever --formats says."""
import logging
import time
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger("mnd")

FORMATS = {  # name -> the artifact kinds it stands for (manifest.ARTIFACT_KINDS)
    "tflite": ("tflite_float", "tflite_int8", "tflite_uint8"),
    "onnx": ("onnx_float", "onnx_int8", "onnx_uint8"),
    "tflm": ("tflm_c_source", "tflm_c_header", "tflm_op_resolver"),
}
ALL_FORMATS = tuple(FORMATS)
FORMATS_HELP = ("comma list of artifact groups to write, default all: tflite (float and int8 .tflite), onnx (float "
                "and int8/uint8 .onnx), tflm (TFLite-Micro C array, header and op resolver). The int8 .tflite is "
                "always written (everything derives from it), and the cortex-m/rpi/android targets always build "
                "their mnd-c C engine from it; validations and measurements run on what is written")
LABELS = {"tflite_float": "TFLite float", "tflite_int8": "TFLite int8", "tflite_uint8": "TFLite uint8",
          "onnx_float": "ONNX float", "onnx_int8": "ONNX int8", "onnx_uint8": "ONNX uint8",
          "tflm_c_source": "TFLite-Micro C array", "tflm_c_header": "TFLite-Micro C header",
          "tflm_op_resolver": "TFLite-Micro op resolver"}


def parse_formats(text: str) -> tuple:
    """'tflite,onnx' -> ('tflite', 'onnx') in the order of ALL_FORMATS; ValueError naming the valid names."""
    names = [part.strip().lower() for part in text.split(",")]
    if names == ["all"]:
        return ALL_FORMATS
    unknown = [name for name in names if name not in FORMATS]
    if unknown:
        raise ValueError(f"unknown format {unknown[0]!r}: choose from {', '.join(ALL_FORMATS)} "
                         "(comma-separated), or all (the default)")
    return tuple(name for name in ALL_FORMATS if name in names)


def format_of(kind: str) -> str:
    return next(name for name, kinds in FORMATS.items() if kind in kinds)


def human_bytes(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 ** 2:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1024 ** 2:.1f} MiB"


class Build:
    """What an exporter writes (`formats`) and how it tells the user: one line per artifact, naming it by the path
    it will have once the staging folder `run_dir` is renamed to `shown_dir` (the --out the user gave)."""

    def __init__(self, run_dir: Path, shown_dir: str, formats: tuple = ALL_FORMATS):
        self.run_dir, self.shown_dir, self.formats = Path(run_dir), str(shown_dir), tuple(formats)

    def wants(self, format_name: str) -> bool:
        return format_name in self.formats

    @contextmanager
    def timed(self):
        """Yields a list; append the artifact (kind, path) pairs the block writes, each logged with its time."""
        written, start = [], time.monotonic()
        yield written
        seconds = time.monotonic() - start
        for kind, path in written:
            self.saved(kind, path, seconds)

    def saved(self, kind: str, path: Path, seconds: float) -> None:
        shown = Path(self.shown_dir) / Path(path).relative_to(self.run_dir)
        log.info("%s: export success %.1f s, saved as %s (%s)", LABELS[kind], seconds, shown,
                 human_bytes(Path(path).stat().st_size))
