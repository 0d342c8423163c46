"""The phone's facts for manifest.target.board, from getprop."""

PROPERTIES = {"model": "ro.product.model", "manufacturer": "ro.product.manufacturer",
              "android": "ro.build.version.release", "sdk": "ro.build.version.sdk", "abi": "ro.product.cpu.abi"}
MAX_VALUE = 200  # the phone's word, kept short for the manifest and the report
SOC_PROPERTIES = ("ro.soc.model", "ro.board.platform", "ro.hardware")  # newest first: ro.soc.model is Android 12+


def phone_record(properties: dict, serial: str) -> dict:
    """Model, SoC, Android version and ABI; `qemu` is true on an emulator (ro.kernel.qemu=1, which the Android
    emulator and mnd's test device set)."""
    record = {key: (properties.get(name) or "")[:MAX_VALUE] or None for key, name in PROPERTIES.items()}
    record["soc"] = next((properties[name][:MAX_VALUE] for name in SOC_PROPERTIES if properties.get(name)), None)
    record["serial"] = serial
    record["emulated"] = properties.get("ro.kernel.qemu") == "1"
    return record


def abi_problem(record: dict) -> str | None:
    """mnd-c is an arm64 executable: a phone of another ABI is refused by name."""
    abi = record.get("abi")
    if abi and abi != "arm64-v8a":
        return (f"the phone's ABI is {abi}; mnd's C engine is built for arm64-v8a (64-bit Arm phones); use an "
                "arm64 device")
    return None
