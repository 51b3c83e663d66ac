"""Paths and small helpers shared by the denoising benchmarks."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = REPO_ROOT / "bench" / ".cache"  # ignored by git


def shared_dir() -> Path:
    """The read-only shared folder: a sibling of the repository by default."""
    env = os.environ.get("PIXTOOLS_SHARED_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared"


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        sys.exit(f"{what} not found at {path}; set PIXTOOLS_SHARED_DIR to the shared folder")
    return path


def weights_path() -> Path:
    return _require(shared_dir() / "models" / "dncnn_color_blind.pth", "DnCNN weights")


def cbsd68_paths() -> list[Path]:
    folder = _require(shared_dir() / "testsets" / "CBSD68", "CBSD68 test set")
    return sorted(folder.glob("*.png"))


def machine_line() -> str:
    import torch

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
        f"{len(os.sched_getaffinity(0))} cores, load average {load}"
    )
