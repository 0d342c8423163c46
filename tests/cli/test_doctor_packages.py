"""`mnd doctor`, `mnd targets` and a target's own check say, from targets/toolchain.py's table, which Debian packages
each target lacks here and the one command that installs exactly those; here on a PATH with no tools on it."""
import json

from mnd.targets import toolchain

BARE = {"PATH": "/nonexistent"}  # mnd's console script names its Python by absolute path


def cortex_m_install() -> str:
    """The command for cortex-m on that PATH: every command's package, and the library folders absent here."""
    missing = [tool.package for tool in toolchain.tools(("cortex-m",))
               if not tool.name.startswith("/") or not tool.path()]
    return toolchain.install_command(list(dict.fromkeys(missing)))


def test_doctor_names_each_targets_missing_packages_and_the_command(mnd, tmp_path):
    doctor = json.loads(mnd("doctor", "--json", env=BARE, check=0).stdout)
    rows = {row["name"]: row for row in doctor["targets"]}
    assert rows["cortex-m4"]["install"] == cortex_m_install() and rows["host"]["install"] is None
    assert rows["android"]["missing_packages"][0] == "adb"
    text = mnd("doctor", env=BARE, check=0).stdout
    assert f"cortex-m4    missing, install with: {cortex_m_install()}" in text
    assert "adb" in doctor["install_debian"].split() and "gcc-arm-none-eabi" in doctor["install_debian"].split()
    targets = {row["name"]: row for row in json.loads(mnd("targets", "--json", env=BARE, check=0).stdout)}
    assert not targets["cortex-m4"]["available"] and cortex_m_install() in targets["cortex-m4"]["reason"]
    result = mnd("export", "--target", "cortex-m4", "--out", tmp_path / "x", env=BARE, check=2)
    assert result.stderr.startswith("mnd: error: cortex-m4: ") and cortex_m_install() in result.stderr
    assert len(result.stderr.splitlines()) == 1 and not (tmp_path / "x").exists()
