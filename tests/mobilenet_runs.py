"""Session fixtures (registered by tests/conftest.py's pytest_plugins): ONE MobileNet V2 and ONE V3 model for the
whole test run, shared by every target's tests and both pytest-xdist workers (conftest.built_once).

Each is trained for two epochs on vww_dev (`mnd train`, about a minute) and exported once to cortex-m4 on
EVAL_SAMPLES evaluation images; the other targets re-measure a copy of that export (`mnd measure COPY --target T`),
so every target sees the same int8 model and the same images. Tests must not modify what these return."""
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import built_once, run_mnd

EVAL_SAMPLES = 10
MODELS = {"v2": "mobilenet_v2_035_96", "v3": "mobilenet_v3_small_075_96"}


def _trained(tmp_path_factory, assets: Path, family: str) -> Path:
    return built_once(tmp_path_factory, f"{family}-vww-run", lambda out: run_mnd(
        "train", "--model", MODELS[family], "--dataset", assets / "vww_dev", "--epochs", "2", "--out", out, check=0))


def _exported(tmp_path_factory, assets: Path, family: str) -> Path:
    """The cortex-m4 export of the family's run (it needs the Cortex-M toolchain: callers check it first)."""
    run = _trained(tmp_path_factory, assets, family)
    return built_once(tmp_path_factory, f"{family}-vww-cortex-m4", lambda out: run_mnd(
        "export", "--model", run, "--target", "cortex-m4", "--eval-samples", EVAL_SAMPLES, "--out", out, check=0))


@pytest.fixture(scope="session")
def v2_export(assets, tmp_path_factory) -> Path:
    return _exported(tmp_path_factory, assets, "v2")


@pytest.fixture(scope="session")
def v3_export(assets, tmp_path_factory) -> Path:
    return _exported(tmp_path_factory, assets, "v3")


def measured_copy(export: Path, destination: Path, target: str, *flags, env=None) -> dict:
    """`mnd measure` on a copy of a shared export (the shared one stays as built); the copy's manifest."""
    shutil.copytree(export, destination)
    run_mnd("measure", destination, "--target", target, *flags, env=env, timeout=1800, check=0)
    return json.loads((destination / "manifest.json").read_text())


def rows(manifest: dict, target: str) -> list:
    return [m for m in manifest["measurements"] if m["target"] == target]
