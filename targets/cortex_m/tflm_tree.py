"""A TFLite-Micro source tree with CMSIS-NN, as `--tflm-source DIR` or MND_TFLM_SOURCE names it, in one of two
layouts (anything else is refused with one line naming the fix):

- checkout: a git checkout of tensorflow/tflite-micro after `make -f tensorflow/lite/micro/tools/make/Makefile
  third_party_downloads` (flatbuffers, gemmlowp, ruy and CMSIS in tools/make/downloads/), with CMSIS-NN beside
  the checkout (../CMSIS-NN, a clone of ARM-software/CMSIS-NN) or in downloads/cmsis_nn;
- vendored: the flat tree of ../shared/vendor/tflm-cmsis-nn (tensorflow/ and third_party/<library>/).

The tree's key is a hash of every source and header file the build can include (relative path and content), so a
changed tree never reuses a cached library built from another.
"""
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from mnd.base.errors import UsageError

ENVIRONMENT = "MND_TFLM_SOURCE"
INTERPRETER = Path("tensorflow/lite/micro/micro_interpreter.h")
DOWNLOADS = Path("tensorflow/lite/micro/tools/make/downloads")
CMSIS_NN_HEADER = Path("Include/arm_nnfunctions.h")
PROVENANCE = "PROVENANCE.txt"  # a vendored tree's record of its upstream commits
_COMMIT = re.compile(r"\b[0-9a-f]{40}\b")
SOURCE_SUFFIXES = (".h", ".hpp", ".c", ".cc", ".inc")
# Folders of a checkout that no library file includes: skipped when hashing the tree.
UNUSED_FOLDERS = frozenset(("tools", "examples", "python", "integration_tests", "benchmarks", "docs", "testing",
                            "testdata", ".git"))


@dataclass(frozen=True)
class TflmTree:
    root: Path           # holds tensorflow/
    layout: str          # "checkout" | "vendored"
    cmsis_nn: Path       # CMSIS-NN: Include/ and Source/
    flatbuffers: Path    # its include/ folder
    gemmlowp: Path
    ruy: Path
    cmsis_core: Path | None  # CMSIS/Core/Include, when present

    def include_dirs(self) -> list:
        dirs = [self.root, self.flatbuffers, self.gemmlowp, self.ruy, self.cmsis_nn, self.cmsis_nn / "Include"]
        return dirs + ([self.cmsis_core] if self.cmsis_core else [])

    def key(self) -> str:
        """16 hex digits of a hash of every source and header file the library build can see."""
        digest = hashlib.sha256()
        for label, folder in (("tensorflow", self.root / "tensorflow"), ("signal", _present(self.root / "signal")),
                              ("cmsis_nn", self.cmsis_nn), ("flatbuffers", self.flatbuffers),
                              ("gemmlowp", self.gemmlowp), ("ruy", self.ruy), ("cmsis", self.cmsis_core)):
            if folder is None:
                continue
            for path in _source_files(folder):
                digest.update(f"{label}/{path.relative_to(folder).as_posix()}\0".encode())
                digest.update(hashlib.sha256(path.read_bytes()).digest())
        return digest.hexdigest()[:16]

    def record(self) -> dict:
        """The manifest's note of this tree: where, which layout, its content key and the commits it declares."""
        return {"path": str(self.root), "layout": self.layout, "key": self.key(), "declared": self.declared()}

    def declared(self) -> dict:
        """Upstream commits the tree states: a vendored tree's PROVENANCE.txt lines (`folder | repository | commit
        ...`), a checkout's git HEAD and CMSIS-NN's; {} where it states none."""
        if self.layout == "vendored":
            return provenance_commits(_text(self.root / PROVENANCE))
        heads = {"tflite-micro": git_head(self.root), "CMSIS-NN": git_head(self.cmsis_nn)}
        return {name: head for name, head in heads.items() if head}


def provenance_commits(text: str) -> dict:
    """{repository name: first 40-hex commit} from `folder | https://github.com/OWNER/NAME | commit ...` lines."""
    found = {}
    for line in text.splitlines():
        fields = [field.strip() for field in line.split("|")]
        if line.startswith("#") or len(fields) < 3 or "://" not in fields[1]:
            continue
        commit = _COMMIT.search(fields[2])
        if commit:
            found.setdefault(fields[1].rstrip("/").rsplit("/", 1)[-1], commit.group(0))
    return found


def git_head(folder: Path) -> str | None:
    """The commit a git checkout's HEAD names (a loose or packed ref, or a detached HEAD), read from .git itself."""
    git = folder / ".git"
    head = _text(git / "HEAD").strip()
    if not head.startswith("ref: "):
        return head if _COMMIT.fullmatch(head) else None
    ref = head.removeprefix("ref: ").strip()
    loose = _text(git / ref).strip()
    if _COMMIT.fullmatch(loose):
        return loose
    for line in _text(git / "packed-refs").splitlines():
        commit, _, name = line.partition(" ")
        if name.strip() == ref and _COMMIT.fullmatch(commit):
            return commit
    return None


def _text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _source_files(folder: Path) -> list:
    found = []
    for directory, subdirs, files in os.walk(folder):
        subdirs[:] = sorted(d for d in subdirs if d not in UNUSED_FOLDERS)
        found += [Path(directory) / name for name in files if name.endswith(SOURCE_SUFFIXES)]
    return sorted(found)


def given_source(option) -> Path | None:
    """--tflm-source when given, else MND_TFLM_SOURCE when set, else None."""
    value = option or os.environ.get(ENVIRONMENT) or None
    return Path(value) if value else None


def find_tree(given: Path) -> TflmTree:
    """The tree at `given` in either layout; UsageError (one line, with the fix) for anything else."""
    root = Path(given).expanduser().resolve()
    what = f"--tflm-source / {ENVIRONMENT} {given}"
    if not root.is_dir():
        raise UsageError(f"{what} is not a folder; point it at a tflite-micro checkout (with CMSIS-NN beside it)")
    if not (root / INTERPRETER).is_file():
        raise UsageError(f"{what} has no {INTERPRETER}; point it at the top of a tflite-micro checkout "
                         "(the folder holding tensorflow/)")
    if (root / "third_party" / "cmsis_nn").is_dir():
        return _vendored(root, what)
    return _checkout(root, what)


def _vendored(root: Path, what: str) -> TflmTree:
    third = root / "third_party"
    tree = TflmTree(root, "vendored", third / "cmsis_nn", third / "flatbuffers" / "include", third / "gemmlowp",
                    third / "ruy", _present(third / "cmsis" / "CMSIS" / "Core" / "Include"))
    _require(tree, what, "its third_party/ folder")
    return tree


def _checkout(root: Path, what: str) -> TflmTree:
    downloads = root / DOWNLOADS
    if not downloads.is_dir():
        raise UsageError(f"{what}: {DOWNLOADS} is missing; in the checkout run `make -f "
                         "tensorflow/lite/micro/tools/make/Makefile third_party_downloads` first")
    beside = [root.parent / "CMSIS-NN", root.parent / "cmsis_nn", downloads / "cmsis_nn"]
    cmsis_nn = next((path for path in beside if (path / CMSIS_NN_HEADER).is_file()), None)
    if cmsis_nn is None:
        raise UsageError(f"{what}: no CMSIS-NN found at {beside[0]} or {beside[2]}; clone "
                         f"https://github.com/ARM-software/CMSIS-NN beside the checkout as {beside[0].name}")
    tree = TflmTree(root, "checkout", cmsis_nn, downloads / "flatbuffers" / "include", downloads / "gemmlowp",
                    downloads / "ruy", _present(downloads / "cmsis" / "CMSIS" / "Core" / "Include"))
    _require(tree, what, f"{DOWNLOADS} (run the Makefile's third_party_downloads target)")
    return tree


def _present(path: Path) -> Path | None:
    return path if path.is_dir() else None


def _require(tree: TflmTree, what: str, where: str) -> None:
    needed = {"CMSIS-NN": tree.cmsis_nn / CMSIS_NN_HEADER,
              "flatbuffers": tree.flatbuffers / "flatbuffers" / "flatbuffers.h",
              "gemmlowp": tree.gemmlowp / "fixedpoint" / "fixedpoint.h",
              "ruy": tree.ruy / "ruy" / "profiler" / "instrumentation.h"}
    missing = [name for name, path in needed.items() if not path.is_file()]
    if missing:
        raise UsageError(f"{what}: {', '.join(missing)} missing from {where}; neither a tflite-micro checkout "
                         "with its downloads nor the vendored tflm-cmsis-nn layout")
