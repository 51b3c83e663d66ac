"""The layout holds: layers import only downward, the core stays plain Python, no import of
a PixTools module hides inside a function, and modules and functions stay readable."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.environment import REPO

PACKAGE = REPO / "pixtools"
MODULE_LINES, FUNCTION_LINES = 300, 50


MIGRATIONS = PACKAGE / "migrations"


def python_files() -> list[Path]:
    # Alembic's scripts are data it loads by path (a migration is as long as its tables).
    return sorted(p for p in PACKAGE.rglob("*.py") if MIGRATIONS not in p.parents)


def test_import_linter_contracts_hold():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint, "import-linter is not installed: it comes with the dev extra"
    result = subprocess.run([lint, "--no-cache"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


def test_no_pixtools_import_inside_a_function():
    nested = []
    for path in python_files():
        tree = ast.parse(path.read_text())
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                relative = isinstance(node, ast.ImportFrom) and node.level > 0
                absolute = (isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "pixtools")) or (isinstance(node, ast.Import) and any(
                    alias.name.startswith("pixtools") for alias in node.names))
                if relative or absolute:
                    nested.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert nested == []


def test_modules_and_functions_stay_small():
    too_long = []
    for path in python_files():
        text = path.read_text()
        if len(text.splitlines()) > MODULE_LINES:
            too_long.append(f"{path.relative_to(REPO)} has {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if length > FUNCTION_LINES:
                    too_long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name} "
                                    f"has {length} lines")
    assert too_long == []


def test_the_core_imports_neither_flask_nor_sqlalchemy_when_loaded_alone():
    # Beyond the static contract: loading the core pulls in no web framework or ORM.
    code = ("import sys, pixtools.imaging, pixtools.operations, pixtools.quality.formats, "
            "pixtools.quality.placeholders, pixtools.ml.runtime; "
            "print(sorted(m for m in ('flask', 'sqlalchemy', 'torch', 'huey') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == "[]"
    # …while the app itself is still found where ``flask --app pixtools`` looks for it.
    code = "import pixtools; print(pixtools.create_app.__module__)"
    found = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                           text=True, check=True)
    assert found.stdout.strip() == "pixtools.app"
