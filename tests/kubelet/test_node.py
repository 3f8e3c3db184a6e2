"""Node status, the not-ready taint, the node lease, and a kubelet's stop/resume."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import make_stack

from builders import make_node, make_pod


def _conds(node: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in node["status"].get("conditions", [])}


def test_hand_written_node_ready_at_once() -> None:
    stack = make_stack()
    stack.client.create(make_node("n1").capacity().obj())
    stack.loop.advance(0)
    conds = _conds(stack.client.get("nodes", "n1"))
    assert list(conds) == ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
    assert (conds["Ready"]["status"], conds["Ready"]["reason"], conds["Ready"]["message"]) == (
        "True", "KubeletReady", "kubelet is posting ready status",
    )
    assert conds["MemoryPressure"]["reason"] == "KubeletHasSufficientMemory"
    assert conds["Ready"]["lastHeartbeatTime"] == "2026-01-01T00:00:00Z"


@pytest.mark.parametrize("boot", [pytest.param(45, id="45s"), pytest.param(90, id="90s")])
def test_booting_node_not_ready_until_boot_seconds(boot: int) -> None:
    stack = make_stack()
    stack.loop.advance(100)
    node = make_node("n1").capacity().taints([{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]).obj()
    node["metadata"]["annotations"] = {"kubetwin.io/boot-seconds": str(boot)}
    stack.client.create(node)
    stack.run_pod(make_pod("web").container("c").obj(), "n1")
    stack.loop.advance(boot - 1)
    n = stack.client.get("nodes", "n1")
    assert _conds(n)["Ready"]["status"] == "False" and _conds(n)["Ready"]["reason"] == "KubeletNotReady"
    assert n["spec"]["taints"][0]["key"] == "node.kubernetes.io/not-ready"
    assert stack.client.get("pods", "web", "default")["status"].get("podIP") is None  # network not ready
    stack.loop.advance(1)
    n = stack.client.get("nodes", "n1")
    assert _conds(n)["Ready"]["status"] == "True"
    assert "taints" not in n["spec"]
    stack.loop.advance(5)
    assert stack.client.get("pods", "web", "default")["status"]["phase"] == "Running"


MODES = pytest.mark.parametrize("mode", ["periodic", "on-read"])


@MODES
def test_lease_renewed_every_period(mode: str) -> None:
    stack = make_stack(lease_renewal=mode)
    stack.client.create(make_node("n1").capacity().obj())
    stack.loop.advance(0)
    lease = stack.client.get("leases", "n1", "kube-node-lease")
    assert lease["spec"] == {
        "holderIdentity": "n1", "leaseDurationSeconds": 40, "renewTime": "2026-01-01T00:00:00.000000Z",
    }
    assert lease["metadata"]["ownerReferences"][0]["kind"] == "Node"
    stack.loop.advance(35)
    lease = stack.client.get("leases", "n1", "kube-node-lease")
    assert lease["spec"]["renewTime"] == "2026-01-01T00:00:30.000000Z"
    kl = stack.kubelets.get("n1")
    assert kl is not None and kl.lease_renewals == 4


def test_node_status_heartbeat_every_five_minutes() -> None:
    stack = make_stack()
    stack.client.create(make_node("n1").capacity().obj())
    stack.loop.advance(0)
    kl = stack.kubelets.get("n1")
    assert kl is not None
    first = kl.node_status_writes
    stack.loop.advance(299)
    assert kl.node_status_writes == first
    stack.loop.advance(1)
    assert kl.node_status_writes == first + 1
    assert _conds(stack.client.get("nodes", "n1"))["Ready"]["lastHeartbeatTime"] == "2026-01-01T00:05:00Z"



def test_report_on_the_kubelets_own_write_renews_only_heartbeats() -> None:
    """When the node holds the conditions the kubelet last wrote, a report renews their heartbeats
    (the shortcut): the same conditions, key order included, as building them afresh, and a
    condition someone else set stays as it is."""
    stack = make_stack()
    stack.client.create(make_node("n1").capacity().obj())
    stack.loop.advance(0)
    node = stack.client.get("nodes", "n1")
    other = {"type": "NetworkUnavailable", "status": "False", "lastHeartbeatTime": "2026-01-01T00:00:00Z",
             "lastTransitionTime": "2026-01-01T00:00:00Z", "reason": "RouteCreated", "message": "routes created"}  # fmt: skip
    node["status"]["conditions"].append(other)
    stack.client.update_status(node)
    stack.loop.advance(600)  # the report at 300 s builds on the other writer's conditions, 600 s on its own
    kl = stack.kubelets.get("n1")
    assert kl is not None
    node = stack.client.get("nodes", "n1", copy=False)
    conds = node["status"]["conditions"]
    assert conds is kl._written_conditions
    assert [c["lastHeartbeatTime"] for c in conds] == ["2026-01-01T00:10:00Z"] * 4 + ["2026-01-01T00:00:00Z"]
    assert conds[4] == other
    stack.loop.advance(1)
    renewed = kl.desired_conditions(node, True)
    kl._written_conditions = None  # no shortcut: the conditions built afresh
    rebuilt = kl.desired_conditions(node, True)
    assert renewed is not None and rebuilt is not None
    assert [list(c.items()) for c in renewed] == [list(c.items()) for c in rebuilt]

@MODES
def test_stop_and_resume(mode: str) -> None:
    stack = make_stack(lease_renewal=mode)
    stack.client.create(make_node("n1").capacity().obj())
    stack.loop.advance(0)
    kl = stack.kubelets.get("n1")
    assert kl is not None
    kl.stop()
    stack.run_pod(make_pod("web").container("c").obj(), "n1")
    stack.loop.advance(60)
    lease = stack.client.get("leases", "n1", "kube-node-lease")
    assert lease["spec"]["renewTime"] == "2026-01-01T00:00:00.000000Z"
    st = stack.client.get("pods", "web", "default")["status"]
    assert st["phase"] == "Pending" and "containerStatuses" not in st
    kl.resume()
    stack.loop.advance(5)
    assert stack.client.get("leases", "n1", "kube-node-lease")["spec"]["renewTime"] == "2026-01-01T00:01:00.000000Z"
    assert stack.client.get("pods", "web", "default")["status"]["phase"] == "Running"
    assert kl.lease_renewals == 2  # t=0 and t=60; none while it was dead


def _lease_writes(stack: Any) -> list[str]:
    seen: list[str] = []
    stack.client.registry.store.watch("leases.coordination.k8s.io",
                                      lambda ev: seen.append(ev.object["spec"]["renewTime"][11:19]))  # fmt: skip
    return seen


def test_on_read_leases_written_only_when_read_with_the_scheduled_renew_time() -> None:
    stack = make_stack(lease_renewal="on-read")
    seen = _lease_writes(stack)
    stack.client.create(make_node("n1").capacity().obj())
    stack.loop.advance(0)
    stack.loop.advance(95)
    assert seen == ["00:00:00"]  # created at boot, nobody read it since
    assert stack.client.list("leases", "kube-node-lease")[0]["spec"]["renewTime"] == "2026-01-01T00:01:30.000000Z"
    assert stack.client.get("leases", "n1", "kube-node-lease")["spec"]["renewTime"] == "2026-01-01T00:01:30.000000Z"
    assert seen == ["00:00:00", "00:01:30"]  # one write for the two reads
    assert stack.kubelets.get("n1").lease_renewals == 10  # type: ignore[union-attr]


def test_on_read_lease_keeps_the_last_renewal_of_a_dead_kubelet() -> None:
    stack = make_stack(lease_renewal="on-read")
    stack.client.create(make_node("n1").capacity().obj())
    stack.loop.advance(0)
    stack.loop.advance(47)
    stack.kubelets.get("n1").stop()  # type: ignore[union-attr]
    stack.loop.advance(600)
    assert stack.client.get("leases", "n1", "kube-node-lease")["spec"]["renewTime"] == "2026-01-01T00:00:40.000000Z"


def test_periodic_leases_write_every_renewal() -> None:
    stack = make_stack(lease_renewal="periodic")
    seen = _lease_writes(stack)
    stack.client.create(make_node("n1").capacity().obj())
    stack.loop.advance(0)
    stack.loop.advance(30)
    assert seen == ["00:00:00", "00:00:10", "00:00:20", "00:00:30"]


@MODES
def test_renewals_set_only_renew_time_and_a_restart_reasserts_the_lease(mode: str) -> None:
    """Upstream's lease controller renews a copy of the lease it got: a label someone added and a
    holder someone changed survive renewals; a restarted kubelet writes its whole lease again."""
    stack = make_stack(lease_renewal=mode)
    stack.client.create(make_node("n1").capacity().obj())
    stack.loop.advance(0)
    lease = stack.client.get("leases", "n1", "kube-node-lease")
    lease["metadata"]["labels"] = {"team": "infra"}
    lease["spec"]["holderIdentity"] = "someone-else"
    stack.client.update(lease)
    stack.loop.advance(20)
    lease = stack.client.get("leases", "n1", "kube-node-lease")
    assert (lease["metadata"]["labels"], lease["spec"]["holderIdentity"]) == ({"team": "infra"}, "someone-else")
    assert lease["spec"]["renewTime"] == "2026-01-01T00:00:20.000000Z"
    kl = stack.kubelets.get("n1")
    assert kl is not None
    kl.stop()
    kl.resume()
    stack.loop.advance(10)
    lease = stack.client.get("leases", "n1", "kube-node-lease")
    assert (lease["spec"]["holderIdentity"], lease["spec"]["renewTime"]) == ("n1", "2026-01-01T00:00:30.000000Z")
    assert lease["metadata"]["ownerReferences"][0]["name"] == "n1"


def test_unknown_lease_renewal_mode_is_rejected() -> None:
    with pytest.raises(ValueError, match="lease_renewal must be one of periodic, on-read"):
        make_stack(lease_renewal="sometimes")


def test_node_deleted_stops_kubelet() -> None:
    stack = make_stack()
    stack.client.create(make_node("n1").capacity().obj())
    stack.run_pod(make_pod("web").container("c").obj(), "n1")
    stack.loop.advance(5)
    stack.client.delete("nodes", "n1")
    stack.loop.advance(60)
    assert stack.kubelets.get("n1") is None
    assert stack.client.get("pods", "web", "default")["status"]["phase"] == "Running"  # podgc's job


def test_peek_sees_the_due_renewal_without_writing_it() -> None:
    stack = make_stack(lease_renewal="on-read")
    seen = _lease_writes(stack)
    stopped: list[str] = []
    registry = stack.client.registry
    registry.on_peek_changed("leases", lambda ns, name: stopped.append(f"{ns}/{name}"))
    stack.client.create(make_node("n1").capacity().obj())
    stack.loop.advance(95)
    lease, standing = registry.peek("leases", "n1", "kube-node-lease")
    assert lease is not None and lease["spec"]["renewTime"] == "2026-01-01T00:01:30.000000Z" and standing
    assert seen == ["00:00:00"]  # nothing written: a real read writes it
    assert stack.client.get("leases", "n1", "kube-node-lease")["spec"]["renewTime"] == "2026-01-01T00:01:30.000000Z"
    assert seen == ["00:00:00", "00:01:30"]
    stored = registry.store.get("leases.coordination.k8s.io", "kube-node-lease", "n1")
    assert registry.peek("leases", "n1", "kube-node-lease") == (stored, True)
    stack.loop.advance(12)
    stack.kubelets.get("n1").stop()  # type: ignore[union-attr]
    assert stopped == ["kube-node-lease/n1"] and seen[-1] == "00:01:40"  # the last renewal is written
    lease, standing = registry.peek("leases", "n1", "kube-node-lease")
    assert lease is not None and lease["spec"]["renewTime"] == "2026-01-01T00:01:40.000000Z" and not standing
    assert registry.peek("leases", "nobody", "kube-node-lease") == (None, False)


@pytest.mark.parametrize("read_first", [pytest.param(False, id="stop-writes-the-lease"),
                                        pytest.param(True, id="lease-read-at-its-last-renewal")])  # fmt: skip
def test_node_lifecycle_controller_peeks_at_on_read_leases(read_first: bool) -> None:
    """In run mode the monitor looks at a healthy node's lease without writing it, then leaves the
    node alone while its kubelet renews; a dead kubelet's node goes Unknown a grace period after
    its last renewal, as with written leases, and Ready again when the kubelet comes back."""
    from kubetwin.controllers.nodelifecycle import NodeLifecycleController

    stack = make_stack(lease_renewal="on-read")
    nlc = NodeLifecycleController(stack.client, stack.informers)
    nlc.start()
    seen = _lease_writes(stack)
    stack.client.create(make_node("n1").capacity().obj())
    stack.loop.advance(600)
    assert _conds(stack.client.get("nodes", "n1"))["Ready"]["status"] == "True"
    assert seen == ["00:00:00"] and nlc._health["n1"].standing and not nlc._heap
    if read_first:
        stack.loop.advance(5)
        stack.client.get("leases", "n1", "kube-node-lease")  # written at its renewal of 00:10:00
    kl = stack.kubelets.get("n1")
    assert kl is not None
    kl.stop()  # its last renewal: 00:10:00
    assert seen[-1] == "00:10:00"
    stack.loop.advance(655 - stack.loop.now)
    assert _conds(stack.client.get("nodes", "n1"))["Ready"]["status"] == "True"
    stack.loop.advance(5)
    ready = _conds(stack.client.get("nodes", "n1"))["Ready"]
    assert (ready["status"], ready["reason"]) == ("Unknown", "NodeStatusUnknown")
    kl.resume()
    stack.loop.advance(10)
    assert _conds(stack.client.get("nodes", "n1"))["Ready"]["status"] == "True"
