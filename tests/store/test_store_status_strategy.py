"""Per-kind status strategies: what a status update may change besides status."""

from __future__ import annotations

from kubetwin.sim import EventLoop, SeededRNG
from kubetwin.store import Registry, Store


def _registry() -> Registry:
    reg = Registry(Store(), EventLoop(), SeededRNG(1))
    reg.bootstrap()
    return reg


DEPLOY = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
    },
}


def test_deployment_status_update_keeps_annotations_without_generation_bump() -> None:
    reg = _registry()
    d = reg.create(DEPLOY)
    d["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/revision"] = "1"
    d["metadata"]["labels"] = {"sneaky": "label"}
    d["spec"]["replicas"] = 9
    d["status"] = {"observedGeneration": 1}
    out = reg.update(d, subresource="status")
    assert out["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "1"}
    assert out["metadata"]["generation"] == 1
    assert "labels" not in out["metadata"]  # labels reset, as deploymentStatusStrategy does
    assert out["spec"]["replicas"] == 1  # spec reset


def test_pod_status_update_resets_annotations() -> None:
    reg = _registry()
    p = reg.create(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
         "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    )  # fmt: skip
    p["metadata"]["annotations"] = {"x": "y"}
    p["status"]["phase"] = "Running"
    out = reg.update(p, subresource="status")
    assert out["status"]["phase"] == "Running"
    assert "annotations" not in out["metadata"]


def test_deployment_main_update_of_annotations_bumps_generation() -> None:
    reg = _registry()
    d = reg.create(DEPLOY)
    d["metadata"]["annotations"] = {"team": "web"}
    assert reg.update(d)["metadata"]["generation"] == 2


def test_hpa_created_with_the_zero_status_go_serialises() -> None:
    """autoscaling/v2 status.desiredReplicas is an int32 without omitempty: a new HPA reads back
    with desiredReplicas 0 (whatever status the request carried), so a saved listing re-applies."""
    reg = _registry()
    hpa = reg.create({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "missing"},
                 "minReplicas": 1, "maxReplicas": 3},
        "status": {"currentReplicas": 3, "desiredReplicas": 5},
    })  # fmt: skip
    assert hpa["status"] == {"desiredReplicas": 0}


def test_a_status_write_keeps_no_part_of_the_callers_object(reg: Registry) -> None:
    """Registry.update (not trusted) of the status takes a private copy of what it stores."""
    reg.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
                "spec": {"containers": [{"name": "c", "image": "i"}]}})  # fmt: skip
    pod = reg.get("pods", "p", "default")
    pod["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    reg.update(pod, subresource="status")
    pod["status"]["conditions"][0]["status"] = "False"
    pod["spec"]["containers"][0]["image"] = "j"
    stored = reg.store.get("pods", "default", "p")
    assert stored is not None
    assert stored["status"]["conditions"] == [{"type": "Ready", "status": "True"}]
    assert stored["spec"]["containers"][0]["image"] == "i"
