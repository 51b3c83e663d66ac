"""gunicorn settings for PixTools: ``gunicorn -c python:pixtools.gunicorn_conf wsgi:app``.

- gunicorn's own lines are JSON like the app's.
- With several workers, metrics must be summed over all of them: set
  ``PROMETHEUS_MULTIPROC_DIR`` to an empty folder writable by the workers; it is emptied at
  start and each exiting worker is marked dead so its gauges disappear.

A deployment's own config may ``from pixtools.gunicorn_conf import *`` and add to it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

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


def child_exit(server: Any, worker: Any) -> None:
    if _multiproc_dir() is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
