"""Argument types that check numbers when the command line is parsed: integers in range, finite floats in range.
argparse turns the ArgumentTypeError into one usage line and exit code 2, before any work starts."""
import argparse
import math

SEED_LIMIT = 2**32 - 1  # numpy's and Keras' seeds are unsigned 32-bit


def _integer(text: str, low: int, high: int | None, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < low or (high is not None and value > high):
        raise argparse.ArgumentTypeError(f"{value} is out of range: {what}")
    return value


def _real(text: str, low: float, high: float | None, low_open: bool, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    below = value <= low if low_open else value < low
    if not math.isfinite(value) or below or (high is not None and value > high):
        raise argparse.ArgumentTypeError(f"{text} is out of range: {what}")
    return value


def positive_int(text: str) -> int:
    return _integer(text, 1, None, "give 1 or more")


def non_negative_int(text: str) -> int:
    return _integer(text, 0, None, "give 0 or more")


def seed(text: str) -> int:
    return _integer(text, 0, SEED_LIMIT, f"give 0 to {SEED_LIMIT}")


def positive_real(text: str) -> float:
    return _real(text, 0.0, None, True, "give a finite number above 0")


def non_negative_real(text: str) -> float:
    return _real(text, 0.0, None, False, "give a finite number, 0 or more")


def unit_fraction(text: str) -> float:
    """A fraction in (0, 1], such as a centre-crop or a width multiplier."""
    return _real(text, 0.0, 1.0, True, "give a number above 0 and at most 1")


MAX_THREADS = 256
MAX_RUNS = 100_000              # timed runs per runtime: the latencies are kept, one float each
MAX_WARMUP = 10_000
MAX_CALIBRATION_SAMPLES = 100_000
MAX_EVALUATION_SAMPLES = 10_000_000
MAX_FLASH_WAIT_STATES = 15      # the most any Cortex-M flash controller offers (STM32H7: 7; STM32L4: 4)


def run_count(text: str) -> int:
    return _integer(text, 1, MAX_RUNS, f"give 1 to {MAX_RUNS} timed runs")


def warmup_count(text: str) -> int:
    return _integer(text, 0, MAX_WARMUP, f"give 0 to {MAX_WARMUP} warm-up runs")


def flash_wait_states(text: str) -> int:
    return _integer(text, 0, MAX_FLASH_WAIT_STATES, f"give 0 to {MAX_FLASH_WAIT_STATES} wait states")


def calibration_count(text: str) -> int:
    return _integer(text, 1, MAX_CALIBRATION_SAMPLES, f"give 1 to {MAX_CALIBRATION_SAMPLES} calibration samples")


def evaluation_count(text: str) -> int:
    return _integer(text, 1, MAX_EVALUATION_SAMPLES, f"give 1 to {MAX_EVALUATION_SAMPLES} evaluation samples")


TFLM_RUNTIMES = ("tflm-cmsis-nn", "tflm-reference")  # targets/cortex_m/tflm_runtime.py RUNTIMES


def tflm_runtimes(text: str) -> tuple:
    """'tflm-cmsis-nn,tflm-reference' (or 'all') -> the TFLM runtimes to measure, distinct, in the order given."""
    names = TFLM_RUNTIMES if text.strip() == "all" else tuple(part.strip() for part in text.split(","))
    unknown = [name for name in names if name not in TFLM_RUNTIMES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown TFLM runtime '{unknown[0]}': give a comma list of "
                                         f"{', '.join(TFLM_RUNTIMES)}, or all")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"'{text}' repeats a runtime")
    return names


def thread_counts(text: str) -> tuple:
    """'1,2,4' -> (1, 2, 4): distinct counts from 1 to MAX_THREADS, in the order given."""
    counts = tuple(_integer(part.strip(), 1, MAX_THREADS, f"give thread counts from 1 to {MAX_THREADS}")
                   for part in text.split(","))
    if len(set(counts)) != len(counts):
        raise argparse.ArgumentTypeError(f"'{text}' repeats a thread count")
    return counts


def adb_serial(text: str) -> str:
    """An adb serial as `adb devices` lists them: one word, printable, not starting with '-'."""
    from mnd.base.shell_word import shell_word

    if not text or not text.isprintable() or any(c.isspace() for c in text) or text.startswith("-"):
        raise argparse.ArgumentTypeError(f"{shell_word(text)} is not an adb serial: give one word as "
                                         "'adb devices' lists it (e.g. emulator-5554 or 192.168.1.20:5555)")
    return text


def ssh_destination(text: str) -> str:
    """[user@]host[:port], checked the way the SSH transport reads it (no option-like host, port 1-65535)."""
    from mnd.targets.transport.base import TransportError
    from mnd.targets.transport.ssh import parse_destination

    try:
        parse_destination(text)
    except TransportError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def probe_address(text: str) -> str:
    """gdb://HOST:PORT, checked the way the probe runner reads it."""
    from mnd.base.errors import UsageError
    from mnd.targets.cortex_m.gdb_probe import parse_probe

    try:
        return parse_probe(text).url
    except UsageError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix(f"--probe {text!r}: ")) from None


def probe_reset(text: str) -> str:
    """One gdb `monitor` command (passed to the GDB server as it is)."""
    from mnd.base.errors import UsageError
    from mnd.targets.cortex_m.gdb_probe import parse_reset

    try:
        return parse_reset(text)
    except UsageError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix(f"--probe-reset {text!r}: ")) from None


DELEGATES = ("cpu", "xnnpack", "gpu", "nnapi")


def delegates(text: str) -> tuple:
    """'xnnpack,gpu' -> ('xnnpack', 'gpu'): known benchmark_model delegates, each once."""
    names = tuple(part.strip() for part in text.split(","))
    unknown = [name for name in names if name not in DELEGATES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown delegate {unknown[0]!r}: choose from {', '.join(DELEGATES)}")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"'{text}' repeats a delegate")
    return names


def cpu_mask(text: str) -> str:
    """A taskset mask: hexadecimal, not zero (e.g. f0)."""
    digits = text.lower().removeprefix("0x")
    if not digits or len(digits) > 16 or any(c not in "0123456789abcdef" for c in digits) or int(digits, 16) == 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not a CPU mask: give hexadecimal digits such as f0 (cores 4-7)")
    return digits


def export_formats(text: str) -> tuple:
    """'tflite,onnx' -> ('tflite', 'onnx'): `mnd export --formats`, checked before any work."""
    from mnd.pipeline.export.formats import parse_formats

    try:
        return parse_formats(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
