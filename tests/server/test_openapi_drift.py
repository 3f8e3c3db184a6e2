"""OpenAPI drift: the served schemas keep up with the kinds and fields the code accepts.

kubetwin.io kinds and the VPA's CRDs have hand-written schemas (server/openapi.py); nothing ties
them to the validators and consumers but these tests. They fail when a kind in api.kinds has no
schema, when a manifest under examples/ (or tests/server/fixtures/) uses a field the schema lacks
(``kubectl apply --validate=strict`` would reject it), when an enum or flag list in the code grows
without the schema, or when a controller writes a status field the schema does not declare. They
also pin what ``kubectl explain`` prints for the hand-written kinds.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetwin.api import kinds, kubeletconfig, validation
from kubetwin.autoscaler import config as ca_config
from kubetwin.cloud import maxpods
from kubetwin.kubelet import loadprofile
from kubetwin.server.openapi import openapi_v3_document, unknown_fields

ROOT = Path(__file__).resolve().parents[2]
MANIFEST_DIRS = [ROOT / "examples", ROOT / "tests" / "server" / "fixtures"]
KUBECTL = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not on PATH")


def _manifest_files() -> list[Path]:
    return sorted(p for d in MANIFEST_DIRS if d.is_dir() for p in d.rglob("*.y*ml"))


def _objects(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]


def _schema_of(info: kinds.KindInfo) -> tuple[dict[str, Any], dict[str, Any]]:
    """(document, root schema) of a kind in its group-version document."""
    doc = openapi_v3_document(info.group, info.version)
    assert doc is not None, f"no OpenAPI document for {info.api_version}"
    gvk = {"group": info.group, "version": info.version, "kind": info.kind}
    found = [s for s in doc["components"]["schemas"].values() if gvk in s.get("x-kubernetes-group-version-kind", [])]
    assert len(found) == 1, f"{info.api_version} {info.kind}: {len(found)} schemas carry its gvk"
    return doc, found[0]


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    for _ in range(8):
        ref = node.get("$ref") or (node.get("allOf") or [{}])[0].get("$ref")
        if not ref or "properties" in node:
            return node
        node = doc["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return node


def _at(doc: dict[str, Any], root: dict[str, Any], path: str) -> dict[str, Any]:
    """The schema node at a dotted field path (``spec.traffic.steps[]``: ``[]`` steps into items)."""
    node = root
    for part in path.split("."):
        node = _resolve(doc, node)
        name, items = part.removesuffix("[]"), part.endswith("[]")
        node = _resolve(doc, node["properties"][name])
        if items:
            node = _resolve(doc, node["items"])
    return node


# -- every kind has a schema ----------------------------------------------------------------------


@pytest.mark.parametrize("info", [pytest.param(k, id=f"{k.api_version}/{k.kind}") for k in kinds.all_served()])
def test_every_kind_has_a_described_schema(info: kinds.KindInfo) -> None:
    doc, root = _schema_of(info)
    assert root.get("description"), "kubectl explain prints this"
    assert not root.get("x-kubernetes-preserve-unknown-fields"), "a placeholder, not a schema"
    props = root.get("properties") or {}
    assert {"apiVersion", "kind", "metadata"} <= set(props)
    ops = doc["paths"]
    scope = "/namespaces/{namespace}" if info.namespaced else ""
    prefix = f"/apis/{info.group}/{info.version}" if info.group else f"/api/{info.version}"
    assert f"{prefix}{scope}/{info.plural}/{{name}}" in ops


def test_every_reference_resolves_inside_its_document() -> None:
    for group, version in sorted({(k.group, k.version) for k in kinds.all_served()}):
        doc = openapi_v3_document(group, version)
        assert doc is not None
        names = set(doc["components"]["schemas"])
        text = repr(doc)
        for ref in set(re.findall(r"'#/components/schemas/([^']+)'", text)):
            assert ref in names, f"{group}/{version}: dangling $ref {ref}"


def test_hand_written_fields_are_all_described() -> None:
    """Every field of a hand-written schema has a description (an empty line in kubectl explain
    otherwise)."""
    missing: list[str] = []

    def walk(node: Any, path: str) -> None:
        if not isinstance(node, dict):
            return
        for name, sub in (node.get("properties") or {}).items():
            if not (sub.get("description") or "$ref" in sub):
                missing.append(f"{path}.{name}")
            walk(sub, f"{path}.{name}")
        if isinstance(node.get("items"), dict):
            walk(node["items"], path + "[]")

    for info in kinds.all_kinds():
        if info.group in ("kubetwin.io", "autoscaling.k8s.io"):
            walk(_schema_of(info)[1], info.kind)
    assert missing == []


# -- the schemas follow the code ------------------------------------------------------------------


def _kind(kind: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return _schema_of(next(k for k in kinds.all_kinds() if k.kind == kind))


ENUMS = [
    pytest.param("NodeGroup", "spec.capacityType", validation.CAPACITY_TYPES, id="nodegroup-capacityType"),
    pytest.param("NodeGroup", "spec.networking.mode", maxpods.MODES, id="nodegroup-networking-mode"),
    pytest.param("NodeGroup", "spec.networking.mode", validation.NETWORKING_MODES, id="nodegroup-networking-valid"),
    pytest.param("NodeGroup", "spec.reservedPreset", kubeletconfig.RESERVED_PRESETS, id="nodegroup-reservedPreset"),
    pytest.param("NodeGroup", "spec.kubelet.cpuManagerPolicy", kubeletconfig.CPU_MANAGER_POLICIES,
                 id="kubelet-cpuManagerPolicy"),
    pytest.param("LoadProfile", "spec.metrics[].type", validation.LOADPROFILE_METRIC_TYPES,
                 id="loadprofile-metric-type"),
    pytest.param("VerticalPodAutoscaler", "spec.resourcePolicy.containerPolicies[].mode",
                 validation.VPA_CONTAINER_SCALING_MODES, id="vpa-container-mode"),
    pytest.param("VerticalPodAutoscaler", "spec.resourcePolicy.containerPolicies[].controlledValues",
                 validation.VPA_CONTROLLED_VALUES, id="vpa-controlledValues"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "path", "values"), ENUMS)
def test_enums_match_the_code(kind: str, path: str, values: tuple[str, ...]) -> None:
    doc, root = _kind(kind)
    assert sorted(_at(doc, root, path)["enum"]) == sorted(values)


def test_vpa_update_modes_cover_the_validator() -> None:
    doc, root = _kind("VerticalPodAutoscaler")
    enum = _at(doc, root, "spec.updatePolicy.updateMode")["enum"]
    # Every mode validation accepts, plus the feature-gated ones it answers with a Forbidden cause.
    assert set(validation.VPA_UPDATE_MODES) | {"InPlaceOrRecreate", "InPlace"} == set(enum)


FIELD_SETS = [
    pytest.param("ClusterAutoscaler", "spec", set(ca_config.SPEC_FIELDS), id="clusterautoscaler-flags"),
    pytest.param("NodeGroup", "spec.kubelet", set(kubeletconfig.KNOWN_FIELDS), id="nodegroup-kubelet"),
    pytest.param("LoadProfile", "spec.traffic", set(loadprofile.TRAFFIC_KINDS), id="loadprofile-traffic"),
    pytest.param("LoadProfile", "spec.traffic", set(validation.LOADPROFILE_TRAFFIC), id="loadprofile-validated"),
    pytest.param("ExternalMetricSeries", "spec.values", set(validation.LOADPROFILE_TRAFFIC), id="ems-values"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "path", "fields"), FIELD_SETS)
def test_field_sets_match_the_code(kind: str, path: str, fields: set[str]) -> None:
    doc, root = _kind(kind)
    assert set(_at(doc, root, path)["properties"]) == fields


# Objects using every field the validators and consumers read: none may be unknown.
FULL = [
    pytest.param({"apiVersion": "kubetwin.io/v1alpha1", "kind": "NodeGroup", "metadata": {"name": "g"}, "spec": {
        "instanceType": "m5.large", "minSize": 1, "maxSize": 3, "desiredSize": 2, "capacityType": "spot",
        "spotPrice": 0.03, "zones": ["us-east-1a"], "labels": {"a": "b"},
        "taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}],
        "kubelet": {"maxPods": 20, "kubeReserved": {"cpu": "100m"}, "evictionHard": {"memory.available": "5%"},
                    "featureGates": {"X": True}},
        "reservedPreset": "eks", "networking": {"mode": "aws-vpc-cni-prefix"}, "bootSeconds": 30},
        "status": {"observedGeneration": 1, "replicas": 2, "readyReplicas": 2, "desiredSize": 2,
                   "instanceType": "m5.large", "selector": "kubetwin.io/nodegroup=g", "capacityType": "spot",
                   "pricePerHour": 0.03, "costUSD": 1.5,
                   "conditions": [{"type": "Ready", "status": "True", "reason": "AllNodesReady", "message": "2/2",
                                   "lastTransitionTime": "2024-01-01T00:00:00Z"}]}}, id="nodegroup"),
    pytest.param({"apiVersion": "kubetwin.io/v1alpha1", "kind": "LoadProfile", "metadata": {"name": "l"}, "spec": {
        "selector": {"matchLabels": {"app": "web"}},
        "traffic": {"diurnal": {"base": 50, "peak": 400, "peakAt": "14:00", "period": "24h"}},
        "perPod": {"baseline": {"cpu": "50m", "memory": "200Mi"}, "cpuPerRequest": "2m", "memoryPerRps": "1Mi",
                   "memoryLeakPerHour": "20Mi", "startup": {"cpu": "1", "duration": "60s"}},
        "metrics": [{"name": "rps"}, {"name": "p95", "type": "latency", "base": "100ms", "max": "2s"},
                    {"name": "errors", "type": "errorRate", "ratio": 0.001, "labels": {"code": "5xx"}}]}},
        id="loadprofile"),
    pytest.param({"apiVersion": "kubetwin.io/v1alpha1", "kind": "LoadProfile", "metadata": {"name": "l"}, "spec": {
        "selector": {}, "traffic": {"steps": [{"at": "0s", "rps": 1}], "constant": {"rps": 1},
                                    "ramp": {"from": 1, "to": 2, "over": "1h", "at": "5m"},
                                    "trace": {"csv": "0s,1", "column": 1}}}}, id="loadprofile-traffic-shapes"),
    pytest.param({"apiVersion": "kubetwin.io/v1alpha1", "kind": "Scenario", "metadata": {"name": "s"}, "spec": {
        "duration": "2h", "seed": 7, "sampleInterval": "30s", "metrics": {"resolution": "30s"}}}, id="scenario"),
    pytest.param({"apiVersion": "kubetwin.io/v1alpha1", "kind": "ExternalMetricSeries", "metadata": {"name": "q"},
                  "spec": {"metricName": "queue_depth", "labels": {"queue": "jobs"},
                           "values": {"steps": [{"at": "0s", "value": 10}], "constant": {"value": 1},
                                      "ramp": {"from": 0, "to": 5, "over": "1h"},
                                      "diurnal": {"base": 1, "peak": 2, "peakAt": "12:00"},
                                      "trace": {"csv": "0s,1"}}}}, id="externalmetricseries"),
    pytest.param({"apiVersion": "kubetwin.io/v1alpha1", "kind": "ClusterAutoscaler", "metadata": {"name": "default"},
                  "spec": {**{k: "1m" for k in ca_config._DURATIONS}, **{k: 1 for k in ca_config._INTS},
                           **{k: 0.5 for k in ca_config._FLOATS}, **{k: True for k in ca_config._BOOLS},
                           **{k: "1:2" for k in ca_config._MIN_MAX}, **{k: ["a"] for k in ca_config._STRING_LISTS},
                           "expander": "priority,least-waste"}}, id="clusterautoscaler"),
    pytest.param({"apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler", "metadata": {"name": "v"},
                  "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                           "updatePolicy": {"updateMode": "Recreate", "minReplicas": 1, "evictionRequirements": [
                               {"resources": ["cpu"], "changeRequirement": "TargetHigherThanRequests"}]},
                           "resourcePolicy": {"containerPolicies": [{
                               "containerName": "*", "mode": "Auto", "minAllowed": {"cpu": "50m"},
                               "maxAllowed": {"memory": "1Gi"}, "controlledResources": ["cpu", "memory"],
                               "controlledValues": "RequestsOnly"}]},
                           "recommenders": [{"name": "default"}]},
                  "status": {"recommendation": {"containerRecommendations": [{
                      "containerName": "web", "target": {"cpu": "100m"}, "lowerBound": {"cpu": "50m"},
                      "upperBound": {"cpu": "1"}, "uncappedTarget": {"cpu": "100m"}}]},
                      "conditions": [{"type": "RecommendationProvided", "status": "True",
                                      "lastTransitionTime": "2024-01-01T00:00:00Z", "reason": "", "message": ""}]}},
                 id="vpa"),
    pytest.param({"apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscalerCheckpoint",
                  "metadata": {"name": "v-web"}, "spec": {"vpaObjectName": "v", "containerName": "web"},
                  "status": {"lastUpdateTime": None, "version": "v3", "totalSamplesCount": 3,
                             "firstSampleStart": None, "lastSampleStart": None,
                             "cpuHistogram": {"bucketWeights": {"1": 10000}, "totalWeight": 1.5,
                                              "referenceTimestamp": None},
                             "memoryHistogram": {"bucketWeights": {}, "totalWeight": 0}}}, id="vpa-checkpoint"),
]  # fmt: skip


@pytest.mark.parametrize("obj", FULL)
def test_every_field_the_code_reads_is_declared(obj: dict[str, Any]) -> None:
    assert unknown_fields(obj) == []


@pytest.mark.parametrize(("obj", "want"), [
    pytest.param({"apiVersion": "kubetwin.io/v1alpha1", "kind": "ClusterAutoscaler", "metadata": {"name": "default"},
                  "spec": {"scanIntervl": "10s"}}, ["spec.scanIntervl"], id="clusterautoscaler-typo"),
    pytest.param({"apiVersion": "kubetwin.io/v1alpha1", "kind": "NodeGroup", "metadata": {"name": "g"},
                  "spec": {"instanceType": "m5.large", "networking": {"mod": "overlay"}}},
                 ["spec.networking.mod"], id="nodegroup-networking-typo"),
    pytest.param({"apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler", "metadata": {"name": "v"},
                  "spec": {"targetRef": {"kind": "Deployment", "name": "w"}, "updatePolicy": {"mode": "Off"}}},
                 ["spec.updatePolicy.mode"], id="vpa-typo"),
    pytest.param({"apiVersion": "kubetwin.io/v1alpha1", "kind": "ExternalMetricSeries", "metadata": {"name": "q"},
                  "spec": {"metricName": "q", "values": {"constant": {"rps": 1}}}},
                 ["spec.values.constant.rps"], id="ems-value-not-rps"),
])  # fmt: skip
def test_typos_are_unknown(obj: dict[str, Any], want: list[str]) -> None:
    assert unknown_fields(obj) == want


# -- example manifests ----------------------------------------------------------------------------


def test_there_are_example_manifests() -> None:
    assert len(_manifest_files()) >= 5


@pytest.mark.parametrize("path", [pytest.param(p, id=str(p.relative_to(ROOT))) for p in _manifest_files()])
def test_example_manifest_has_no_unknown_fields(path: Path) -> None:
    objs = _objects(path)
    assert objs, f"{path} holds no objects"
    for obj in objs:
        kinds.for_object(obj)  # a served kind
        assert unknown_fields(obj) == [], f"{obj['kind']}/{obj['metadata']['name']} in {path}"


@KUBECTL
def test_examples_apply_server_side_with_strict_validation(served_cluster_factory: Any) -> None:
    """Each example directory through the real server: ``kubectl apply --server-side --validate=strict``
    succeeds, and the objects the controllers then write back (status included) use declared fields only."""
    dirs = sorted({p.parent for p in _manifest_files()})
    assert dirs
    statuses: set[str] = set()
    for d in dirs:
        s = served_cluster_factory()
        out = s.kubectl("apply", "--server-side", "--validate=strict", "-f", str(d)).stdout
        assert "serverside-applied" in out, out
        s.advance("2m")
        for info in kinds.all_kinds():
            if info.group not in ("kubetwin.io", "autoscaling.k8s.io"):
                continue
            prefix = f"/apis/{info.group}/{info.version}"
            items = s.api("GET", f"{prefix}/{info.plural}").body["items"]
            for obj in items:
                obj = {"apiVersion": info.api_version, "kind": info.kind, **obj}
                assert unknown_fields(obj) == [], f"{d.name}: live {info.kind}/{obj['metadata']['name']}"
                statuses.update(f"{info.kind}.{k}" for k in obj.get("status") or {})
    # The controller-written status was checked too, not only what the manifests say.
    assert {"NodeGroup.pricePerHour", "NodeGroup.costUSD", "NodeGroup.conditions"} <= statuses


# -- kubectl explain ------------------------------------------------------------------------------


def _fields(out: str) -> list[str]:
    return re.findall(r"^  (\w+)\t<", out, re.M)


@KUBECTL
def test_kubectl_explain_documents_hand_written_kinds(served_cluster_factory: Any) -> None:
    s = served_cluster_factory()

    ng = s.kubectl("explain", "nodegroups.spec").stdout
    assert ng.splitlines()[:4] == ["GROUP:      kubetwin.io", "KIND:       NodeGroup", "VERSION:    v1alpha1", ""]
    assert "FIELD: spec <Object>" in ng
    assert {"instanceType", "networking", "reservedPreset", "spotPrice", "kubelet", "taints"} <= set(_fields(ng))
    assert re.search(r"instanceType\t<string> -required-", ng)
    assert "enum: none, eks, gke" in ng
    mode = " ".join(s.kubectl("explain", "nodegroups.spec.networking.mode").stdout.split())
    assert "FIELD: mode <string> ENUM: aws-vpc-cni aws-vpc-cni-prefix overlay" in mode
    assert "eni-max-pods.txt" in mode

    vpa = s.kubectl("explain", "vpa.spec.updatePolicy").stdout
    assert vpa.splitlines()[:3] == ["GROUP:      autoscaling.k8s.io", "KIND:       VerticalPodAutoscaler",
                                    "VERSION:    v1"]  # fmt: skip
    assert "FIELD: updatePolicy <Object>" in vpa
    assert _fields(vpa) == ["evictionRequirements", "minReplicas", "updateMode"]
    assert "Initial: sets resources when pods are created" in " ".join(vpa.split())
    assert "targetRef\t<Object> -required-" in s.kubectl("explain", "vpa.spec").stdout

    ca = s.kubectl("explain", "clusterautoscalers.spec").stdout
    assert ca.splitlines()[:3] == ["GROUP:      kubetwin.io", "KIND:       ClusterAutoscaler", "VERSION:    v1alpha1"]
    assert set(_fields(ca)) == set(ca_config.SPEC_FIELDS)
    assert "(--scan-interval, default 10s)" in " ".join(ca.split())
