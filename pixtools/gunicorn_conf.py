"""gunicorn hooks and logging for PixTools, imported by the repository's ``gunicorn.conf.py``.

- gunicorn's own lines are JSON like the app's (the app logs each request itself).
- Each worker caps glibc's malloc arenas (``post_fork``): with one arena per busy thread,
  freed upload buffers stayed in many arenas and a worker's memory crept up with the thread
  count (162 MB against 142 MB for 40 uploads of 1 MB with 8 threads).
- With several workers, ``/metrics`` must sum all of them (prometheus_client's multiprocess
  mode): each worker writes its values to files in ``PROMETHEUS_MULTIPROC_DIR``. An operator's
  folder is used when set; otherwise the server makes a fresh one. It is emptied at start, and
  each exiting worker is marked dead so that its gauges disappear.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import tempfile
from pathlib import Path
from typing import Any

# Set here, in the master, before any worker imports prometheus_client (it reads it then).
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="pixtools-metrics-"))

logconfig_dict: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "pixtools.logs.JsonFormatter"}},
    "handlers": {
        "json": {"class": "logging.StreamHandler", "formatter": "json",
                 "stream": "ext://sys.stderr"},
    },
    # The app installs its own JSON handler on the root logger.
    "root": {"level": "INFO", "handlers": []},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["json"], "propagate": False},
        # The app logs each request itself, with its request id and without query strings.
        "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
    },
}


def _multiproc_dir() -> Path | None:
    value = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(value) if value else None


def on_starting(server: Any) -> None:
    directory = _multiproc_dir()
    if directory is not None:
        # Values left by an earlier run would be added to this run's.
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()


M_ARENA_MAX = -8  # glibc's mallopt parameter number
MALLOC_ARENAS = 2


def cap_malloc_arenas() -> bool:
    """Limit glibc to ``MALLOC_ARENAS`` arenas (what ``MALLOC_ARENA_MAX=2`` would do, but
    without relying on the environment); False where the C library is not glibc."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False  # the operator's setting wins
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt if name else None
    except (OSError, AttributeError):
        return False
    return bool(mallopt and mallopt(M_ARENA_MAX, MALLOC_ARENAS) == 1)


def post_fork(server: Any, worker: Any) -> None:
    # Before the worker starts its threads: arenas are made as threads first allocate.
    cap_malloc_arenas()


def child_exit(server: Any, worker: Any) -> None:
    if _multiproc_dir() is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
