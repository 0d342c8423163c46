"""pip install mobilenet-deploy[cpu] or [gpu]: TensorFlow comes from exactly one extra, the same version in both,
since tensorflow-cpu and tensorflow install the same `tensorflow` module."""
import tomllib

from tests.conftest import REPO


def test_tensorflow_is_pinned_once_per_extra_and_never_in_the_base():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert not [pin for pin in project["dependencies"] if pin.startswith("tensorflow")]
    extras = project["optional-dependencies"]
    assert extras["cpu"] == ["tensorflow-cpu==2.21.0"] and extras["gpu"] == ["tensorflow[and-cuda]==2.21.0"]
    assert "--extra cpu" in (REPO / "Makefile").read_text()
