"""Targets by name. Adding a target is adding one module with an @register_target class and its name to
TARGET_MODULES; the registry imports those modules by name, so no target module imports another."""
import importlib

from mnd.base.errors import MndError, did_you_mean

TARGET_MODULES = ("mnd.targets.host", "mnd.targets.cortex_m.target", "mnd.targets.linux_arm64.target",
                  "mnd.targets.android.target")
_REGISTRY = {}


class UnknownTarget(MndError):
    """No target of that name is registered."""


def register_target(cls):
    _REGISTRY[cls.name] = cls
    return cls


def target_names() -> list:
    _load_targets()
    return sorted(_REGISTRY)


def get_target(name: str):
    _load_targets()
    if name not in _REGISTRY:
        raise UnknownTarget(f"unknown target '{name}'{did_you_mean(name, _REGISTRY)} "
                            f"(registered: {', '.join(sorted(_REGISTRY))}; see 'mnd targets')")
    return _REGISTRY[name]()


def _load_targets() -> None:
    for module in TARGET_MODULES:
        importlib.import_module(module)  # each module registers its targets when first imported
