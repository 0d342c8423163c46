"""Installs the repository's stage folders under one import namespace: pipeline/ -> mnd.pipeline, etc.

Metadata lives in pyproject.toml; this file only computes the package list, so a new subpackage or data folder
(C sources, linker scripts) is never left out of the wheel. `mnd` itself is an implicit namespace package.
"""
from setuptools import find_namespace_packages, setup

STAGES = ("base", "pipeline", "quantize", "targets", "engine")
NON_PYTHON = ["*.c", "*.cc", "*.h", "*.S", "*.ld.in", "*.txt", "*.md", "*.npz", "Makefile*"]


def stage_packages(stage: str) -> list:
    return [stage, *(f"{stage}.{sub}" for sub in find_namespace_packages(stage, exclude=["*__pycache__*"]))]


setup(
    packages=[f"mnd.{name}" for stage in STAGES for name in stage_packages(stage)],
    package_dir={f"mnd.{stage}": stage for stage in STAGES},
    package_data={"": NON_PYTHON},
)
