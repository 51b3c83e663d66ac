"""A release can be applied again, and the next one right after: the migrate Job, whose pod
template cannot change in place, is named after the release (kustomize replacements)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.helpers import K8S


def render(path: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the GitHub workflow renders the overlays")
    out = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def job_and_api_image(docs: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    (job,) = [d for d in docs if d["kind"] == "Job"]
    (api,) = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "api"]
    return job, api["spec"]["template"]["spec"]["containers"][0]["image"]


def overlay_with_tag(tmp_path: Path, tag: str) -> Path:
    """The AWS overlay as an operator edits it for a release: another image tag."""
    overlay = yaml.safe_load((K8S / "overlays" / "aws" / "kustomization.yaml").read_text())
    folder = tmp_path / tag
    folder.mkdir()
    overlay["resources"] = [os.path.relpath(K8S / "base", folder)]  # kustomize wants relative
    for image in overlay["images"]:
        image["newTag"] = tag
    (folder / "kustomization.yaml").write_text(yaml.safe_dump(overlay))
    return folder


@pytest.mark.parametrize("tag", ["0.2.0", "sha-1a2b3c4"])
def test_each_release_has_its_own_migrate_job(tmp_path, tag):
    job, image = job_and_api_image(render(overlay_with_tag(tmp_path, tag)))
    assert image.endswith(f":{tag}")
    assert job["metadata"]["name"] == f"migrate-{tag}"
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == image
    previous, _ = job_and_api_image(render(K8S / "overlays" / "aws"))
    assert previous["metadata"]["name"] != job["metadata"]["name"]


def test_the_base_names_its_job_after_its_own_tag():
    job, image = job_and_api_image(render(K8S / "base"))
    assert job["metadata"]["name"] == "migrate-" + image.rsplit(":", 1)[1]
    # Kept long enough to read its logs; no later release waits for it to go.
    assert job["spec"]["ttlSecondsAfterFinished"] >= 3600
