"""A run directory can come from anyone: `mnd measure RUN` and `mnd export --model RUN` refuse a damaged or hostile
one with one error line (exit 2, no traceback) and touch nothing, inside the run or outside it."""
import hashlib
import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from mnd.targets.registry import get_target
from tests.conftest import skip_or_fail
from tests.untrusted_runs import FAST

pytestmark = pytest.mark.slow


def snapshot(root: Path) -> dict:
    """Every entry under root (itself included): kind, mode, link target or content hash, modification time."""
    entries = {}
    for path in [root, *sorted(root.rglob("*"))]:
        status = os.lstat(path)
        if stat.S_ISLNK(status.st_mode):
            what = os.readlink(path)
        elif stat.S_ISREG(status.st_mode):
            what = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            what = None
        entries[str(path.relative_to(root))] = (stat.S_IFMT(status.st_mode), stat.S_IMODE(status.st_mode), what,
                                                status.st_mtime_ns)
    return entries


def assert_refused(result, phrase: str) -> None:
    errors = [line for line in result.stderr.splitlines() if line.startswith("mnd: error:")]
    assert result.returncode == 2, result.stderr
    assert len(errors) == 1 and phrase in errors[0], result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def edit_manifest(run: Path, change) -> None:
    doc = json.loads((run / "manifest.json").read_text())
    change(doc)
    (run / "manifest.json").write_text(json.dumps(doc, indent=2))


def artifact(doc: dict, kind: str = "tflite_int8") -> dict:
    return next(a for a in doc["artifacts"] if a["kind"] == kind)


def point_outside(absolute: bool):
    """The int8 artifact moved out of the run, its path pointing there: size and sha256 still match."""
    def change(run: Path, outside: Path) -> None:
        doc = json.loads((run / "manifest.json").read_text())
        moved = outside / "model.tflite"
        (run / artifact(doc)["path"]).rename(moved)
        edit_manifest(run, lambda d: artifact(d).update(path=str(moved) if absolute else "../outside/model.tflite"))
    return change


def link_outside(run: Path, outside: Path) -> None:
    """The int8 artifact replaced by a symbolic link to an identical file outside the run."""
    path = run / artifact(json.loads((run / "manifest.json").read_text()))["path"]
    path.rename(outside / "model.tflite")
    path.symlink_to(outside / "model.tflite")


def tamper_bytes(run: Path, outside: Path) -> None:
    path = run / artifact(json.loads((run / "manifest.json").read_text()))["path"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))


def truncate(run: Path, outside: Path) -> None:
    text = (run / "manifest.json").read_text()
    (run / "manifest.json").write_text(text[:len(text) // 2])


def edited(change):
    return lambda run, outside: edit_manifest(run, change)


HOSTILE = {
    "parent path": (point_outside(absolute=False), "leads outside"),
    "etc passwd": (edited(lambda d: artifact(d).update(path="../../etc/passwd")), "leads outside"),
    "absolute path": (point_outside(absolute=True), "is absolute"),
    "symlinked artifact": (link_outside, "leads outside"),
    "changed sha256": (edited(lambda d: artifact(d).update(sha256="0" * 64)), "sha256"),
    "tampered bytes": (tamper_bytes, "sha256"),
    "changed size": (edited(lambda d: artifact(d).update(bytes=artifact(d)["bytes"] + 1)), "bytes"),
    "unknown kind": (edited(lambda d: artifact(d).update(kind="tflite_int4")), "is not one of"),
    "wrong schema": (edited(lambda d: d.update(schema="mnd.manifest/2")), "schema 'mnd.manifest/2'"),
    "training schema": (edited(lambda d: d.update(schema="mnd.run/1")), "training run"),
    "truncated": (truncate, "not valid JSON"),
    "extra key": (edited(lambda d: d.update(extra=1)), "unknown key 'extra'"),
    "extra artifact key": (edited(lambda d: artifact(d).update(extra=1)), "unknown key 'extra'"),
    "missing key": (edited(lambda d: d.pop("artifacts")), "missing key 'artifacts'"),
    "missing nested key": (edited(lambda d: d["data"]["evaluation"].pop("split")), "missing key 'split'"),
    "wrong type": (edited(lambda d: d["model"].update(classes="10")), "model.classes: a string"),
    "not an object": (edited(lambda d: d.update(measurements={})), "measurements: an object"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_measure_refuses_a_hostile_manifest_and_touches_nothing(exported, tmp_path, mnd, case):
    change, phrase = HOSTILE[case]
    run, outside = tmp_path / "run", tmp_path / "outside"
    shutil.copytree(exported[0], run, symlinks=True)
    outside.mkdir()
    (outside / "precious.txt").write_text("keep")
    change(run, outside)
    before = snapshot(tmp_path)
    assert_refused(mnd("measure", run, "--target", "host", *FAST), phrase)
    assert snapshot(tmp_path) == before


@pytest.fixture
def cortex_run(exported, tmp_path):
    if not (exported[0] / "cortex-m4").is_dir():
        skip_or_fail(f"the cortex-m4 target is unavailable: {get_target('cortex-m4').check()}")
    run = tmp_path / "run"
    shutil.copytree(exported[0], run, symlinks=True)
    (tmp_path / "outside").mkdir()
    return run


@pytest.mark.emulator
def test_measure_refuses_a_core_folder_linked_outside_the_run(cortex_run, mnd):
    outside = cortex_run.parent / "outside"
    (cortex_run / "cortex-m4").rename(outside / "cortex-m4")
    (cortex_run / "cortex-m4").symlink_to(outside / "cortex-m4", target_is_directory=True)
    before = snapshot(cortex_run.parent)
    assert_refused(mnd("measure", cortex_run, "--target", "cortex-m4"), "is a symbolic link")
    assert snapshot(cortex_run.parent) == before


@pytest.mark.emulator
def test_measure_never_writes_through_links_inside_the_core_folder(cortex_run, mnd):
    """The project is built beside RUN/cortex-m4/ and renamed into place: a planted link is replaced, not followed."""
    victim = cortex_run.parent / "outside" / "victim.c"
    victim.write_text("/* not mnd's */\n")
    (cortex_run / "cortex-m4" / "model.c").unlink()
    (cortex_run / "cortex-m4" / "model.c").symlink_to(victim)
    (cortex_run / "cortex-m4").chmod(0o750)
    before = snapshot(victim.parent)
    mnd("measure", cortex_run, "--target", "cortex-m4", check=0)
    assert snapshot(victim.parent) == before
    model_c = cortex_run / "cortex-m4" / "model.c"
    assert not model_c.is_symlink() and "mnd_model_invoke" in model_c.read_text()
    assert stat.S_IMODE((cortex_run / "cortex-m4").stat().st_mode) == 0o750
    assert [p.name for p in cortex_run.iterdir() if p.name.startswith(".")] == []


def test_measure_keeps_the_modes_of_manifest_and_report(exported, tmp_path, mnd):
    run = tmp_path / "run"
    shutil.copytree(exported[0], run, symlinks=True)
    (run / "manifest.json").chmod(0o644)
    (run / "report.md").chmod(0o640)
    before = (run / "manifest.json").read_text()
    result = mnd("measure", run, "--target", "host", *FAST, check=0)
    assert (run / "manifest.json").read_text() != before and "Traceback" not in result.stderr
    assert stat.S_IMODE((run / "manifest.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((run / "report.md").stat().st_mode) == 0o640
    assert [p.name for p in run.iterdir() if p.name.startswith(".")] == []
    assert json.loads((run / "manifest.json").read_text())["schema"] == "mnd.manifest/1"


def truncate_training(run: Path) -> None:
    text = (run / "manifest.json").read_text()
    (run / "manifest.json").write_text(text[:len(text) // 2])


def edit_training(change):
    return lambda run: edit_manifest(run, change)


TRAINING = {
    "truncated": (truncate_training, "not valid JSON"),
    "extra key": (edit_training(lambda d: d.update(extra=1)), "unknown key 'extra'"),
    "missing key": (edit_training(lambda d: d.pop("dataset")), "missing key 'dataset'"),
    "model file outside": (edit_training(lambda d: d.update(model_file="../../etc/passwd")), "leads outside"),
    "wrong schema": (edit_training(lambda d: d.update(schema="mnd.run/2")), "schema 'mnd.run/2'"),
    "dataset elsewhere": (edit_training(lambda d: d["dataset"].update(source="/etc")),
                          "records no fingerprint of its data '/etc'"),
}


@pytest.mark.parametrize("case", TRAINING)
def test_export_refuses_a_damaged_training_run(exported, tmp_path, mnd, case):
    change, phrase = TRAINING[case]
    run = tmp_path / "trained"
    shutil.copytree(exported[1], run, symlinks=True)
    change(run)
    before = snapshot(tmp_path)
    assert_refused(mnd("export", "--model", run, "--target", "host", "--out", tmp_path / "out", *FAST), phrase)
    assert snapshot(tmp_path) == before


def image_folder(root: Path) -> Path:
    """Ten classes of two tiny grayscale images: evaluation data for the digits model."""
    from PIL import Image

    for label in range(10):
        (root / f"class{label}").mkdir(parents=True)
        for index in range(2):
            Image.new("L", (8, 8), 25 * label + index).save(root / f"class{label}" / f"{index}.png")
    return root


def test_measure_reads_only_the_evaluation_data_it_can_verify(exported, tmp_path, mnd):
    """A manifest naming another folder (or one from before fingerprints) is refused without a look inside it;
    --eval DATA is measured and recorded with its fingerprint, and DATA changed afterwards is refused too."""
    run = tmp_path / "run"
    shutil.copytree(exported[0], run, symlinks=True)
    edit_manifest(run, lambda d: d["data"]["evaluation"].update(source="/etc", split=None, part="all"))
    before = snapshot(run)
    result = mnd("measure", run, "--target", "host", *FAST)
    assert_refused(result, "records no fingerprint of its data '/etc'")
    assert "mnd measure RUN --eval DATA" in result.stderr and "passwd" not in result.stderr + result.stdout
    assert snapshot(run) == before
    data = image_folder(tmp_path / "data")
    mnd("measure", run, "--target", "host", "--eval", data, *FAST, check=0)
    recorded = json.loads((run / "manifest.json").read_text())["data"]["evaluation"]
    assert recorded["source"] == str(data) and len(recorded["fingerprint"]["files"]) == 20
    (data / "class0" / "0.png").write_bytes(b"changed")
    assert_refused(mnd("measure", run, "--target", "host", *FAST), "is not what it was when the run was made")
