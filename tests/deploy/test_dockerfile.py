"""The Dockerfile's images: targets, non-root, stop signal, health check, torch only for ml.

Layering, the worker health checks and the baked weights: test_images.py.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import signal
import subprocess
import sys

import pytest
import requests

from tests.deploy.helpers import (
    REPO,
    app_routes,
    check_cli,
    dockerfile_stages,
    final_instructions,
    stage_lineage,
)
from tests.support.environment import free_port, wait_for

TARGETS = ("api", "worker-standard", "worker-ml")


def instructions(stage: str, kind: str) -> list[str]:
    return [value for instruction, value in final_instructions(stage) if instruction == kind]


def exec_form(value: str) -> list[str]:
    return [str(word) for word in json.loads(value)]


def test_the_three_targets_exist_on_a_slim_base():
    stages = dockerfile_stages()
    assert set(TARGETS) <= set(stages)
    base = stages["base"][0][1]
    assert base.startswith("python:") and "-slim" in base, base


@pytest.mark.parametrize("target", TARGETS)
def test_runs_as_the_unprivileged_user(target):
    users = instructions(target, "USER")
    assert users, f"{target} sets no USER: it would run as root"
    assert users[-1] not in ("root", "0", "0:0")
    created = " ".join(instructions(target, "RUN"))
    assert "useradd --system --uid 10001" in created and users[-1] == "pixtools"


@pytest.mark.parametrize("target", ["worker-standard", "worker-ml"])
def test_consumers_stop_on_sigint(target):
    # Huey finishes the running task on SIGINT; SIGTERM would interrupt it.
    assert instructions(target, "STOPSIGNAL") == ["SIGINT"]


def test_api_has_a_healthcheck_on_the_liveness_route():
    (check,) = instructions("api", "HEALTHCHECK")
    assert "--interval=" in check and "--timeout=" in check
    path = re.search(r"http://127\.0\.0\.1:8000(/[\w/]+)", check)
    assert path and path.group(1) in app_routes()
    assert instructions("api", "EXPOSE") == ["8000"]


@pytest.mark.parametrize("target", ["api", "worker-standard"])
def test_no_torch_outside_the_ml_image(target):
    for stage in stage_lineage(target):
        for instruction, value in dockerfile_stages()[stage]:
            if instruction in ("RUN", "ENV", "ARG"):
                assert "torch" not in value.lower(), (stage, value)
                assert "[ml]" not in value, (stage, value)


def test_ml_image_installs_the_locked_cpu_torch_in_a_layer_of_its_own():
    stage = dockerfile_stages()["deps-ml"]
    steps = [(i, v) for i, v in stage if i in ("COPY", "RUN", "ARG")]
    # The index defaults to scripts/install-deps.sh's own (the CPU index, named there once).
    assert ("ARG", "TORCH_INDEX_URL=") in steps
    torch_copy = steps.index(("COPY", "requirements/torch.txt requirements/"))
    torch_run, rest_run = [n for n, (i, v) in enumerate(steps)
                           if i == "RUN" and "scripts/install-deps.sh" in v]
    assert torch_copy < torch_run < rest_run
    assert steps[torch_run][1].endswith("/opt/venv/bin/python torch")
    assert steps[rest_run][1].endswith("/opt/venv/bin/python ml")
    # Nothing the torch layer depends on but its pin, the install script and the index.
    assert [v for i, v in steps[:torch_run] if i == "COPY"] == [
        "scripts/install-deps.sh scripts/", "requirements/torch.txt requirements/"]
    assert 'TORCH_INDEX_URL="${TORCH_INDEX_URL}"' in steps[torch_run][1]


@pytest.mark.parametrize("target", TARGETS)
def test_final_layers_hold_no_build_tools_or_caches(target):
    runs = " ".join(instructions(target, "RUN"))
    assert "apt-get install" not in runs and "build-essential" not in runs
    env = " ".join(instructions(target, "ENV"))
    assert "PIP_NO_CACHE_DIR=1" in env and "PYTHONDONTWRITEBYTECODE=1" in env


@pytest.mark.parametrize("target", TARGETS)
def test_default_commands_are_valid(target):
    (cmd,) = instructions(target, "CMD")[-1:]
    words = exec_form(cmd)
    if words[0] == "gunicorn":
        assert words == ["gunicorn", "wsgi:app"]
    else:
        assert check_cli(words) is None
    if target == "worker-standard":
        # Scaled consumers must not run periodic tasks; the scheduler is started without it.
        assert "--no-periodic" in words


def test_copied_files_exist_and_reach_the_build_context():
    patterns = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]

    def included(path: str) -> bool:
        keep = True
        for pattern in patterns:
            negate = pattern.startswith("!")
            bare = pattern.lstrip("!").rstrip("/")
            if bare == "**" or fnmatch.fnmatch(path, bare) or path.startswith(bare + "/"):
                keep = negate
        return keep

    for stage, items in dockerfile_stages().items():
        for instruction, value in items:
            if instruction != "COPY" or "--from=" in value:
                continue
            sources = [w for w in value.split() if not w.startswith("--")][:-1]
            for source in sources:
                assert (REPO / source).exists(), (stage, source)
                assert included(source), f"{source} is excluded by .dockerignore"


def test_gunicorn_settings_serve_the_app_and_stop_gracefully(tmp_path):
    """gunicorn.conf.py as the api image uses it: health answers, SIGTERM stops cleanly."""
    port = free_port()
    env = {**os.environ, "PIXTOOLS_MODE": "desktop", "PIXTOOLS_DATA_DIR": str(tmp_path),
           "PIXTOOLS_SECRET_KEY": "gunicorn-test-secret-0123456789abcdef01234567",
           "WEB_CONCURRENCY": "1",
           "PYTHONPATH": str(REPO)}
    log = (tmp_path / "gunicorn.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        def healthy() -> bool:
            try:
                return requests.get(f"http://127.0.0.1:{port}/api/health", timeout=10).ok
            except (requests.ConnectionError, requests.Timeout):
                # The socket is bound before the worker process has imported the app.
                assert proc.poll() is None, (tmp_path / "gunicorn.log").read_text()
                return False

        wait_for(healthy, timeout=60)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    output = (tmp_path / "gunicorn.log").read_text()
    assert "Using worker: gthread" in output  # gunicorn.conf.py was read from the cwd
    # JSON lines, gunicorn's own too; requests are logged by the app (probes at debug level).
    assert '"logger": "gunicorn.error", "message": "Booting worker' in output


def test_gunicorn_workers_come_from_web_concurrency():
    out = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--print-config", "wsgi:app"],
        cwd=REPO, env={**os.environ, "WEB_CONCURRENCY": "5"},
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    settings = dict(re.findall(r"^(\w+)\s+= (.*)$", out, re.M))
    assert settings["workers"] == "5"
    assert settings["bind"] == "['0.0.0.0:8000']"
    assert int(settings["graceful_timeout"]) < 30  # inside Kubernetes' default grace period
