from __future__ import annotations

from kubetwin.controllers import _util as u
from kubetwin.controllers.namespace import NamespaceController

from .conftest import Stack


def test_namespace_deletion_waits_for_pods_then_finalizes(stack: Stack) -> None:
    stack.node("n1")
    stack.start(NamespaceController)
    stack.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    stack.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "team"}})
    stack.create({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "team"},
                  "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
                           "template": {"metadata": {"labels": {"a": "b"}},
                                        "spec": {"containers": [{"name": "c", "image": "x"}]}}}})  # fmt: skip
    p = stack.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "team"},
                      "spec": {"containers": [{"name": "c", "image": "x"}], "terminationGracePeriodSeconds": 30}})  # fmt: skip
    stack.run_pod(p, "n1")
    stack.client.delete("namespaces", "team")
    stack.settle()
    ns = stack.get("namespaces", "team", None)
    assert ns["status"]["phase"] == "Terminating"
    assert stack.get("configmaps", "cfg", "team") is None
    assert stack.get("deployments.apps", "d", "team") is None
    pod = stack.get("pods", "p", "team")
    assert pod["metadata"].get("deletionTimestamp")
    c = u.get_condition(ns["status"], "NamespaceContentRemaining")
    assert c["status"] == "True" and c["message"] == "Some resources are remaining: pods. has 1 resource instances"
    assert u.get_condition(ns["status"], "NamespaceDeletionDiscoveryFailure")["status"] == "False"
    stack.finish_deletions("team")  # the kubelet finishes the pod
    stack.settle(16)  # requeued after 30 / 2 + 1 s
    assert stack.get("namespaces", "team", None) is None


def test_namespace_with_finalizer_held_content(stack: Stack) -> None:
    stack.start(NamespaceController)
    stack.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    stack.create({"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "held", "namespace": "team", "finalizers": ["example.com/keep"]}})  # fmt: skip
    stack.client.delete("namespaces", "team")
    stack.settle()
    ns = stack.get("namespaces", "team", None)
    c = u.get_condition(ns["status"], "NamespaceFinalizersRemaining")
    assert c["message"] == "Some content in the namespace has finalizers remaining: example.com/keep in 1 resource instances"
    cm = stack.get("configmaps", "held", "team")
    cm["metadata"]["finalizers"] = []
    stack.client.update(cm)
    stack.settle(8)
    assert stack.get("namespaces", "team", None) is None
