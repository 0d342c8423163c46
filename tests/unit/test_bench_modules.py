"""Every `make bench` entry imports and has run(): a renamed function must not break a benchmark unnoticed."""
import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
MODULES = sorted(p.stem for p in BENCH.glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("name", MODULES)
def test_bench_module_imports(name):
    importlib.import_module(f"tests.bench.{name}")


def test_every_registered_benchmark_runs_from_a_module_here():
    from tests.bench import run

    for name, module in run.BENCHMARKS.items():
        module = importlib.import_module(f"tests.bench.{module}")
        assert callable(getattr(module, "run", None)), name
