"""The GitHub workflow builds and checks what ships; docs/deployment.md walks through
deploying it."""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.deploy.helpers import REPO, compose, dockerfile_stages


def workflow() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / ".github" / "workflows" / "ci.yaml").read_text())
    return data


def runs(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_workflow_jobs():
    jobs = workflow()["jobs"]
    assert {"lint", "test", "docker", "terraform", "manifests"} <= set(jobs)
    assert "ruff check ." in runs(jobs["lint"]) and "mypy" in runs(jobs["lint"])
    assert set(jobs["test"]["services"]) == {"postgres", "redis"}
    assert "chromium" in runs(jobs["test"])
    assert "--index-url https://download.pytorch.org/whl/cpu torch==2.13.0" in runs(jobs["test"])
    assert "pytest --cov" in runs(jobs["test"])
    terraform = runs(jobs["terraform"])
    assert "terraform fmt -check" in terraform and "terraform validate" in terraform
    manifests = runs(jobs["manifests"])
    assert "kubeconform -strict" in manifests and "CRDs-catalog" in manifests


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
