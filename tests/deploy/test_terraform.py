"""Terraform: every file parses, the pieces the deployment relies on are there, checkov passes."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.deploy.helpers import REPO, TERRAFORM, TF_FILES, blocks, parse
from tests.support.environment import IN_CI

RESOURCES = blocks("resource")


@pytest.mark.parametrize("path", TF_FILES, ids=[p.name for p in TF_FILES])
def test_every_file_parses(path):
    assert parse(path)


def test_variables_have_descriptions_types_and_validation():
    variables = blocks("variable")
    assert {"region", "retention_days", "instance_types", "job_ttl_hours"} <= set(variables)
    for name, body in variables.items():
        assert body.get("description"), name
        assert body.get("type"), name
        if body["type"] != "bool":
            assert body.get("validation"), f"{name} has no validation"
    sources = [*TF_FILES, TERRAFORM / "templates" / "user-data.sh.tftpl"]
    text = "\n".join(p.read_text() for p in sources)
    for name in variables:
        assert f"var.{name}" in text, f"variable {name} is never used"
    for used in set(re.findall(r"\bvar\.(\w+)", text)):
        assert used in variables, f"var.{used} is not declared"


def test_outputs_are_described():
    outputs = blocks("output")
    assert {"api_url", "manifests_bucket", "images_bucket", "db_endpoint"} <= set(outputs)
    assert all(body.get("description") for body in outputs.values())


def test_providers_are_pinned():
    (terraform,) = [b for p in TF_FILES for b in parse(p).get("terraform", [])]
    providers = terraform["required_providers"][0]
    assert providers["aws"]["version"].startswith("~>")
    assert providers["random"]["version"].startswith("~>")


def test_database_is_private_encrypted_and_backed_up():
    db = RESOURCES["aws_db_instance.main"]
    assert db["storage_encrypted"] is True and db["publicly_accessible"] is False
    assert db["backup_retention_period"] == "${var.db_backup_retention_days}"
    assert db["engine"] == "postgres"
    assert db["vpc_security_group_ids"] == ["${aws_security_group.db.id}"]
    (rule,) = [r for k, r in RESOURCES.items()
               if k.startswith("aws_vpc_security_group_ingress_rule.")
               and r["security_group_id"] == "${aws_security_group.db.id}"]
    assert rule["referenced_security_group_id"] == "${aws_security_group.nodes.id}"
    assert (rule["from_port"], rule["to_port"]) == (5432, 5432)
    # Nothing opens Redis' port: it lives inside the cluster behind a NetworkPolicy.
    for key, body in RESOURCES.items():
        if key.startswith("aws_vpc_security_group_ingress_rule."):
            assert body.get("from_port") != 6379, key


def test_images_bucket_expires_after_retention_and_is_private():
    lifecycle = RESOURCES["aws_s3_bucket_lifecycle_configuration.images"]
    rules = {rule["id"]: rule for rule in lifecycle["rule"]}
    assert rules["expire-images"]["expiration"][0]["days"] == "${var.retention_days}"
    assert rules["expire-images"]["abort_incomplete_multipart_upload"]
    public = RESOURCES["aws_s3_bucket_public_access_block.all"]
    assert all(public[k] is True for k in ("block_public_acls", "block_public_policy",
                                           "ignore_public_acls", "restrict_public_buckets"))
    assert "aws_s3_bucket_server_side_encryption_configuration.all" in RESOURCES
    assert {"aws_s3_bucket.images", "aws_s3_bucket.manifests"} <= set(RESOURCES)


def test_nodes_are_spot_instances_of_several_types_running_k3s_on_rds():
    asg = RESOURCES["aws_autoscaling_group.pool"]
    policy = asg["mixed_instances_policy"][0]
    distribution = policy["instances_distribution"][0]
    # Spot for the general pool, on-demand for the ml pool (test_cluster.py says why).
    assert distribution["on_demand_percentage_above_base_capacity"] == (
        "${each.value.spot ? 0 : 100}")
    assert "override" in str(policy["launch_template"][0]["dynamic"])
    template = (TERRAFORM / "templates" / "user-data.sh.tftpl").read_text()
    assert "datastore-endpoint:" in template and "postgres://" in template
    assert "get.k3s.io" in template


def test_user_data_template_gets_exactly_its_placeholders():
    template = (TERRAFORM / "templates" / "user-data.sh.tftpl").read_text()
    wanted = set(re.findall(r"(?<!\$)\$\{(\w+)\}", template))
    call = re.search(r"templatefile\([^,]+user-data\.sh\.tftpl\", \{(.*?)\n  \}\)\)",
                     (TERRAFORM / "cluster.tf").read_text(), re.S)
    assert call
    # The call's own arguments, not those of the templatefile calls nested in it.
    given = set(re.findall(r"^    (\w+)\s*=", call.group(1), re.M))
    assert wanted == given


def test_spot_interruption_warnings_reach_sns():
    rule = RESOURCES["aws_cloudwatch_event_rule.spot_interruption"]
    assert "EC2 Spot Instance Interruption Warning" in rule["event_pattern"]
    target = RESOURCES["aws_cloudwatch_event_target.spot_interruption"]
    assert target["arn"] == "${aws_sns_topic.spot_interruptions.arn}"


def test_roles_have_only_the_actions_they_need():
    for name in ("nodes", "app"):
        data = blocks("data")[f"aws_iam_policy_document.{name}"]
        actions = {a for statement in data["statement"] for a in statement["actions"]}
        assert not any(a.endswith("*") for a in actions), name
        for statement in data["statement"]:
            if "*" in statement["resources"]:
                # Only reads that take no resource (the cluster autoscaler's).
                assert all(re.match(r"^(autoscaling|ec2):(Describe|Get)", a)
                           for a in statement["actions"]), statement["sid"]


def test_every_skipped_check_is_justified():
    skips = []
    for path in TF_FILES:
        for line in path.read_text().splitlines():
            if "checkov:skip=" in line:
                match = re.search(r"checkov:skip=(CKV2?_AWS_\d+):\s*(.+)", line)
                assert match, f"{path.name}: {line.strip()}"
                assert len(match.group(2).split()) >= 6, f"too short a reason: {line.strip()}"
                skips.append(match.group(1))
    for path in (REPO / "ops" / "k8s").rglob("*.yaml"):
        for match in re.finditer(r"checkov\.io/skip\d+: (CKV2?_K8S_\d+)=(.*)", path.read_text()):
            assert len(match.group(2).split()) >= 6, f"{path.name}: {match.group(0)}"
            skips.append(match.group(1))
    assert skips


def test_terraform_files_are_formatted():
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not installed; the GitHub workflow runs terraform fmt -check")
    result = subprocess.run([terraform, "fmt", "-check", "-diff", "-recursive", str(TERRAFORM)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout


def test_checkov_passes():
    """checkov on Terraform, Kubernetes and the Dockerfile, in its own virtualenv."""
    result = subprocess.run(["bash", str(REPO / "scripts" / "checkov.sh")], cwd=REPO,
                            capture_output=True, text=True, timeout=900)
    if result.returncode == 3:
        message = "checkov could not be installed by scripts/checkov.sh:\n" + result.stderr
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("Failed checks: 0") == 3
