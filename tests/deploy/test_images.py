"""How the images are layered, how the consumers' health is judged, where the weights come from.

No Docker engine runs here: the Dockerfile is read with dockerfile-parse, and the pieces the
images run (the heartbeat check) are run directly.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import tomllib
from pathlib import Path

import pytest

from tests.deploy.helpers import (
    REPO,
    dockerfile_stages,
    env_name_ok,
    env_of,
    final_instructions,
    stage_lineage,
)

TARGETS = ("api", "worker-standard", "worker-ml")
WORKERS = ("worker-standard", "worker-ml")
HEARTBEAT_CHECK = REPO / "ops" / "docker" / "heartbeat-check.sh"
# What a dependency stage may see: the lock's exports and the script that installs them.
LOCK_INPUTS = re.compile(r"^(scripts/install-deps\.sh|requirements/\w+\.txt|uv\.lock)$")
APP_FILES = ("pixtools", "wsgi.py", "gunicorn.conf.py", "pyproject.toml", "README.md")


def copy_sources(value: str) -> list[str]:
    return [w for w in value.split() if not w.startswith("--")][:-1]


@pytest.mark.parametrize("stage", ["deps-standard", "deps-ml"])
def test_dependency_stages_see_only_the_lock(stage):
    """Code, README or pyproject edits cannot invalidate the dependency layers."""
    copies = [v for i, v in dockerfile_stages()[stage] if i in ("COPY", "ADD")]
    assert copies
    for value in copies:
        assert "--from=" not in value
        for source in copy_sources(value):
            assert LOCK_INPUTS.match(source), f"{stage} copies {source}"
    assert stage_lineage(stage) == [stage, "base"]


@pytest.mark.parametrize("target", TARGETS)
def test_dependencies_sit_below_the_app_in_every_image(target):
    """The virtualenv is copied before any app file: a code edit adds a small layer on top."""
    steps = final_instructions(target)
    venv = [n for n, (i, v) in enumerate(steps) if i == "COPY" and "--from=deps-" in v]
    app = [n for n, (i, v) in enumerate(steps)
           if (i in ("COPY", "ADD") and any(s.split("/")[0] in APP_FILES
                                            for s in copy_sources(v)))
           or (i == "RUN" and "from=wheel" in v)]
    assert len(venv) == 1 and app, target
    assert venv[0] < min(app), f"{target}: an app file is copied below the dependencies"
    expected = "deps-ml" if target == "worker-ml" else "deps-standard"
    assert f"--from={expected} /opt/venv /opt/venv" in steps[venv[0]][1]


def test_the_app_is_installed_from_its_wheel_without_node():
    wheel = dockerfile_stages()["wheel"]
    assert ("RUN", "pip wheel --no-deps --wheel-dir /dist .") in wheel
    assert ("COPY", "pixtools ./pixtools") in wheel  # static/vendor is committed in there
    everything = json.dumps(dockerfile_stages()).lower()
    assert "npm" not in everything and "node" not in everything
    for target in TARGETS:
        (install,) = [v for i, v in final_instructions(target) if i == "RUN" and "from=wheel" in v]
        assert "pip install --no-deps" in install


def test_the_wheel_holds_the_migrations_the_app_looks_for():
    """`flask --app wsgi db upgrade` in the migrate Job finds them inside the installed
    package (pixtools/db.py: MIGRATIONS_DIR): the wheel stage builds from pixtools/ alone,
    and the build context holds nothing else the app would look for."""
    from pixtools.db import MIGRATIONS_DIR

    package = REPO / "pixtools"
    assert package in MIGRATIONS_DIR.parents
    assert (MIGRATIONS_DIR / "env.py").is_file() and list(MIGRATIONS_DIR.glob("versions/0*.py"))
    assert not (REPO / "migrations").exists()
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert pyproject["tool"]["setuptools"]["packages"]["find"]["include"] == ["pixtools*"]
    copied = {copy_sources(v)[0] for i, v in dockerfile_stages()["wheel"] if i == "COPY"}
    assert copied == {"pyproject.toml", "pixtools"}
    assert "!migrations/" not in (REPO / ".dockerignore").read_text().split()


def test_ml_weights_are_baked_in_and_verified():
    from pixtools.ml import weights

    (add,) = [v for i, v in final_instructions("worker-ml") if i == "ADD"]
    assert f"--checksum=sha256:{weights.EXPECTED_SHA256}" in add
    assert weights.UPSTREAM_URL in add
    assert copy_sources(add)[-1] == weights.UPSTREAM_URL
    assert add.split()[-1] == env_of("worker-ml")["PIXTOOLS_DNCNN_WEIGHTS"]
    # Not a volume: one would shadow the baked file with an empty or stale one.
    assert not [v for i, v in final_instructions("worker-ml") if i == "VOLUME"]
    assert not [v for i, v in final_instructions("worker-ml") if i == "ENTRYPOINT"]


@pytest.mark.parametrize("target", WORKERS)
def test_worker_health_is_the_consumers_heartbeat_not_redis(target):
    (check,) = [v for i, v in final_instructions(target) if i == "HEALTHCHECK"]
    assert check.split("CMD", 1)[1].strip() == '["pixtools-heartbeat-check"]'
    assert "redis" not in check.lower()
    assert "--interval=" in check and "--start-period=" in check
    assert env_of(target)["PIXTOOLS_WORKER_HEARTBEAT_FILE"].startswith("/tmp/")
    copies = [v for i, v in final_instructions(target) if i == "COPY"]
    assert ("--chmod=0755 ops/docker/heartbeat-check.sh /usr/local/bin/pixtools-heartbeat-check"
            in copies)


@pytest.mark.parametrize("target", TARGETS)
def test_every_setting_an_image_sets_is_one_the_app_reads(target):
    names = [n for n in env_of(target) if n.startswith("PIXTOOLS_")]
    unknown = [n for n in names if not env_name_ok(n)]
    assert not unknown, f"{target} sets variables no setting reads: {unknown}"


def run_check(file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "PIXTOOLS_WORKER_HEARTBEAT_FILE": str(file)}
    return subprocess.run(["sh", str(HEARTBEAT_CHECK), *args], env=env, capture_output=True,
                          text=True, timeout=30)


def test_heartbeat_check_follows_the_file_age(tmp_path):
    beat = tmp_path / "heartbeat"
    missing = run_check(beat)
    assert missing.returncode == 1 and "no heartbeat" in missing.stderr
    beat.touch()
    assert run_check(beat).returncode == 0
    old = time.time() - 45
    os.utime(beat, (old, old))
    stale = run_check(beat)
    assert stale.returncode == 1 and "45s ago" in stale.stderr
    assert run_check(beat, "60").returncode == 0  # a longer limit tolerates it
    unset = subprocess.run(["sh", str(HEARTBEAT_CHECK)], env={"PATH": os.environ["PATH"]},
                           capture_output=True, text=True, timeout=30)
    assert unset.returncode != 0 and "PIXTOOLS_WORKER_HEARTBEAT_FILE" in unset.stderr
