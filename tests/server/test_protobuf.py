"""Protobuf request bodies (kubetwin.server.protobuf): kubectl's real bodies decode to the JSON
kubectl itself writes for the same object, and each conversion rule holds on hand-built messages."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format

from kubetwin.server import protobuf as pb

ROOT = Path(__file__).resolve().parents[2]
RECORDED = json.loads((Path(__file__).parent / "data" / "kubectl_create_protobuf.json").read_text())


def _without_nil_slices(want: Any, got: Any) -> Any:
    """``want`` less the nulls ``got`` does not have: Go writes a nil slice that has no omitempty
    as null (``rules: null``), and protobuf cannot tell a nil slice from an empty one."""
    if isinstance(want, dict) and isinstance(got, dict):
        return {k: _without_nil_slices(v, got.get(k)) for k, v in want.items() if v is not None or k in got}
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        return [_without_nil_slices(w, g) for w, g in zip(want, got, strict=True)]
    return want


@pytest.mark.parametrize("case", RECORDED["cases"], ids=lambda c: " ".join(c["command"][:4]))
def test_kubectl_body_decodes_to_kubectl_json(case: dict[str, Any]) -> None:
    """The body kubectl 1.32 POSTs for ``kubectl <command>`` decodes to exactly the object kubectl
    prints for ``<command> --dry-run=client -o json`` (recorded by tools/record_kubectl_protobuf.py)."""
    got = pb.decode(base64.b64decode(case["body"]))
    assert got == _without_nil_slices(case["json"], got)


def body(api_version: str, kind: str, wire: dict[str, Any]) -> bytes:
    """An envelope around the message of ``kind`` holding exactly the fields in ``wire`` (proto
    field names; a key present means the field is on the wire, as gogo would have written it)."""
    msg = pb.message_class(api_version, kind)()
    json_format.ParseDict(wire, msg)
    return pb.envelope(api_version, kind, msg)


T0 = 1767225600  # 2026-01-01T00:00:00Z
B64 = base64.b64encode


# (id, apiVersion, kind, what is on the wire, the JSON expected). "meta" is a metadata prefix.
CASES: list[tuple[str, str, str, dict[str, Any], dict[str, Any]]] = [
    (
        "pointer-zero-kept-value-zero-dropped-value-struct-kept",
        "apps/v1",
        "Deployment",
        {
            "metadata": {"name": "web", "namespace": "", "creationTimestamp": {}},
            "spec": {
                "replicas": 0,  # *int32: a zero on the wire is a real 0
                "minReadySeconds": 0,  # int32 value field, omitempty: dropped
                "paused": False,
                "strategy": {},  # value struct: Go writes {}
                "template": {
                    "metadata": {"creationTimestamp": {}},
                    "spec": {
                        "containers": [
                            {
                                "name": "app",
                                "image": "nginx",
                                "stdin": False,
                                "resources": {"limits": {"cpu": {"string": "500m"}}},
                                "livenessProbe": {
                                    "handler": {"httpGet": {"path": "/", "port": {"type": 1, "strVal": "http"}}},
                                    "initialDelaySeconds": 0,
                                },
                            }
                        ],
                        "volumes": [{"name": "scratch", "volumeSource": {"emptyDir": {}}}],
                    },
                },
            },
            "status": {},
        },
        {
            "metadata": {"name": "web", "creationTimestamp": None},
            "spec": {
                "replicas": 0,
                "strategy": {},
                "template": {
                    "metadata": {"creationTimestamp": None},
                    "spec": {
                        "containers": [
                            {
                                "name": "app",
                                "image": "nginx",
                                "resources": {"limits": {"cpu": "500m"}},
                                "livenessProbe": {"httpGet": {"path": "/", "port": "http"}},
                            }
                        ],
                        "volumes": [{"name": "scratch", "emptyDir": {}}],
                    },
                },
            },
            "status": {},
        },
    ),
    (
        "required-zero-kept-intorstring-zero-written",
        "v1",
        "Service",
        {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 0, "nodePort": 0, "targetPort": {"type": 0, "intVal": 0}}]}},
        {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 0, "targetPort": 0}]}},
    ),
    (
        "required-value-zero",
        "scheduling.k8s.io/v1",
        "PriorityClass",
        {"metadata": {"name": "p"}, "value": 0, "globalDefault": False, "description": ""},
        {"metadata": {"name": "p"}, "value": 0},
    ),
    (
        "bytes-base64-maps",
        "v1",
        "Secret",
        {"metadata": {"name": "s", "labels": {"a": ""}}, "data": {"k": B64(b"\x00\xffhi").decode()}, "stringData": {"x": "y"}},
        {"metadata": {"name": "s", "labels": {"a": ""}}, "data": {"k": "AP9oaQ=="}, "stringData": {"x": "y"}},
    ),
    (
        "times-fieldsv1-owner-refs",
        "v1",
        "ConfigMap",
        {
            "metadata": {
                "name": "c",
                "creationTimestamp": {"seconds": T0, "nanos": 999},
                "deletionTimestamp": {"seconds": T0 + 61},
                "deletionGracePeriodSeconds": 0,
                "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": "u1", "controller": False}],
                "managedFields": [
                    {
                        "manager": "kubectl",
                        "operation": "Update",
                        "time": {"seconds": T0},
                        "fieldsType": "FieldsV1",
                        "fieldsV1": {"Raw": B64(b'{"f:data":{}}').decode()},
                    }
                ],
            },
            "binaryData": {"b": B64(b"\x01").decode()},
            "immutable": False,  # *bool: kept
        },
        {
            "metadata": {
                "name": "c",
                "creationTimestamp": "2026-01-01T00:00:00Z",
                "deletionTimestamp": "2026-01-01T00:01:01Z",
                "deletionGracePeriodSeconds": 0,
                "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": "u1", "controller": False}],
                "managedFields": [
                    {
                        "manager": "kubectl",
                        "operation": "Update",
                        "time": "2026-01-01T00:00:00Z",
                        "fieldsType": "FieldsV1",
                        "fieldsV1": {"f:data": {}},
                    }
                ],
            },
            "binaryData": {"b": "AQ=="},
            "immutable": False,
        },
    ),
    (
        "microtime-lease",
        "coordination.k8s.io/v1",
        "Lease",
        {"metadata": {"name": "n1"}, "spec": {"holderIdentity": "n1", "renewTime": {"seconds": T0, "nanos": 123456789}, "leaseDurationSeconds": 40}},
        {"metadata": {"name": "n1"}, "spec": {"holderIdentity": "n1", "renewTime": "2026-01-01T00:00:00.123456Z", "leaseDurationSeconds": 40}},
    ),
    (
        "go-duration",
        "metrics.k8s.io/v1beta1",
        "PodMetrics",
        {"metadata": {"name": "p"}, "window": {"duration": 90_500_000_000}},
        {"metadata": {"name": "p"}, "window": "1m30.5s"},
    ),
    (
        "rawextension",
        "apps/v1",
        "ControllerRevision",
        {"metadata": {"name": "r"}, "data": {"raw": B64(b'{"spec":{"a":1}}').decode()}, "revision": 3},
        {"metadata": {"name": "r"}, "data": {"spec": {"a": 1}}, "revision": 3},
    ),
    (
        "renamed-field-uid",
        "authentication.k8s.io/v1",
        "TokenRequest",
        {"spec": {"audiences": ["api"], "expirationSeconds": 600, "boundObjectRef": {"kind": "Pod", "name": "p", "uID": "u9"}}},
        {"spec": {"audiences": ["api"], "expirationSeconds": 600, "boundObjectRef": {"kind": "Pod", "name": "p", "uid": "u9"}}},
    ),
    (
        "named-slice-extra",
        "authorization.k8s.io/v1",
        "SubjectAccessReview",
        {"spec": {"user": "alice", "extra": {"scopes": {"items": ["a", "b"]}}, "resourceAttributes": {"verb": "get", "resource": "pods", "namespace": ""}}},
        {"spec": {"user": "alice", "extra": {"scopes": ["a", "b"]}, "resourceAttributes": {"verb": "get", "resource": "pods"}}},
    ),
    (
        "inline-rule-value-and-renamed-webhooks",
        "admissionregistration.k8s.io/v1",
        "ValidatingWebhookConfiguration",
        {
            "metadata": {"name": "v"},
            "Webhooks": [
                {
                    "name": "w.example.com",
                    "rules": [{"operations": ["CREATE"], "rule": {"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}}],
                    "sideEffects": "None",
                    "admissionReviewVersions": ["v1"],
                    "clientConfig": {"url": "https://x"},
                }
            ],
        },
        {
            "metadata": {"name": "v"},
            "webhooks": [
                {
                    "name": "w.example.com",
                    "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}],
                    "sideEffects": "None",
                    "admissionReviewVersions": ["v1"],
                    "clientConfig": {"url": "https://x"},
                }
            ],
        },
    ),
    (
        "inline-ingress-rule-value",
        "networking.k8s.io/v1",
        "Ingress",
        {"metadata": {"name": "i"}, "spec": {"rules": [{"host": "a.io", "ingressRuleValue": {"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "s", "port": {"number": 80}}}}]}}}]}},
        {"metadata": {"name": "i"}, "spec": {"rules": [{"host": "a.io", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "s", "port": {"number": 80}}}}]}}]}},
    ),
    (
        "eviction-with-delete-options",
        "policy/v1",
        "Eviction",
        {"metadata": {"name": "p", "namespace": "default"}, "deleteOptions": {"gracePeriodSeconds": 0, "dryRun": ["All"], "preconditions": {"uid": "u1"}}},
        {"metadata": {"name": "p", "namespace": "default"}, "deleteOptions": {"gracePeriodSeconds": 0, "dryRun": ["All"], "preconditions": {"uid": "u1"}}},
    ),
    (
        "delete-options",
        "v1",
        "DeleteOptions",
        {"propagationPolicy": "Foreground", "orphanDependents": False},
        {"propagationPolicy": "Foreground", "orphanDependents": False},
    ),
    (
        "self-subject-access-review",
        "authorization.k8s.io/v1",
        "SelfSubjectAccessReview",
        {"metadata": {}, "spec": {"resourceAttributes": {"namespace": "default", "verb": "create", "group": "apps", "version": "", "resource": "deployments"}}},
        {"metadata": {}, "spec": {"resourceAttributes": {"namespace": "default", "verb": "create", "group": "apps", "resource": "deployments"}}},
    ),
    (
        "cronjob-pointer-string-kept-empty",
        "batch/v1",
        "CronJob",
        {"metadata": {"name": "c"}, "spec": {"schedule": "@daily", "timeZone": "", "suspend": True, "jobTemplate": {"metadata": {}, "spec": {"template": {"metadata": {}, "spec": {}}}}}},
        {"metadata": {"name": "c"}, "spec": {"schedule": "@daily", "timeZone": "", "suspend": True, "jobTemplate": {"metadata": {}, "spec": {"template": {"metadata": {}, "spec": {}}}}}},
    ),
]


@pytest.mark.parametrize(("api_version", "kind", "wire", "want"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_conversion_rules(api_version: str, kind: str, wire: dict[str, Any], want: dict[str, Any]) -> None:
    assert pb.decode(body(api_version, kind, wire)) == {"apiVersion": api_version, "kind": kind, **want}


def _raw(api_version: str, kind: str, raw: bytes, content_type: str = "", encoding: str = "") -> bytes:
    tm = pb.enc_bytes(1, api_version) + pb.enc_bytes(2, kind)
    return pb.MAGIC + pb.enc_bytes(1, tm) + pb.enc_bytes(2, raw) + pb.enc_bytes(3, encoding) + pb.enc_bytes(4, content_type)


def _bad_time() -> bytes:
    msg = pb.message_class("v1", "ConfigMap")()
    msg.metadata.creationTimestamp.seconds = 10**15  # type: ignore[attr-defined]
    return pb.envelope("v1", "ConfigMap", msg)


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        pytest.param(b'{"kind":"ConfigMap"}', pb.ProtobufError, "magic prefix", id="no-magic"),
        pytest.param(pb.MAGIC + b"\x0a\xff", pb.ProtobufError, "envelope", id="truncated-envelope"),
        pytest.param(_raw("v1", "", b""), pb.ProtobufError, "no kind", id="no-kind"),
        pytest.param(_raw("v1", "ConfigMap", b"\x0a\x05ab"), pb.ProtobufError, "ConfigMap (v1)", id="truncated-object"),
        pytest.param(_raw("v1", "ConfigMap", b"", encoding="gzip"), pb.ProtobufError, "gzip", id="content-encoding"),
        pytest.param(_raw("apps/v1", "ControllerRevision", pb.enc_bytes(2, pb.enc_bytes(1, b"not json"))), pb.ProtobufError, "RawExtension", id="raw-not-json"),
        pytest.param(_bad_time(), pb.ProtobufError, "time out of range", id="time-out-of-range"),
        pytest.param(_raw("kubetwin.io/v1alpha1", "NodeGroup", b""), pb.UnsupportedKind, "'NodeGroup'", id="kind-without-schema"),
        pytest.param(_raw("v1", "ConfigMap", b"", content_type="application/cbor"), pb.UnsupportedKind, "cbor", id="other-content-type"),
    ],
)
def test_bad_bodies(data: bytes, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        pb.decode(data)


def test_envelope_may_carry_json() -> None:
    data = _raw("v1", "ConfigMap", b'{"metadata":{"name":"c"}}', content_type="application/json")
    assert pb.decode(data) == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}


def test_invalid_utf8_becomes_replacement_characters() -> None:
    raw = pb.enc_bytes(1, pb.enc_bytes(1, b"a\xffb"))  # metadata.name
    assert pb.decode(_raw("v1", "ConfigMap", raw))["metadata"] == {"name": "a\ufffdb"}


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (999, "999ns"),
        (1_500, "1.5µs"),
        (2_000_000, "2ms"),
        (1_250_000, "1.25ms"),
        (1_000_000_000, "1s"),
        (90_000_000_000, "1m30s"),
        (3_600_000_000_000, "1h0m0s"),
        (3_661_000_000_001, "1h1m1.000000001s"),
        (-1_500_000_000, "-1.5s"),
    ],
)
def test_go_duration(ns: int, text: str) -> None:
    assert pb.go_duration(ns) == text


@pytest.mark.parametrize(
    ("api_version", "kind", "message"),
    [
        ("apps/v1", "Deployment", "k8s.io.api.apps.v1.Deployment"),
        ("v1", "Pod", "k8s.io.api.core.v1.Pod"),
        ("flowcontrol.apiserver.k8s.io/v1", "FlowSchema", "k8s.io.api.flowcontrol.v1.FlowSchema"),
        ("internal.apiserver.k8s.io/v1alpha1", "StorageVersion", "k8s.io.api.apiserverinternal.v1alpha1.StorageVersion"),
        ("v1", "DeleteOptions", "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions"),
        ("meta.k8s.io/v1", "DeleteOptions", "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions"),
        ("metrics.k8s.io/v1beta1", "NodeMetrics", "k8s.io.metrics.pkg.apis.metrics.v1beta1.NodeMetrics"),
        ("kubetwin.io/v1alpha1", "NodeGroup", None),
        ("v1", "NoSuchKind", None),
    ],
)
def test_descriptor_lookup(api_version: str, kind: str, message: str | None) -> None:
    d = pb.descriptor_for(api_version, kind)
    assert (d.full_name if d is not None else None) == message


KUBECTL_132 = Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.32")


@pytest.mark.skipif(not KUBECTL_132.exists(), reason="no kubectl 1.32 binary to extract from")
def test_committed_descriptors_are_what_the_tool_extracts(tmp_path: Path) -> None:
    out = tmp_path / "d.binpb.gz"
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_k8s_proto_descriptors.py"), str(KUBECTL_132), "-o", str(out)],
        check=True,
        capture_output=True,
    )
    committed = ROOT / "src" / "kubetwin" / "server" / "data" / pb.DESCRIPTORS
    assert out.read_bytes() == committed.read_bytes()

