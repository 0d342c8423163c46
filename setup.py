"""Installs the repository's stage folders under one import namespace: pipeline/ -> mnd.pipeline, etc.

Metadata lives in pyproject.toml; this file only computes the package list, so a new subpackage is never left
out of the wheel. `mnd` itself is an implicit namespace package: its only contents are these three.
"""
from setuptools import find_packages, setup

STAGES = ("pipeline", "quantize", "targets")
NON_PYTHON = ["*.c", "*.h", "*.S", "*.ld.in", "*.txt", "*.md", "*.npz", "Makefile*"]

setup(
    packages=[f"mnd.{name}" for stage in STAGES for name in (stage, *(f"{stage}.{sub}" for sub in find_packages(stage)))],
    package_dir={f"mnd.{stage}": stage for stage in STAGES},
    package_data={f"mnd.{stage}": [f"{depth}{pattern}" for depth in ("", "*/", "*/*/", "*/*/*/")
                                   for pattern in NON_PYTHON] for stage in STAGES},
)
