"""Staging, backup and temporary names beside --out fit NAME_MAX even when --out's own name uses all of it."""
import os

import pytest

from mnd.pipeline import rundir


@pytest.mark.parametrize("tag", ["partial", "old", "tmp"])
def test_a_sibling_of_a_name_max_name_fits(tmp_path, tag):
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    prefix = rundir.sibling_prefix(tmp_path / ("é" * (limit // 2) + "r" * (limit % 2)), tag)
    assert len(os.fsencode(prefix)) + rundir.TEMPORARY_CHARACTERS <= limit
    assert prefix.startswith(".é") and prefix.endswith(f".{tag}-")
    assert "\ufffd" not in prefix and os.fsdecode(os.fsencode(prefix)) == prefix  # cut between characters


def test_a_short_name_keeps_its_whole_name(tmp_path):
    assert rundir.sibling_prefix(tmp_path / "O", "partial") == ".O.partial-"


def test_a_run_with_a_name_max_name_is_published_then_replaced(tmp_path):
    out = tmp_path / ("r" * os.pathconf(tmp_path, "PC_NAME_MAX"))
    for force in (False, True):
        destination = rundir.claim(out, force)
        staging = rundir.staging_dir(destination)
        rundir.write_json(staging / "manifest.json", {"schema": "mnd.manifest/1", "force": force})
        rundir.publish(staging, destination)
        assert '"force": ' + ("true" if force else "false") in (out / "manifest.json").read_text()
        assert [path.name for path in tmp_path.iterdir()] == [out.name]
