"""The AWS cluster: pods fit the nodes Terraform creates, the autoscalers agree, nodes drain
for longer than their pods' grace periods, and pods cannot borrow the node role.

Everything is read from ops/terraform and ops/k8s (python-hcl2, PyYAML); nothing runs AWS.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.deploy.helpers import (
    K8S,
    TERRAFORM,
    TF_FILES,
    blocks,
    by_kind,
    load_yaml_docs,
    parse,
    pod_spec,
    workloads,
)

# vCPUs and GiB of the instance types the pools may use (add a type's size when adding it).
INSTANCE_SIZES = {
    "m7i.large": (2, 8), "m6i.large": (2, 8), "m6a.large": (2, 8), "m5.large": (2, 8),
    "c7i.xlarge": (4, 8), "c6i.xlarge": (4, 8), "c6a.xlarge": (4, 8), "m7i.xlarge": (4, 16),
}
# Cluster add-ons on the general pool at their default requests, roughly (cpu m, memory Mi):
# CoreDNS, metrics-server, KEDA's operator, metrics server and webhooks.
ADD_ONS = [(100, 70), (100, 70), (100, 100), (100, 100), (100, 100)]
USER_DATA = (TERRAFORM / "templates" / "user-data.sh.tftpl").read_text()
RESOURCES = blocks("resource")
VARIABLES = blocks("variable")
AUTOSCALER = {d["kind"]: d for d in load_yaml_docs(K8S / "cluster" / "cluster-autoscaler.yaml")}


def pools() -> dict[str, Any]:
    (found,) = [b["pools"] for p in TF_FILES for b in parse(p).get("locals", []) if "pools" in b]
    return dict(found)


def variable(expression: str) -> Any:
    """``${var.node_max}`` → the variable's default."""
    return VARIABLES[re.fullmatch(r"\$\{var\.(\w+)\}", expression).group(1)]["default"]


def millicores(value: Any) -> int:
    text = str(value)
    return int(text[:-1]) if text.endswith("m") else int(float(text) * 1000)


def mebibytes(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)(Mi|Gi)", value).groups()
    return int(number) * (1024 if unit == "Gi" else 1)


def allocatable(instance_type: str) -> tuple[int, int]:
    """What the kubelet offers pods: the instance less system-reserved (user data), the OS
    and the eviction threshold (a tenth of the memory, conservatively)."""
    vcpus, gib = INSTANCE_SIZES[instance_type]
    reserved = re.search(r"system-reserved=cpu=(\d+m),memory=(\d+\w+)", USER_DATA)
    assert reserved, "the kubelet reserves nothing for K3s"
    cpu = vcpus * 1000 - millicores(reserved.group(1))
    memory = int(gib * 1024 * 0.9) - mebibytes(reserved.group(2))
    return cpu, memory


def requests(workload: str) -> tuple[int, int]:
    (container,) = pod_spec(workloads()[workload])["containers"]
    wanted = container["resources"]["requests"]
    return millicores(wanted["cpu"]), mebibytes(wanted["memory"])


def most_replicas(workload: str) -> int:
    for scaler in by_kind("ScaledObject").values():
        if scaler["spec"]["scaleTargetRef"]["name"] == workload:
            return int(scaler["spec"]["maxReplicaCount"])
    for hpa in by_kind("HorizontalPodAutoscaler").values():
        if hpa["spec"]["scaleTargetRef"]["name"] == workload:
            return int(hpa["spec"]["maxReplicas"])
    return int(workloads()[workload]["spec"].get("replicas", 1))


def nodes_needed(pods: list[tuple[int, int]], node: tuple[int, int]) -> int:
    """First-fit decreasing: how many such nodes hold all the pods."""
    free: list[list[int]] = []
    for cpu, memory in sorted(pods, reverse=True):
        assert cpu <= node[0] and memory <= node[1], f"a pod {cpu}m/{memory}Mi fits no node"
        for room in free:
            if room[0] >= cpu and room[1] >= memory:
                room[0] -= cpu
                room[1] -= memory
                break
        else:
            free.append([node[0] - cpu, node[1] - memory])
    return len(free)


def smallest(types: list[str]) -> tuple[int, int]:
    sizes = [allocatable(t) for t in types]
    return min(s[0] for s in sizes), min(s[1] for s in sizes)


def test_each_pool_holds_the_most_pods_its_autoscalers_ask_for():
    general, ml = pools()["general"], pools()["ml"]
    everything_else = [w for w in workloads() if w != "worker-ml"]
    pods = [requests(w) for w in everything_else for _ in range(most_replicas(w))] + ADD_ONS
    general_node = smallest(variable(general["instance_types"]))
    assert nodes_needed(pods, general_node) <= variable(general["max"])
    ml_node = smallest(variable(ml["instance_types"]))
    ml_pods = [requests("worker-ml")] * most_replicas("worker-ml")
    assert nodes_needed(ml_pods, ml_node) <= variable(ml["max"])
    assert ml["min"] == 0  # no ml node while no denoise waits


def test_ml_workers_run_on_the_ml_pool_and_nothing_else_does():
    ml = pools()["ml"]
    (label,) = ml["labels"]
    (taint,) = ml["taints"]
    overlay = yaml.safe_load((K8S / "overlays" / "aws" / "kustomization.yaml").read_text())
    (patch,) = [p for p in overlay["patches"] if p.get("target", {}).get("name") == "worker-ml"]
    ops = {op["path"]: op["value"] for op in yaml.safe_load(patch["patch"])}
    key, value = label.split("=")
    assert ops["/spec/template/spec/nodeSelector"] == {key: value}
    (toleration,) = ops["/spec/template/spec/tolerations"]
    assert f"{toleration['key']}={toleration['value']}:{toleration['effect']}" == taint
    # No other workload tolerates the taint; the node-template tags tell the autoscaler.
    for name, obj in workloads().items():
        assert not pod_spec(obj).get("tolerations"), name
    assert "node-template/label/${tag.key}" in str(RESOURCES["aws_autoscaling_group.pool"])
    assert "node-template/taint/${tag.key}" in str(RESOURCES["aws_autoscaling_group.pool"])
    assert "node-label: ${node_labels}" in USER_DATA and "node-taint: ${node_taints}" in USER_DATA


def test_the_cluster_autoscaler_finds_and_may_resize_both_pools():
    (container,) = pod_spec(AUTOSCALER["Deployment"])["containers"]
    args = dict(a.split("=", 1) for a in container["command"][1:] if "=" in a)
    assert args["--cloud-provider"] == "aws"
    wanted = args["--node-group-auto-discovery"].removeprefix("asg:tag=").split(",")
    tags = {t["key"] for t in RESOURCES["aws_autoscaling_group.pool"]["tag"]}
    rendered = {t.replace("${cluster_name}", "${var.name}") for t in wanted}
    assert rendered <= tags
    assert 'cluster_name = var.name' in (TERRAFORM / "cluster.tf").read_text()
    # It maps nodes to instances by provider id, and acts with the node role's rights.
    assert '"provider-id=aws:///$ZONE/$INSTANCE_ID"' in USER_DATA
    assert pod_spec(AUTOSCALER["Deployment"])["hostNetwork"] is True
    statements = {s["sid"]: s for s in blocks("data")["aws_iam_policy_document.nodes"]["statement"]}
    assert {"autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"
            } <= set(statements["PoolsResize"]["actions"])
    assert "aws_autoscaling_group.pool" in str(statements["PoolsResize"]["resources"])
    assert "ec2:DescribeLaunchTemplateVersions" in statements["AutoscalerReads"]["actions"]
    # Sizes come from the variables: node_max is the ceiling the autoscaler grows to.
    assert {p["max"] for p in pools().values()} == {"${var.node_max}", "${var.ml_node_max}"}
    assert "ignore_changes" in str(RESOURCES["aws_autoscaling_group.pool"]["lifecycle"])


def grace(workload: str) -> int:
    return int(pod_spec(workloads()[workload]).get("terminationGracePeriodSeconds", 30))


def test_nodes_drain_for_longer_than_their_pods_grace_periods():
    spot = re.search(r"spot/instance-action.*?\n\s*drain (\d+)s", USER_DATA, re.S)
    assert spot and int(spot.group(1)) <= 115  # inside EC2's two minutes' notice
    on_general = [w for w in workloads() if w != "worker-ml"]
    assert max(grace(w) for w in on_general) <= int(spot.group(1))
    assert "drain ${drain_seconds}s" in USER_DATA  # the pool's own time on a group's termination
    assert max(grace(w) for w in on_general) <= pools()["general"]["drain_seconds"]
    assert grace("worker-ml") <= pools()["ml"]["drain_seconds"]
    (hook,) = RESOURCES["aws_autoscaling_group.pool"]["initial_lifecycle_hook"]
    assert hook["lifecycle_transition"] == "autoscaling:EC2_INSTANCE_TERMINATING"
    assert re.fullmatch(r"\$\{each\.value\.drain_seconds \+ \d+\}", hook["heartbeat_timeout"])
    assert "complete-lifecycle-action" in USER_DATA
    (container,) = pod_spec(AUTOSCALER["Deployment"])["containers"]
    (limit,) = [a for a in container["command"] if a.startswith("--max-graceful-termination-sec")]
    assert int(limit.split("=")[1]) >= max(grace(w) for w in workloads())
    assert not pools()["ml"]["spot"]  # a 15-minute denoise cannot live on two minutes' notice


def test_pods_cannot_borrow_the_node_role():
    (options,) = RESOURCES["aws_launch_template.pool"]["metadata_options"]
    assert options["http_put_response_hop_limit"] == 1 and options["http_tokens"] == "required"
    assert "CKV_AWS_341" not in (TERRAFORM / "cluster.tf").read_text()
    documents = blocks("data")
    node_s3 = {a for s in documents["aws_iam_policy_document.nodes"]["statement"]
               for a in s["actions"] if a.startswith("s3:")}
    assert node_s3 == {"s3:GetObject"}  # the manifests, nothing of the images
    # The app's own key, for its bucket alone, reaches the pods through pixtools-secrets.
    app = documents["aws_iam_policy_document.app"]["statement"]
    assert {a for s in app for a in s["actions"] if a.startswith("s3:")} == {
        "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"}
    assert all("aws_s3_bucket.images" in str(s["resources"]) or s["sid"] == "ProjectKey"
               for s in app)
    assert 'AWS_ACCESS_KEY_ID: "$APP_S3_KEY_ID"' in USER_DATA
    assert "APP_S3_KEY_ID=$(field app_s3_access_key_id)" in USER_DATA
    secret = str(RESOURCES["aws_secretsmanager_secret_version.cluster"]["secret_string"])
    assert "aws_iam_access_key.app.id" in secret and "aws_iam_access_key.app.secret" in secret


def test_the_api_knows_its_address_and_its_proxy():
    config = by_kind("ConfigMap")["pixtools-config"]["data"]
    assert config["PIXTOOLS_PROXY_HOPS"] == "1"
    assert by_kind("Secret")["pixtools-secrets"]["stringData"]["PIXTOOLS_PUBLIC_URL"].startswith(
        "https://")
    assert 'PIXTOOLS_PUBLIC_URL: "${public_url}"' in USER_DATA
    assert "public_url       = local.public_url" in (TERRAFORM / "cluster.tf").read_text()


def test_uploads_of_50_mb_get_through_the_ingress():
    from pixtools.config import Settings

    limit = Settings.model_fields["max_upload_bytes"].default
    annotations = by_kind("Ingress")["api"]["metadata"]["annotations"]
    body = re.fullmatch(r"(\d+)m", annotations["nginx.ingress.kubernetes.io/proxy-body-size"])
    assert body and int(body.group(1)) * 1024 * 1024 > limit
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 300
    (traefik,) = load_yaml_docs(K8S / "cluster" / "traefik.yaml")
    arguments = yaml.safe_load(traefik["spec"]["valuesContent"])["additionalArguments"]
    for entry_point in ("web", "websecure"):
        assert (f"--entryPoints.{entry_point}.transport.respondingTimeouts.readTimeout=300s"
                in arguments)
    assert "${traefik_manifest}" in USER_DATA and "${autoscaler_manifest}" in USER_DATA
