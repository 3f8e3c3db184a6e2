"""The kubelet's status building shares what did not change with the stored status (read-only),
and never writes into it."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from kubetwin.kubelet.kubelet import Kubelet
from kubetwin.kubelet.status import REGULAR, RUNNING, Container, PodRuntime, pod_status
from kubetwin.sim import EventLoop

Obj = dict[str, Any]
SCHEDULED = {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": "2024-01-01T00:00:00Z"}


def _runtime() -> PodRuntime:
    rt = PodRuntime(containers=[Container("b", "docker.io/library/b:1", REGULAR), Container("a", "docker.io/library/a:1", REGULAR)])
    rt.sandbox_ready, rt.pod_ip = True, "10.0.0.5"
    return rt


def _stored(status: Obj) -> Obj:
    return {"metadata": {"name": "p"}, "spec": {}, "status": status}


def _build(pod: Obj, rt: PodRuntime, loop: EventLoop) -> Obj:
    return pod_status(pod, rt, "10.1.0.1", "2024-01-01T00:00:00Z", loop, "BestEffort")


def test_unchanged_parts_are_the_stored_ones() -> None:
    loop = EventLoop()
    rt = _runtime()
    first = _build(_stored({"phase": "Pending", "conditions": [dict(SCHEDULED)]}), rt, loop)
    pod = _stored(first)
    again = _build(pod, rt, loop)
    assert again == first
    assert again["conditions"] is first["conditions"]
    assert again["hostIPs"] is first["hostIPs"] and again["podIPs"] is first["podIPs"]
    assert all(x is y for x, y in zip(again["containerStatuses"], first["containerStatuses"], strict=True))
    # one container starts: its entry and the conditions that changed are new, the rest shared
    loop.run(until=5.0)
    a = rt.containers[1]
    a.state, a.started_at, a.container_id, a.started, a.ready = RUNNING, 5.0, "containerd://1", True, True
    after = _build(pod, rt, loop)
    assert after["conditions"] is not first["conditions"]
    by_type = {c["type"]: c for c in first["conditions"]}
    assert after["conditions"][0] is by_type["PodReadyToStartContainers"]
    assert after["conditions"][-1] is by_type["PodScheduled"]
    assert [c["name"] for c in after["containerStatuses"]] == ["a", "b"]
    assert after["containerStatuses"][0] is not first["containerStatuses"][0]
    assert after["containerStatuses"][0]["state"] == {"running": {"startedAt": loop.timestamp(5.0)}}
    assert after["containerStatuses"][1] is first["containerStatuses"][1]


def test_condition_written_by_someone_else_is_rebuilt_when_it_differs() -> None:
    loop = EventLoop()
    extra = dict(SCHEDULED, reason="Bound")  # a field the kubelet would not write
    built = _build(_stored({"phase": "Pending", "conditions": [extra]}), _runtime(), loop)
    scheduled = next(c for c in built["conditions"] if c["type"] == "PodScheduled")
    assert scheduled is not extra and scheduled == SCHEDULED


def test_eviction_status_leaves_the_stored_conditions_alone() -> None:
    loop = EventLoop()
    rt = _runtime()
    stored = _build(_stored({"phase": "Pending", "conditions": [dict(SCHEDULED)]}), rt, loop)
    kept = list(stored["conditions"])
    status = _build(_stored(stored), rt, loop)
    assert status["conditions"] is stored["conditions"]
    Kubelet._evicted_status(SimpleNamespace(loop=loop), status, "The node was low on resource: memory.")  # type: ignore[arg-type]
    assert stored["conditions"] == kept
    assert status["conditions"][-1]["type"] == "DisruptionTarget" and status["phase"] == "Failed"
