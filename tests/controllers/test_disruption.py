from __future__ import annotations

import pytest

from kubetwin.controllers import _util as u
from kubetwin.controllers.deployment import DeploymentController
from kubetwin.controllers.disruption import DisruptionController
from kubetwin.controllers.replicaset import ReplicaSetController

from .conftest import Stack, make_deploy


def make_pdb(**spec: object) -> dict:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "pdb", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec}}  # fmt: skip


def pdb_status(stack: Stack) -> dict:
    return stack.get("poddisruptionbudgets.policy", "pdb")["status"]


@pytest.mark.parametrize(
    "spec, ready, expect",
    [
        pytest.param({"minAvailable": 2}, 4, (4, 2, 5, 2), id="min-int"),
        pytest.param({"minAvailable": "50%"}, 4, (4, 3, 5, 1), id="min-percent-rounds-up"),
        pytest.param({"maxUnavailable": 1}, 4, (4, 4, 5, 0), id="max-int"),
        pytest.param({"maxUnavailable": "30%"}, 5, (5, 3, 5, 2), id="max-percent-rounds-up"),
        pytest.param({"minAvailable": "100%"}, 5, (5, 5, 5, 0), id="min-all"),
    ],
)
def test_pdb_status_from_deployment_scale(stack: Stack, spec: dict, ready: int, expect: tuple) -> None:
    stack.start(DeploymentController, ReplicaSetController, DisruptionController)
    stack.create(make_deploy("web", 5))
    stack.settle()
    pods = sorted(stack.pods(), key=lambda p: p["metadata"]["name"])
    for p in pods[:ready]:
        stack.run_pod(p, "n1")
    stack.create(make_pdb(**spec))
    stack.settle()
    st = pdb_status(stack)
    assert (st["currentHealthy"], st["desiredHealthy"], st["expectedPods"], st["disruptionsAllowed"]) == expect
    c = u.get_condition(st, "DisruptionAllowed")
    assert c["reason"] == ("SufficientPods" if expect[3] > 0 else "InsufficientPods")
    assert st["observedGeneration"] == 1


def test_unmanaged_pods_and_disrupted_pods(stack: Stack) -> None:
    stack.start(DisruptionController)
    for i in range(3):
        p = stack.create({"apiVersion": "v1", "kind": "Pod",
                          "metadata": {"name": f"p{i}", "namespace": "default", "labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "c", "image": "x"}]}})  # fmt: skip
        stack.run_pod(p, "n1")
    stack.create(make_pdb(minAvailable=1))
    stack.settle()
    assert pdb_status(stack)["disruptionsAllowed"] == 2
    # the eviction API records p0 as disrupted: it no longer counts as healthy for 2 minutes
    cur = stack.get("poddisruptionbudgets.policy", "pdb")
    cur["status"]["disruptedPods"] = {"p0": stack.loop.timestamp()}
    cur["status"]["disruptionsAllowed"] = 1
    stack.client.update_status(cur)
    stack.settle()
    st = pdb_status(stack)
    assert st["currentHealthy"] == 2 and st["disruptionsAllowed"] == 1 and "p0" in st["disruptedPods"]
    stack.settle(121)
    st = pdb_status(stack)
    assert st["currentHealthy"] == 3 and "disruptedPods" not in st
    assert stack.events("NotDeleted")
    # percentages need controllers: unmanaged pods are ignored with a warning
    stack.patch_spec("poddisruptionbudgets.policy", "pdb", {"spec": {"minAvailable": "50%"}})
    stack.settle()
    assert stack.events("UnmanagedPods")
    assert pdb_status(stack)["expectedPods"] == 0 and pdb_status(stack)["disruptionsAllowed"] == 0
