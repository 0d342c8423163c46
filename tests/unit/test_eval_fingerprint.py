"""The fingerprint of a run's data (pipeline/data/fingerprint.py): mnd reads the folder a manifest names only while
it holds exactly the files, with the bytes, recorded when the run was made; otherwise one DataError line that
names the fix and shows nothing found in that folder."""
import pytest

from mnd.base.errors import DataError
from mnd.pipeline.data import fingerprint

MANIFEST = "run/manifest.json"


def write(root, files: dict):
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    return root


@pytest.fixture
def data(tmp_path):
    """An image folder (a/, b/)."""
    return write(tmp_path / "data", {"a/1.png": b"a1", "a/2.png": b"a2", "b/1.png": b"b1"})


def refused(source, recorded, *phrases) -> str:
    with pytest.raises(DataError) as caught:
        fingerprint.verify(str(source), recorded, MANIFEST)
    message = str(caught.value)
    assert "\n" not in message and "--eval DATA" in message, message
    assert all(phrase in message for phrase in phrases), message
    return message


def test_unchanged_data_and_built_in_sets_are_read(data):
    recorded = fingerprint.take(str(data))
    assert recorded["files"] == ["a/1.png", "a/2.png", "b/1.png"]
    fingerprint.verify(str(data), recorded, MANIFEST)
    assert fingerprint.take("digits") is None
    fingerprint.verify("digits", None, MANIFEST)


def test_a_label_file_dataset_is_its_label_file_and_the_files_its_rows_name(tmp_path):
    folder = write(tmp_path / "list", {"labels.csv": b"file,label\nimg/x.png,0\nimg/y.png,1\n", "img/x.png": b"x",
                                       "img/y.png": b"y", "notes/private.txt": b"not data"})
    for source in (folder, folder / "labels.csv"):
        recorded = fingerprint.take(str(source))
        assert recorded["files"] == ["img/x.png", "img/y.png", "labels.csv"]
        fingerprint.verify(str(source), recorded, MANIFEST)
    (folder / "img" / "y.png").write_bytes(b"Y")
    refused(folder, recorded, "not what it was when the run was made")


@pytest.mark.parametrize("change", ["byte", "added", "removed", "link out", "climbing name"])
def test_changed_data_is_not_read(data, tmp_path, change):
    recorded = fingerprint.take(str(data))
    if change == "byte":
        (data / "a" / "1.png").write_bytes(b"A1")
    elif change == "added":
        (data / "b" / "2.png").write_bytes(b"new")
    elif change == "removed":
        (data / "b" / "1.png").unlink()
    elif change == "link out":
        (tmp_path / "elsewhere.png").write_bytes(b"a2")
        (data / "a" / "2.png").unlink()
        (data / "a" / "2.png").symlink_to(tmp_path / "elsewhere.png")
        recorded = fingerprint.take(str(data))  # recorded through the link, refused when read back
    else:
        recorded = {**recorded, "files": ["../elsewhere.png", *recorded["files"]]}
    refused(data, recorded, "not what it was when the run was made")


def test_another_folder_is_refused_without_showing_what_it_holds(data, tmp_path):
    other = write(tmp_path / "private", {"secret-name.txt": b"secret-content"})
    message = refused(other, fingerprint.take(str(data)), repr(str(other)))
    assert "secret" not in message.replace(str(other), "")
    assert "records no fingerprint" in refused("/etc", None)  # a run made before fingerprints, or a hostile one
