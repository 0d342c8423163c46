"""The one mapping of refused writes to an error line, and the one all-or-nothing writer of a run's files."""
import errno
import os
import resource

import pytest

from mnd.base.errors import OutputError
from mnd.base.process_group import run_group
from mnd.base.refused_writes import refused_write
from mnd.pipeline import rundir


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM])
def test_every_refused_write_becomes_one_output_error_naming_the_file(code):
    error = refused_write(OSError(code, os.strerror(code), "out/run/model.tflite"))
    assert isinstance(error, OutputError) and error.exit_code == 2
    assert "'out/run/model.tflite'" in str(error) and os.strerror(code) in str(error) and "\n" not in str(error)


def test_other_errors_are_left_alone():
    assert refused_write(OSError(errno.ENOENT, "No such file or directory", "x")) is None
    assert refused_write(PermissionError(errno.EPERM, "Operation not permitted")) is None  # kill(2), not a file
    assert refused_write(ValueError("bad shape")) is None


def test_a_library_that_reports_the_os_error_as_text_is_recognized():
    class ResourceExhaustedError(Exception):  # as TensorFlow's SaveV2 reports it
        pass
    error = refused_write(ResourceExhaustedError("{{function_node __wrapped__SaveV2}} /tmp/x/variables.data; "
                                                 "No space left on device [Op:SaveV2]"))
    assert "No space left on device" in str(error) and "function_node" not in str(error)
    h5py = OSError("Unable to synchronously create file (file write failed: errno = 28, error message = 'No space "
                   "left on device')")  # h5py's OSError carries no errno
    assert "No space left on device" in str(refused_write(h5py))


def limited_file_size(limit: int):
    """RLIMIT_FSIZE for this process until the block ends (Python ignores SIGXFSZ: writes fail with EFBIG)."""
    class Limit:
        def __enter__(self):
            self.old = resource.getrlimit(resource.RLIMIT_FSIZE)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, self.old[1]))

        def __exit__(self, *exc):
            resource.setrlimit(resource.RLIMIT_FSIZE, self.old)
    return Limit()


def test_replace_files_leaves_every_old_file_when_one_write_is_refused(tmp_path):
    (tmp_path / "manifest.json").write_text("old manifest")
    (tmp_path / "report.html").write_text("old report")
    with pytest.raises(OSError) as raised, limited_file_size(1000):
        rundir.replace_files(tmp_path, {"manifest.json": "new", "report.html": "x" * 5000})
    assert raised.value.errno == errno.EFBIG and raised.value.filename == str(tmp_path / "report.html")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["manifest.json", "report.html"]
    assert (tmp_path / "manifest.json").read_text() == "old manifest"
    assert (tmp_path / "report.html").read_text() == "old report"


def test_replace_files_replaces_a_link_itself_and_keeps_modes(tmp_path):
    (tmp_path / "elsewhere").write_text("not ours")
    (tmp_path / "report.md").symlink_to(tmp_path / "elsewhere")
    rundir.replace_files(tmp_path, {"report.md": "new", "sweep.json": "{}"}, {"report.md": 0o640})
    assert (tmp_path / "elsewhere").read_text() == "not ours" and not (tmp_path / "report.md").is_symlink()
    assert (tmp_path / "report.md").stat().st_mode & 0o777 == 0o640
    assert sorted(path.name for path in tmp_path.iterdir()) == ["elsewhere", "report.md", "sweep.json"]


def test_a_tool_stopped_by_the_file_size_limit_is_a_refused_write(tmp_path):
    with pytest.raises(OSError) as raised, limited_file_size(1000):
        run_group(["sh", "-c", f"exec head -c 5000 /dev/zero > {tmp_path}/big"], cwd=tmp_path)  # SIGXFSZ
    assert raised.value.errno == errno.EFBIG and "File too large" in str(refused_write(raised.value))
