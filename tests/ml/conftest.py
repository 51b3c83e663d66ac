"""Fixtures for the ML tests: real weights and test images from the shared folder.

The shared folder is a sibling of the repository (``<repo>/../shared``) unless
PIXTOOLS_SHARED_DIR says otherwise. Missing data skips locally but fails in CI,
so a broken CI layout cannot pass by skipping everything.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    env = os.environ.get("PIXTOOLS_SHARED_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared"


def _missing(what: str, path: Path) -> None:
    message = f"{what} not found at {path} (set PIXTOOLS_SHARED_DIR to the shared folder)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def weights_path() -> Path:
    path = shared_dir() / "models" / "dncnn_color_blind.pth"
    if not path.is_file():
        _missing("DnCNN weights", path)
    return path


@pytest.fixture(scope="session")
def cbsd68_paths() -> list[Path]:
    folder = shared_dir() / "testsets" / "CBSD68"
    paths = sorted(folder.glob("*.png"))
    if len(paths) != 68:
        _missing("CBSD68 test set (68 PNG files)", folder)
    return paths
