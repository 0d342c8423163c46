"""The layers stay strict: base/ imports only mnd.base; quantize/ and engine/ only mnd.base and themselves. Every
import counts, at module level or inside a function; a failure lists each offending file:line and its import."""
import ast
from pathlib import Path

from tests.conftest import REPO

ALLOWED = {
    "base": ("mnd.base",),
    "quantize": ("mnd.base", "mnd.quantize"),
    "engine": ("mnd.base", "mnd.engine"),
}


def mnd_imports(path: Path, package: str) -> list:
    """(line, module) for every mnd module the file names in an import; relative imports resolved in `package`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(parent + ([node.module] if node.module else []))
            else:
                module = node.module
            if module == "mnd":  # `from mnd import pipeline` names the subpackage
                found.extend((node.lineno, f"mnd.{alias.name}") for alias in node.names)
            else:
                found.append((node.lineno, module))
    return [(line, name) for line, name in found if name == "mnd" or name.startswith("mnd.")]


def layer_violations(root: Path) -> list:
    """'file:line imports module' for every import under root's base/, quantize/ and engine/ that its layer forbids."""
    violations = []
    for layer, allowed in ALLOWED.items():
        for path in sorted((root / layer).rglob("*.py")):
            parts = path.relative_to(root).parent.parts
            package = ".".join(("mnd", *parts))
            for line, name in mnd_imports(path, package):
                if not any(name == prefix or name.startswith(prefix + ".") for prefix in allowed):
                    violations.append(f"{path.relative_to(root)}:{line} imports {name}")
    return violations


def test_the_layers_see_every_file():
    for layer in ALLOWED:
        assert (REPO / layer / "__init__.py").is_file(), layer
    assert any(name.startswith("mnd.base.") for _, name in mnd_imports(REPO / "engine" / "generator.py", "mnd.engine"))


def test_base_quantize_and_engine_import_only_what_their_layer_allows():
    violations = layer_violations(REPO)
    assert not violations, "imports across the layers:\n" + "\n".join(violations)


def test_a_planted_import_is_found_inside_a_function_and_relative(tmp_path):
    for layer in ALLOWED:
        (tmp_path / layer).mkdir()
    (tmp_path / "base" / "ok.py").write_text("from mnd.base.errors import MndError\nfrom . import ok\n")
    (tmp_path / "quantize" / "bad.py").write_text(
        "import numpy\nfrom mnd.quantize import config\n\n\ndef f():\n    from mnd.pipeline.cli import main\n")
    (tmp_path / "engine" / "bad.py").write_text("from mnd import targets\nimport mnd.quantize.ptq\nfrom .. import x\n")
    assert layer_violations(tmp_path) == ["quantize/bad.py:6 imports mnd.pipeline.cli",
                                          "engine/bad.py:1 imports mnd.targets",
                                          "engine/bad.py:2 imports mnd.quantize.ptq",
                                          "engine/bad.py:3 imports mnd.x"]
