"""gunicorn's configuration: the hooks it wires and the malloc arena cap of each worker."""

from __future__ import annotations

import importlib
import runpy
import subprocess
import sys

import pytest

from tests.support.environment import REPO


@pytest.fixture
def gunicorn_conf(monkeypatch, tmp_path):
    # Importing it sets PROMETHEUS_MULTIPROC_DIR when unset (it is meant for gunicorn's
    # master): set it here first, so that it is gone again after the test and the rest of
    # the session keeps single-process metrics.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    return importlib.import_module("pixtools.gunicorn_conf")


def test_the_config_file_wires_every_hook(gunicorn_conf):
    config = runpy.run_path(str(REPO / "gunicorn.conf.py"))
    for hook in ("on_starting", "post_fork", "child_exit"):
        assert config[hook] is getattr(gunicorn_conf, hook)
    assert config["worker_class"] == "gthread" and config["threads"] == 8


def test_arenas_are_capped_on_glibc():
    # In a child process: the cap would otherwise stay on for the rest of the test session.
    code = "from pixtools.gunicorn_conf import cap_malloc_arenas; print(cap_malloc_arenas())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env={"PATH": "/usr/bin:/bin"})
    assert done.stdout.strip() == "True"


def test_the_operators_malloc_setting_wins(gunicorn_conf, monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert gunicorn_conf.cap_malloc_arenas() is False
