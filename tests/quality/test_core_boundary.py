"""The quality package is core and narrower than the import-linter contract asks: its
modules import only the standard library, the imaging libraries and each other (the app
wires it in and passes every setting; the package reads no configuration)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pixtools.quality

ALLOWED_THIRD_PARTY = {"numpy", "PIL", "pyjpegli", "thumbhash", "blurhash_rs"}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
    return names


def test_quality_modules_import_only_the_standard_library_and_imaging_libraries():
    folder = Path(pixtools.quality.__file__).parent
    for path in folder.glob("*.py"):
        for name in _imports(path):
            top = name.split(".")[0]
            assert (name.startswith(".") and not name.startswith("..")) or (
                top in ALLOWED_THIRD_PARTY or top in sys.stdlib_module_names
            ), f"{path.name} imports {name}"
