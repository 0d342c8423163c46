"""Issue 25's memory acceptance: one epoch of mobilenet_v1_025_96 on a 20,000-image folder grows the peak resident
memory by less than 300 MB over the same run on 2,000 images (as float32 in memory the 20,000 images alone would be
about 2.2 GB). Each run is `mnd train` in a child of a fresh wrapper process, whose RUSAGE_CHILDREN peak is that
run's alone, with a private MND_CACHE so the cold cache build is part of it."""
import os
import subprocess
import sys
import time

import pytest

from tests.conftest import MND
from tests.synthetic_images import image_folder, jpegs

GROWTH_LIMIT_MB = 300
DISTINCT_JPEGS = 256
PEAK_OF_CHILD = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
                 "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def peak_rss_mb(dataset, out, cache) -> tuple:
    """(peak resident MB of `mnd train` for one epoch, wall seconds)."""
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", PEAK_OF_CHILD, str(MND), "train", "--model", "mobilenet_v1_025_96",
                             "--dataset", str(dataset), "--epochs", "1", "--val-split", "0.05", "--batch-size", "64",
                             "--out", str(out)],
                            capture_output=True, text=True, timeout=900, env={**os.environ, "MND_CACHE": str(cache)})
    assert result.returncode == 0, result.stderr[-2000:]
    return int(result.stdout.strip().splitlines()[-1]) / 1024, time.monotonic() - started


@pytest.mark.slow
def test_twenty_thousand_images_train_in_the_memory_of_two_thousand(tmp_path):
    encoded = jpegs(DISTINCT_JPEGS)
    small = image_folder(tmp_path / "small", 2_000, encoded)
    large = image_folder(tmp_path / "large", 20_000, encoded)
    small_mb, small_s = peak_rss_mb(small, tmp_path / "run_small", tmp_path / "cache")
    large_mb, large_s = peak_rss_mb(large, tmp_path / "run_large", tmp_path / "cache")
    print(f"peak RSS: 2,000 images {small_mb:.0f} MB ({small_s:.0f} s), 20,000 images {large_mb:.0f} MB "
          f"({large_s:.0f} s): growth {large_mb - small_mb:.0f} MB")
    assert large_mb - small_mb < GROWTH_LIMIT_MB
