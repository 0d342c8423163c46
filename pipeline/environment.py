"""Versions and machine facts recorded in manifests (latency ratios depend on the CPU)."""
import platform
from importlib import metadata

PACKAGES = ("mobilenet-deploy", "tensorflow-cpu", "keras", "ai-edge-litert", "tflite-micro", "onnx",
            "onnxruntime", "tf2onnx", "numpy", "pillow")
ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_int8",
             "asimd", "asimddp", "sve", "i8mm")


def package_versions() -> dict:
    """Each package's version (None: missing). TensorFlow is whichever build is installed: tensorflow-cpu (the [cpu]
    extra) or tensorflow (the [gpu] one); both listed means both wheels wrote the same module (reinstall one)."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        versions[name] = _version(name)
        if name == "tensorflow-cpu" and _version("tensorflow") is not None:
            if versions[name] is None:
                del versions[name]
            versions["tensorflow"] = _version("tensorflow")
    return versions


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def cpu_facts() -> dict:
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "Model") and value.strip():
                    model = value.strip()
                elif key in ("flags", "Features"):
                    flags.update(value.split())
    except OSError:
        pass
    return {"machine": platform.machine(), "cpu_model": model,
            "isa_flags": [flag for flag in ISA_FLAGS if flag in flags]}


def environment() -> dict:
    return {**package_versions(), **cpu_facts(), "system": platform.system()}
