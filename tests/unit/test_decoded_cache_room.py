"""The decoded-image cache's folder stays under MND_DECODED_CACHE_GB: least recently used entries go first, never
one a running process uses; a build the disk cannot hold is refused before anything is decoded. Builds run in
child processes (each entry is held by the process that opened it until that process exits)."""
import json
import os
import subprocess
import sys
import time

import pytest

from mnd.base.errors import DataError, UsageError
from mnd.pipeline.data import decoded_cache
from mnd.pipeline.data.cache_room import BOUND_VARIABLE
from mnd.pipeline.data.datasets import list_images
from mnd.pipeline.data.preprocess import Preprocessing
from tests.conftest import REPO
from tests.unit.test_data import make_folder

BUILD = """
import sys, time
from pathlib import Path
from mnd.pipeline.data import decoded_cache, fingerprint
from mnd.pipeline.data.datasets import list_images
from mnd.pipeline.data.preprocess import Preprocessing
from mnd.pipeline.log_setup import configure_logging
configure_logging(verbose=False)
source, cache_root, side, hold_seconds = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
cache = decoded_cache.open_or_build(list_images(source), Preprocessing(side=side, channels=3),
                                    fingerprint.take(source)["sha256"], cache_root, threads=1)
print(cache.key, flush=True)
time.sleep(hold_seconds)
"""


def _build(source, cache_root, side: int, bound_bytes: int | None = None, hold_seconds: float = 0):
    """A child process's open_or_build; with hold_seconds, the running child (its entry in use) is returned."""
    env = dict(os.environ)
    if bound_bytes is not None:
        env[BOUND_VARIABLE] = repr(bound_bytes / 1e9)
    command = [sys.executable, "-c", BUILD, str(source), str(cache_root), str(side), str(hold_seconds)]
    if hold_seconds:
        child = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
        return child, child.stdout.readline().strip()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip(), done.stderr


def _sizes(cache_root) -> dict:
    folder = cache_root / "decoded"
    return {entry.name: sum(f.stat().st_size for f in entry.iterdir()) for entry in folder.iterdir()
            if not entry.name.startswith(".")}


def test_the_least_recently_used_entry_not_in_use_goes_first(tmp_path):
    source, cache_root = make_folder(tmp_path / "pets"), tmp_path / "cache"
    first, _ = _build(source, cache_root, 8)
    second, _ = _build(source, cache_root, 10)
    time.sleep(0.05)  # the reuse below must be later than the second build on a coarse clock
    assert _build(source, cache_root, 8)[0] == first  # reused: now the most recently used
    sizes = _sizes(cache_root)
    third_size = 10 * (12 * 12 * 3 + 8) + 2000  # the third entry's records, labels and meta, about
    third, stderr = _build(source, cache_root, 12, bound_bytes=sizes[first] + third_size)
    assert set(_sizes(cache_root)) == {first, third}, stderr
    assert f"removed the least recently used decoded-image cache {second}" in stderr
    assert json.loads((cache_root / "decoded" / third / "meta.json").read_text())["samples"] == 10


def test_an_entry_in_use_is_never_removed_even_over_the_bound(tmp_path):
    source, cache_root = make_folder(tmp_path / "pets"), tmp_path / "cache"
    unused, _ = _build(source, cache_root, 10)
    child, in_use = _build(source, cache_root, 8, hold_seconds=60)
    try:
        newest, stderr = _build(source, cache_root, 12, bound_bytes=0)
        assert set(_sizes(cache_root)) == {in_use, newest}, stderr
        assert f"removed the least recently used decoded-image cache {unused}" in stderr
    finally:
        child.kill()
        child.communicate()
    assert not list((cache_root / "decoded").glob(".removing-*"))


def test_a_build_the_disk_cannot_hold_is_refused_before_decoding(tmp_path, monkeypatch):
    source, cache_root = make_folder(tmp_path / "pets"), tmp_path / "cache"
    huge = Preprocessing(side=1_000_000, channels=3)  # 3 TB an image: more than any disk here has free
    monkeypatch.setattr(decoded_cache, "_build", lambda *args: pytest.fail("decoding started"))
    with pytest.raises(DataError, match=r"^the decoded-image cache of pets needs 30000\.00 GB in .*decoded and "
                                        r"its disk has [0-9.]+ GB free: free some space, point MND_CACHE at a larger "
                                        r"disk, or train at a smaller --resolution$"):
        decoded_cache.open_or_build(list_images(str(source)), huge, "f" * 64, cache_root)
    assert list((cache_root / "decoded").iterdir()) == []


@pytest.mark.parametrize("value", ["abc", "-1", "inf", "nan"])
def test_a_bound_that_is_not_a_size_is_refused_naming_the_variable(tmp_path, monkeypatch, value):
    monkeypatch.setenv(BOUND_VARIABLE, value)
    source = make_folder(tmp_path / "pets")
    with pytest.raises(UsageError, match=rf"^{BOUND_VARIABLE}='{value}' is not a size in GB: give a number such as "
                                         r"50 \(0 keeps only the datasets in use and the one being built\)$"):
        decoded_cache.open_or_build(list_images(str(source)), Preprocessing(side=8, channels=3), "f" * 64,
                                    tmp_path / "cache")


def test_doctor_reports_the_cache_folder_and_the_decoded_share_under_its_bound(tmp_path, monkeypatch):
    from mnd.pipeline.cache_usage import cache_usage, format_usage

    source, cache_root = make_folder(tmp_path / "pets"), tmp_path / "cache"
    key, _ = _build(source, cache_root, 8)
    (cache_root / "decoded" / ".building-0-abandoned").mkdir()  # not a dataset
    (cache_root / "model.bin").write_bytes(bytes(1000))
    monkeypatch.setenv("MND_CACHE", str(cache_root))
    monkeypatch.setenv(BOUND_VARIABLE, "0.5")
    usage = cache_usage()
    assert usage["decoded_datasets"] == 1 and usage["decoded_bytes"] == _sizes(cache_root)[key]
    assert usage["bytes"] == usage["decoded_bytes"] + 1000 and usage["decoded_bound_bytes"] == 500_000_000
    assert format_usage(usage) == (f"cache: {cache_root} (MND_CACHE): 0.00 GB; decoded images: 0.00 GB in 1 "
                                   "dataset(s), kept under 0.5 GB (MND_DECODED_CACHE_GB)")
