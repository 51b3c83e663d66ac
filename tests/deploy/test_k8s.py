"""Kubernetes manifests: schema-valid, and consistent with the app, the images and Huey."""

from __future__ import annotations

import re
import shutil
import subprocess
import warnings
from typing import Any

import pytest
import yaml

from tests.deploy.helpers import (
    K8S,
    PENDING_ROUTES,
    REPO,
    TERRAFORM,
    app_routes,
    by_kind,
    check_cli,
    dockerfile_stages,
    env_name_ok,
    env_of,
    k8s_objects,
    load_yaml_docs,
    pixtools_image_target,
    pod_spec,
    server_app,
    workloads,
)

CUSTOM_KINDS = {"ScaledObject", "TriggerAuthentication", "HelmChart", "HelmChartConfig"}
OBJECTS = list(k8s_objects())
BUILT_IN = [(p, d) for p, d in OBJECTS if d["kind"] not in CUSTOM_KINDS]


def ident(item: tuple[Any, dict[str, Any]]) -> str:
    path, doc = item
    return f"{path.relative_to(K8S)}:{doc['kind']}/{doc['metadata']['name']}"


@pytest.mark.parametrize("item", BUILT_IN, ids=[ident(i) for i in BUILT_IN])
def test_built_in_kinds_validate_strictly(item):
    import kubernetes_validate

    _, doc = item
    kubernetes_validate.validate(doc, "1.32", strict=True)  # K3s v1.32 on the cluster


def test_there_are_no_unknown_kinds():
    assert {d["kind"] for _, d in OBJECTS if d["kind"] in CUSTOM_KINDS} == CUSTOM_KINDS
    assert {d["apiVersion"] for _, d in OBJECTS if d["kind"] in CUSTOM_KINDS} == {
        "keda.sh/v1alpha1", "helm.cattle.io/v1"}


# --- consistency with the app -------------------------------------------------------------


def config_map_env() -> dict[str, str]:
    data: dict[str, str] = by_kind("ConfigMap")["pixtools-config"]["data"]
    return data


def test_keda_watches_the_list_keys_huey_writes():
    """Each worker pool scales on its own queue's Redis list, as the app's Huey names it."""
    from pixtools import create_app
    from pixtools.queues import get_queues

    prefix = config_map_env()["PIXTOOLS_QUEUE_PREFIX"]
    app = create_app({**server_app().extensions["pixtools.settings"].model_dump(),
                      "queue_prefix": prefix})
    queues = get_queues(app)
    expected = {"worker-standard": queues.standard.storage.queue_key,
                "worker-ml": queues.ml.storage.queue_key,
                "worker-webhooks": queues.webhooks.storage.queue_key}
    scaled = by_kind("ScaledObject")
    assert set(scaled) == set(expected)
    for name, key in expected.items():
        (trigger,) = scaled[name]["spec"]["triggers"]
        assert trigger["metadata"]["listName"] == key, name
        # The Redis database KEDA reads is the one in the app's Redis URL.
        template = by_kind("Secret")["pixtools-secrets"]["stringData"]["PIXTOOLS_REDIS_URL"]
        assert template.rsplit("/", 1)[1] == trigger["metadata"]["databaseIndex"]
    # The ml pool is the one from the ml queue: a worker's args name its queue.
    for name in expected:
        args = pod_spec(workloads()[name])["containers"][0]["args"]
        assert args[:3] == ["pixtools", "worker", name.removeprefix("worker-")]


def containers() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, obj in workloads().items():
        spec = pod_spec(obj)
        for container in spec.get("initContainers", []) + spec["containers"]:
            found.append((name, container))
    return found


def pixtools_containers() -> list[tuple[str, dict[str, Any]]]:
    return [(n, c) for n, c in containers() if pixtools_image_target(c["image"])]


def test_every_variable_set_is_one_the_app_reads():
    names: set[str] = set()
    for _workload, container in pixtools_containers():
        names |= {e["name"] for e in container.get("env", [])}
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                names |= set(by_kind("ConfigMap")[source["configMapRef"]["name"]]["data"])
            if "secretRef" in source:
                names |= set(by_kind("Secret")[source["secretRef"]["name"]]["stringData"])
    assert names
    unknown = sorted(n for n in names if not env_name_ok(n))
    assert not unknown, f"the manifests set variables no setting reads: {unknown}"


def test_images_are_dockerfile_targets():
    targets = {pixtools_image_target(c["image"]) for _, c in pixtools_containers()}
    assert targets == {"api", "worker-standard", "worker-ml"}
    assert targets <= set(dockerfile_stages())
    expected = {"api": "api", "migrate": "api", "worker-standard": "worker-standard",
                "scheduler": "worker-standard", "worker-ml": "worker-ml",
                "worker-webhooks": "worker-standard"}
    for workload, container in pixtools_containers():
        assert pixtools_image_target(container["image"]) == expected[workload]


def test_commands_parse():
    for workload, container in pixtools_containers():
        words = container.get("command", []) + container.get("args", [])
        if words:
            assert check_cli(words) is None, workload


def test_probe_paths_exist_in_the_app():
    routes = app_routes()
    paths = set()
    for workload, container in pixtools_containers():
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            if "httpGet" in container.get(probe, {}):
                paths.add(container[probe]["httpGet"]["path"])
        annotations = workloads()[workload]["spec"]["template"]["metadata"].get("annotations", {})
        if "prometheus.io/path" in annotations:
            paths.add(annotations["prometheus.io/path"])
    assert "/api/health" in paths and "/api/health/ready" in paths
    missing = paths - routes
    assert missing <= PENDING_ROUTES, f"probe or scrape paths the app does not serve: {missing}"
    for path in sorted(missing):
        warnings.warn(f"{path} is used by the manifests but not served yet", stacklevel=1)


def test_the_scheduler_is_the_only_periodic_consumer():
    periodic = []
    for workload, container in pixtools_containers():
        args = container.get("args", [])
        if args[:3] == ["pixtools", "worker", "standard"] and "--no-periodic" not in args:
            periodic.append(workload)
    assert periodic == ["scheduler"]
    scheduler = workloads()["scheduler"]
    assert scheduler["spec"]["replicas"] == 1
    assert scheduler["spec"]["strategy"]["type"] == "Recreate"  # never two at once
    assert "scheduler" not in {s["spec"]["scaleTargetRef"]["name"]
                               for s in by_kind("ScaledObject").values()}


def test_consumers_outlast_their_longest_step():
    """Pillow steps take seconds; a denoise up to ten minutes. (How long the nodes drain for
    them: test_cluster.py.)"""
    grace = {name: pod_spec(workloads()[name])["terminationGracePeriodSeconds"]
             for name in ("worker-standard", "scheduler", "worker-ml", "worker-webhooks")}
    assert min(grace.values()) >= 60
    assert grace["worker-ml"] >= 600 >= grace["worker-standard"]


def test_resources_and_security_context():
    for workload, container in containers():
        resources = container["resources"]
        assert resources["requests"]["cpu"] and resources["requests"]["memory"], workload
        assert resources["limits"]["memory"], workload
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["readOnlyRootFilesystem"] is True
        assert context["capabilities"]["drop"] == ["ALL"]
    runs = " ".join(v for _, v in dockerfile_stages()["base"])
    uid = re.search(r"--uid (\d+)", runs)
    assert uid
    for workload, _ in pixtools_containers():
        assert pod_spec(workloads()[workload])["securityContext"]["runAsUser"] == int(uid[1])


def test_weights_come_with_the_image_not_a_volume():
    """Baked into worker-ml at the path the setting names: no volume shadows them and a pod
    started from zero fetches nothing."""
    weights = config_map_env()["PIXTOOLS_DNCNN_WEIGHTS"]
    assert weights == env_of("worker-ml")["PIXTOOLS_DNCNN_WEIGHTS"]
    ml = pod_spec(workloads()["worker-ml"])
    mounts = {m["mountPath"] for m in ml["containers"][0]["volumeMounts"]}
    assert not [m for m in mounts if weights.startswith(m.rstrip("/") + "/")]
    assert all("emptyDir" in v and v["name"] == "tmp" for v in ml["volumes"])


@pytest.mark.parametrize("workload",
                         ["worker-standard", "scheduler", "worker-ml", "worker-webhooks"])
def test_consumer_probes_read_the_heartbeat_not_redis(workload):
    (container,) = pod_spec(workloads()[workload])["containers"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["exec"]["command"] == ["pixtools-heartbeat-check"], probe
    assert "redis" not in str(container).lower()
    # Restarted after about a minute without a beat; a slow start has minutes.
    liveness = container["livenessProbe"]
    assert liveness["periodSeconds"] * liveness["failureThreshold"] <= 60
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120


def test_grafana_dashboard_is_valid_json_with_panels():
    import json

    dashboard = json.loads((K8S / "base" / "monitoring" / "grafana-dashboard.json").read_text())
    assert dashboard["uid"] and dashboard["panels"]
    assert all(panel["targets"][0]["expr"] for panel in dashboard["panels"])
    scrape = yaml.safe_load(by_kind("ConfigMap")["prometheus-scrape"]["data"]["pixtools.yaml"])
    assert scrape["scrape_configs"][0]["kubernetes_sd_configs"][0]["role"] == "pod"


# --- kustomize and the AWS bootstrap ------------------------------------------------------


def test_kustomizations_reference_existing_files():
    for path in K8S.rglob("kustomization.yaml"):
        data = yaml.safe_load(path.read_text())
        for resource in data.get("resources", []):
            assert (path.parent / resource).exists(), (path, resource)
        for generator in data.get("configMapGenerator", []):
            for file in generator["files"]:
                assert (path.parent / file).exists(), (path, file)
        for image in data.get("images", []):
            assert pixtools_image_target(image["name"]) in dockerfile_stages()


def node_bootstrap_objects() -> list[dict[str, Any]]:
    """The objects the AWS nodes write at boot, from the user-data template."""
    template = (TERRAFORM / "templates" / "user-data.sh.tftpl").read_text()
    body = re.search(r'pixtools-secrets\.yaml" <<YAML\n(.*?)\nYAML\n', template, re.S)
    assert body
    return [doc for doc in yaml.safe_load_all(body.group(1)) if doc]


def test_aws_overlay_swaps_the_secret_templates_for_the_nodes_own():
    overlay = yaml.safe_load((K8S / "overlays" / "aws" / "kustomization.yaml").read_text())
    deleted = {doc["metadata"]["name"] for doc in (yaml.safe_load(p["patch"])
                                                   for p in overlay["patches"])
               if isinstance(doc, dict) and doc.get("$patch") == "delete"}
    written = {d["metadata"]["name"]: d for d in node_bootstrap_objects() if d["kind"] == "Secret"}
    assert deleted == set(written) == set(by_kind("Secret"))
    for name, secret in written.items():
        template = by_kind("Secret")[name]["stringData"]
        assert set(secret["stringData"]) >= set(template) - {"AWS_DEFAULT_REGION"}, name
    unknown = [k for k in written["pixtools-secrets"]["stringData"] if not env_name_ok(k)]
    assert not unknown


def test_rendered_overlay_validates():
    """The AWS overlay as the operator renders it (kubectl's built-in kustomize)."""
    import kubernetes_validate

    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the GitHub workflow renders the overlay")
    rendered = subprocess.run([kubectl, "kustomize", str(K8S / "overlays" / "aws")],
                              capture_output=True, text=True, timeout=120, check=True).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    assert not [d for d in docs if d["kind"] == "Secret"]
    images = {c["image"] for d in docs if d["kind"] in ("Deployment", "Job")
              for c in d["spec"]["template"]["spec"]["containers"]}
    assert images and all(i.startswith("ghcr.io/") for i in images)
    for doc in docs:
        if doc["kind"] not in CUSTOM_KINDS:
            kubernetes_validate.validate(doc, "1.32", strict=True)


def test_keda_chart_is_what_the_nodes_install():
    (chart,) = load_yaml_docs(K8S / "cluster" / "keda.yaml")
    cluster_tf = (TERRAFORM / "cluster.tf").read_text()
    assert 'file("${path.module}/../k8s/cluster/keda.yaml")' in cluster_tf
    assert chart["spec"]["chart"] == "keda"
    assert REPO.joinpath("ops/k8s/cluster/keda.yaml").is_file()
