"""The fingerprint of an export's evaluation data (pipeline/data/fingerprint.py): `mnd measure` reads the folder a
manifest names only while it holds exactly the files, with the bytes, recorded at export; otherwise one DataError
line that names --eval DATA and shows nothing found in that folder."""
import pytest

from mnd.pipeline.data import fingerprint
from mnd.pipeline.errors import DataError

MANIFEST = "run/manifest.json"


@pytest.fixture
def data(tmp_path):
    for name in ("a/1.png", "a/2.png", "b/1.png", "labels.csv"):
        (tmp_path / "data" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "data" / name).write_bytes(name.encode())
    return tmp_path / "data"


def refused(source, recorded, *phrases) -> str:
    with pytest.raises(DataError) as caught:
        fingerprint.verify(str(source), recorded, MANIFEST)
    message = str(caught.value)
    assert "\n" not in message and "--eval DATA" in message, message
    assert all(phrase in message for phrase in phrases), message
    return message


def test_unchanged_data_and_built_in_sets_are_read(data):
    recorded = fingerprint.take(str(data))
    assert recorded["files"] == ["a/1.png", "a/2.png", "b/1.png", "labels.csv"]
    fingerprint.verify(str(data), recorded, MANIFEST)
    fingerprint.verify(str(data / "labels.csv"), fingerprint.take(str(data / "labels.csv")), MANIFEST)
    assert fingerprint.take("digits") is None
    fingerprint.verify("digits", None, MANIFEST)


@pytest.mark.parametrize("change", ["byte", "added", "removed", "link out", "climbing name"])
def test_changed_data_is_not_read(data, tmp_path, change):
    recorded = fingerprint.take(str(data))
    if change == "byte":
        (data / "a" / "1.png").write_bytes(b"A/1.png")
    elif change == "added":
        (data / "b" / "2.png").write_bytes(b"new")
    elif change == "removed":
        (data / "labels.csv").unlink()
    elif change == "link out":
        (tmp_path / "elsewhere.png").write_bytes(b"a/2.png")
        (data / "a" / "2.png").unlink()
        (data / "a" / "2.png").symlink_to(tmp_path / "elsewhere.png")
    else:
        recorded = {**recorded, "files": ["../elsewhere.png", *recorded["files"]]}
    refused(data, recorded, "not what it was when the run was made")


def test_another_folder_is_refused_without_showing_what_it_holds(data, tmp_path):
    other = tmp_path / "private"
    other.mkdir()
    (other / "secret-name.txt").write_text("secret-content")
    message = refused(other, fingerprint.take(str(data)), repr(str(other)))
    assert "secret" not in message.replace(str(other), "")
    assert "records no fingerprint" in refused("/etc", None)  # an export made before fingerprints
