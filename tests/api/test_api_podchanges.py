"""api.podchanges: the bits of what one pod write changed."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kubetwin.api import podchanges as pc
from kubetwin.api.podchanges import pod_changes

Obj = dict[str, Any]


def _pod() -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "a", "namespace": "default", "uid": "u1", "resourceVersion": "5",
                     "labels": {"app": "web"}, "ownerReferences": [{"uid": "rs1", "controller": True}]},
        "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "100m"}}}]},
        "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False"}]},
    }  # fmt: skip


def _status_write(pod: Obj, **status: Any) -> Obj:
    """What the store makes of a status write: metadata copied, spec shared, status replaced."""
    new = dict(pod)
    new["metadata"] = {**pod["metadata"], "resourceVersion": str(int(pod["metadata"]["resourceVersion"]) + 1)}
    new["status"] = {**pod["status"], **status}
    return new


def test_a_status_write_sets_only_the_bits_of_what_it_changed() -> None:
    pod = _pod()
    cond = [{"type": "PodScheduled", "status": "False", "message": "0/3 nodes"}]
    assert pod_changes(pod, _status_write(pod, conditions=cond)) == pc.CONDITIONS
    ready = [{"type": "Ready", "status": "True"}]
    running = _status_write(pod, conditions=ready, phase="Running")
    assert pod_changes(pod, running) == pc.CONDITIONS | pc.READY_CONDITION | pc.READY | pc.PHASE
    not_ready = [{"type": "Ready", "status": "False"}]  # a Ready condition, but not ready as before
    assert pod_changes(pod, _status_write(pod, conditions=not_ready)) == pc.CONDITIONS | pc.READY_CONDITION
    later = [{"type": "Ready", "status": "True", "lastTransitionTime": "t2"}]
    assert pod_changes(running, _status_write(running, conditions=later)) == pc.CONDITIONS | pc.READY_CONDITION
    assert pod_changes(pod, _status_write(pod, startTime="2024-01-01T00:00:00Z")) == pc.START
    assert pod_changes(pod, _status_write(pod, phase="Failed")) == pc.PHASE | pc.TERMINAL
    failed = _status_write(pod, phase="Failed")
    assert pod_changes(failed, _status_write(failed, phase="Succeeded")) == pc.PHASE
    assert pod_changes(pod, _status_write(pod, podIP="10.0.0.1")) == 0  # no bit: no handler with reads reads it
    assert pod_changes(pod, _status_write(pod, containerStatuses=[{"name": "c"}])) == pc.CONTAINERS
    assert pod_changes(pod, _status_write(pod)) == 0


def test_restarts_are_a_restart_count_moving_in_a_container_of_both_versions() -> None:
    pod = _pod()
    started = _status_write(pod, containerStatuses=[{"name": "c", "restartCount": 0, "state": {"waiting": {}}}])
    assert pod_changes(pod, started) == pc.CONTAINERS  # containers appear: nothing restarted
    running = _status_write(started, containerStatuses=[{"name": "c", "restartCount": 0, "state": {"running": {}}}])
    assert pod_changes(started, running) == pc.CONTAINERS
    restarted = _status_write(running, containerStatuses=[{"name": "c", "restartCount": 1, "state": {"running": {}}}])
    assert pod_changes(running, restarted) == pc.CONTAINERS | pc.RESTARTS
    twice = _status_write(running, containerStatuses=[{"name": "c", "restartCount": 2}, {"name": "c", "restartCount": 0}])
    assert pod_changes(running, twice) == pc.CONTAINERS | pc.RESTARTS  # a name twice: odd
    other = _status_write(running, containerStatuses=[{"name": "d", "restartCount": 3}])
    assert pod_changes(running, other) == pc.CONTAINERS  # no container in both
    assert pod_changes(running, _status_write(running, containerStatuses="x")) == pc.CONTAINERS | pc.RESTARTS
    assert not pc.ALL & pc.WAS_TERMINATING  # an unreadable old version is not known to be deleted


def test_metadata_and_spec_changes_are_classified() -> None:
    pod = _pod()
    new = copy.deepcopy(pod)  # an unchanged deep copy (a client's update) changes nothing
    assert pod_changes(pod, new) == 0
    new["spec"]["nodeName"] = "n1"
    assert pod_changes(pod, new) == pc.NODE
    new["spec"]["tolerations"] = []
    assert pod_changes(pod, new) == pc.NODE | pc.SPEC
    new = copy.deepcopy(pod)
    new["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    assert pod_changes(pod, new) == pc.DELETION | pc.TERMINATING
    # states, set on every write: the new version is being deleted, and so was the old one
    assert pod_changes(new, copy.deepcopy(new)) == pc.TERMINATING | pc.WAS_TERMINATING
    new = copy.deepcopy(pod)
    new["metadata"]["labels"]["v"] = "2"
    new["metadata"]["annotations"] = {"a": "b"}
    assert pod_changes(pod, new) == pc.LABELS | pc.META
    new = copy.deepcopy(pod)
    new["metadata"]["ownerReferences"] = []
    assert pod_changes(pod, new) == pc.OWNERS
    assert pod_changes({"metadata": None}, pod) == pc.ALL


_PARTS = {
    ("metadata", "labels"): pc.LABELS,
    ("metadata", "ownerReferences"): pc.OWNERS,
    ("metadata", "deletionGracePeriodSeconds"): pc.DELETION,
    ("metadata", "finalizers"): pc.META,
    ("spec", "nodeName"): pc.NODE,
    ("spec", "priority"): pc.SPEC,
    ("status", "phase"): pc.PHASE,
    ("status", "containerStatuses"): pc.CONTAINERS,  # (none before: nothing restarted)
    ("status", "startTime"): pc.START,
    ("status", "podIP"): 0,
}


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(sorted(_PARTS)), st.sampled_from([None, "x", "y"])), max_size=6))
def test_every_changed_part_sets_its_bit_and_no_other(edits: list[tuple[tuple[str, str], str | None]]) -> None:
    old = _pod()
    new = copy.deepcopy(old)
    for (section, key), value in edits:
        if value is None:
            new[section].pop(key, None)
        else:
            new[section][key] = value
    want = 0
    for (section, key), bit in _PARTS.items():
        if old[section].get(key, "absent") != new[section].get(key, "absent"):
            want |= bit
    assert pod_changes(old, new) == want
