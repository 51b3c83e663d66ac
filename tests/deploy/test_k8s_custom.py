"""KEDA's and K3s' custom resources, checked structurally (no schema of theirs is at hand
offline; the GitHub workflow checks them against the CRDs catalog with kubeconform)."""

from __future__ import annotations

import jsonschema
import pytest

from tests.deploy.helpers import by_kind

METADATA = {
    "type": "object", "required": ["name", "namespace"],
    "properties": {"name": {"type": "string", "pattern": "^[a-z0-9-]+$"},
                   "namespace": {"type": "string"}},
}
INT_STRING = {"type": "string", "pattern": "^[0-9]+$"}
SCALED_OBJECT = {
    "type": "object", "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"}, "kind": {"const": "ScaledObject"},
        "metadata": METADATA,
        "spec": {
            "type": "object", "additionalProperties": False,
            "required": ["scaleTargetRef", "triggers"],
            "properties": {
                "scaleTargetRef": {
                    "type": "object", "additionalProperties": False, "required": ["name"],
                    "properties": {"name": {"type": "string"}, "kind": {"type": "string"},
                                   "apiVersion": {"type": "string"}}},
                "minReplicaCount": {"type": "integer", "minimum": 0},
                "maxReplicaCount": {"type": "integer", "minimum": 1},
                "idleReplicaCount": {"type": "integer", "minimum": 0},
                "pollingInterval": {"type": "integer", "minimum": 1},
                "cooldownPeriod": {"type": "integer", "minimum": 0},
                "advanced": {"type": "object"},
                "triggers": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "additionalProperties": False,
                    "required": ["type", "metadata"],
                    "properties": {
                        "type": {"const": "redis"},
                        "metadata": {
                            "type": "object", "additionalProperties": False,
                            "required": ["address", "listName", "listLength"],
                            "properties": {
                                "address": {"type": "string", "pattern": r"^[a-z0-9.-]+:\d+$"},
                                "listName": {"type": "string"},
                                "listLength": INT_STRING,
                                "activationListLength": INT_STRING,
                                "databaseIndex": INT_STRING,
                                "enableTLS": {"enum": ["true", "false"]},
                            }},
                        "authenticationRef": {
                            "type": "object", "required": ["name"], "additionalProperties": False,
                            "properties": {"name": {"type": "string"},
                                           "kind": {"enum": ["TriggerAuthentication"]}}},
                    }}},
            },
        },
    },
}
TRIGGER_AUTHENTICATION = {
    "type": "object", "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"}, "kind": {"const": "TriggerAuthentication"},
        "metadata": METADATA,
        "spec": {"type": "object", "additionalProperties": False,
                 "required": ["secretTargetRef"],
                 "properties": {"secretTargetRef": {"type": "array", "minItems": 1, "items": {
                     "type": "object", "additionalProperties": False,
                     "required": ["parameter", "name", "key"],
                     "properties": {"parameter": {"enum": ["password", "username"]},
                                    "name": {"type": "string"}, "key": {"type": "string"}}}}}},
    },
}
HELM_CHART = {
    "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "metadata": METADATA,
        "spec": {"type": "object", "additionalProperties": False,
                 "required": ["repo", "chart", "version", "targetNamespace"],
                 "properties": {"repo": {"type": "string", "pattern": "^https://"},
                                "chart": {"type": "string"},
                                "version": {"type": "string", "pattern": r"^\d+\.\d+\.\d+$"},
                                "targetNamespace": {"type": "string"},
                                "createNamespace": {"type": "boolean"}}},
    },
}


HELM_CHART_CONFIG = {
    "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "metadata": METADATA,
        "spec": {"type": "object", "additionalProperties": False, "required": ["valuesContent"],
                 "properties": {"valuesContent": {"type": "string"}}},
    },
}


@pytest.mark.parametrize("kind,schema", [("ScaledObject", SCALED_OBJECT),
                                         ("TriggerAuthentication", TRIGGER_AUTHENTICATION),
                                         ("HelmChart", HELM_CHART),
                                         ("HelmChartConfig", HELM_CHART_CONFIG)])
def test_custom_resources_are_well_formed(kind, schema):
    objects = by_kind(kind)
    assert objects
    for doc in objects.values():
        jsonschema.validate(doc, schema)


def test_scaled_objects_point_at_existing_objects():
    deployments = by_kind("Deployment")
    auths = by_kind("TriggerAuthentication")
    secrets = by_kind("Secret")
    for name, scaled in by_kind("ScaledObject").items():
        assert scaled["spec"]["scaleTargetRef"]["name"] in deployments, name
        for trigger in scaled["spec"]["triggers"]:
            auth = auths[trigger["authenticationRef"]["name"]]
            for ref in auth["spec"]["secretTargetRef"]:
                assert ref["key"] in secrets[ref["name"]]["stringData"]
            host = trigger["metadata"]["address"].split(".")[0]
            assert host in by_kind("Service")
    assert by_kind("ScaledObject")["worker-ml"]["spec"]["minReplicaCount"] == 0


