"""Every controller of ``controllers.ALL`` together on one stack."""

from __future__ import annotations

from kubetwin.controllers import ALL

from .conftest import Stack, make_deploy


def test_all_controllers_run_a_deployment_and_namespace_teardown(stack: Stack) -> None:
    stack.node("n1")
    stack.create({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                  "metadata": {"name": "n1", "namespace": "kube-node-lease"},
                  "spec": {"holderIdentity": "n1", "renewTime": stack.loop.micro_timestamp()}})  # fmt: skip
    stack.start(*ALL)
    assert len({c.name for c in stack.controllers}) == len(ALL)
    stack.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    stack.create(make_deploy("web", 3, ns="team"))
    stack.create({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "pdb", "namespace": "team"},
                  "spec": {"minAvailable": "50%", "selector": {"matchLabels": {"app": "web"}}}})  # fmt: skip
    stack.settle()
    stack.run_all("team", ["n1"])
    d = stack.get("deployments.apps", "web", "team")
    assert d["status"]["availableReplicas"] == 3
    pdb = stack.get("poddisruptionbudgets.policy", "pdb", "team")
    assert (pdb["status"]["expectedPods"], pdb["status"]["disruptionsAllowed"]) == (3, 1)
    stack.client.delete("namespaces", "team")
    stack.settle(1)
    stack.finish_deletions("team")
    stack.settle(30)
    assert stack.get("namespaces", "team", None) is None
    # nobody renews the lease: after 50 s the node is unreachable; as the only node of its zone is
    # down, every zone is fully disrupted and only the NoSchedule taint is applied
    stack.loop.run(until=60)
    n1 = stack.client.get("nodes", "n1")
    assert {(t["key"], t["effect"]) for t in n1["spec"]["taints"]} == {("node.kubernetes.io/unreachable", "NoSchedule")}
