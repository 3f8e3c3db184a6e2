"""The generic registry: naming, metadata, status rules, admission, graceful deletion, finalizers,
bind, list/watch with selectors and pagination, patches."""

from __future__ import annotations

from typing import Any

import pytest

from builders import make_node, make_pod
from kubetwin.api.errors import ApiError
from kubetwin.sim import EventLoop, SeededRNG
from kubetwin.store import Registry, Store, WatchEvent

Obj = dict[str, Any]


def _deploy(name: str = "web", replicas: int = 1, **meta: Any) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, **meta},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
        },
    }


def _cm(name: str = "cfg", **meta: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **meta}, "data": {"k": "v"}}


def _pc(name: str, value: int, global_default: bool = False, policy: str | None = None) -> Obj:
    pc: Obj = {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name}, "value": value}
    if global_default:
        pc["globalDefault"] = True
    if policy:
        pc["preemptionPolicy"] = policy
    return pc


def _err(fn: Any, *args: Any, **kw: Any) -> ApiError:
    with pytest.raises(ApiError) as ei:
        fn(*args, **kw)
    return ei.value


# -- naming & metadata -----------------------------------------------------------------------------
def test_generate_name_is_deterministic_and_upstream_shaped() -> None:
    def names(seed: int) -> list[str]:
        r = Registry(Store(), EventLoop(), SeededRNG(seed))
        r.bootstrap()
        return [r.create(_cm() | {"metadata": {"generateName": "cfg-"}})["metadata"]["name"] for _ in range(20)]

    a, b = names(5), names(5)
    assert a == b and len(set(a)) == 20
    for n in a:
        assert n.startswith("cfg-") and len(n) == 9
        assert set(n[4:]) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert names(6) != a


def test_generate_name_base_is_cut_to_58(reg: Registry) -> None:
    out = reg.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "x" * 80}})
    assert len(out["metadata"]["name"]) == 63 and out["metadata"]["name"].startswith("x" * 58)


def test_name_required(reg: Registry) -> None:
    e = _err(reg.create, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})
    assert e.code == 422
    assert e.message == 'ConfigMap "" is invalid: metadata.name: Required value: name or generateName is required'


def test_uid_timestamp_generation(reg: Registry, loop: EventLoop) -> None:
    loop.run(until=3600)
    d = reg.create(_deploy() | {"metadata": {"name": "web", "uid": "forged", "resourceVersion": "99"}})
    m = d["metadata"]
    assert m["uid"] != "forged" and len(m["uid"]) == 36 and m["uid"][14] == "4"
    assert m["creationTimestamp"] == "2026-01-01T01:00:00Z"
    assert m["generation"] == 1
    assert int(m["resourceVersion"]) == reg.store.resource_version
    uid = m["uid"]
    # metadata change: no bump; spec change: bump; uid/creationTimestamp are preserved
    d["metadata"]["labels"] = {"x": "y"}
    d["metadata"]["uid"] = "other"
    d = reg.update(d)
    assert d["metadata"]["generation"] == 1 and d["metadata"]["uid"] == uid
    d["spec"]["replicas"] = 3
    d = reg.update(d)
    assert d["metadata"]["generation"] == 2
    d["metadata"]["annotations"] = {"a": "b"}  # deployment strategy: annotations bump too
    assert reg.update(d)["metadata"]["generation"] == 3


def test_no_op_update_writes_nothing(reg: Registry) -> None:
    d = reg.create(_deploy())
    events: list[WatchEvent] = []
    reg.watch("deployments.apps", events.append, resource_version=d["metadata"]["resourceVersion"])
    rv = reg.store.resource_version
    again = reg.update(d)
    assert again["metadata"]["resourceVersion"] == d["metadata"]["resourceVersion"]
    assert reg.store.resource_version == rv and events == []


def test_stale_update_conflict(reg: Registry) -> None:
    d = reg.create(_deploy())
    reg.update(d | {"spec": d["spec"] | {"replicas": 2}})
    e = _err(reg.update, d | {"spec": d["spec"] | {"replicas": 5}})
    assert e.code == 409 and e.message.startswith('Operation cannot be fulfilled on deployments.apps "web": ')


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(lambda r: r.get("pods", "x", "default"), 'pods "x" not found', id="get-pod"),
        pytest.param(lambda r: r.get("deployments.apps", "web", "default"), 'deployments.apps "web" not found',
                     id="get-deployment"),
        pytest.param(lambda r: r.delete("deployments", "web", "default"), 'deployments.apps "web" not found',
                     id="delete-by-plural"),
        pytest.param(lambda r: r.update(_deploy()), 'deployments.apps "web" not found', id="update"),
        pytest.param(lambda r: r.patch("nodes", "n1", {}), 'nodes "n1" not found', id="patch-node"),
        pytest.param(lambda r: r.bind("default", "x", "n1"), 'pods "x" not found', id="bind"),
    ],
)  # fmt: skip
def test_not_found_messages(reg: Registry, call: Any, message: str) -> None:
    e = _err(call, reg)
    assert (e.code, e.reason, e.message) == (404, "NotFound", message)


def test_already_exists(reg: Registry) -> None:
    reg.create(_deploy())
    e = _err(reg.create, _deploy())
    assert (e.code, e.message) == (409, 'deployments.apps "web" already exists')


# -- status subresource ----------------------------------------------------------------------------
def test_status_rules(reg: Registry) -> None:
    d = reg.create(_deploy() | {"status": {"replicas": 7}})
    assert "status" not in d  # status is reset on create
    d["status"] = {"replicas": 2}
    d = reg.update_status(d)
    assert d["status"] == {"replicas": 2} and d["metadata"]["generation"] == 1
    d["status"] = {"replicas": 99}
    d["spec"]["replicas"] = 4
    d = reg.update(d)  # main resource: spec changes, status kept
    assert d["status"] == {"replicas": 2} and d["spec"]["replicas"] == 4
    d["spec"]["replicas"] = 10
    d["status"] = {"replicas": 3}
    d = reg.update_status(d)  # status subresource: status changes, spec kept
    assert d["spec"]["replicas"] == 4 and d["status"] == {"replicas": 3}


def test_node_may_register_with_status(reg: Registry) -> None:
    n = reg.create(make_node("n1").capacity(cpu="2").obj())
    assert n["status"]["capacity"]["cpu"] == "2"


def test_pod_status_on_create(reg: Registry) -> None:
    p = reg.create(make_pod("a").container("c", requests={"cpu": "1"}, limits={"cpu": "1", "memory": "1Gi"})
                   .phase("Running").obj())  # fmt: skip
    assert p["status"] == {"phase": "Pending", "qosClass": "Guaranteed"}


@pytest.mark.parametrize(
    "obj",
    [
        pytest.param({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "BAD"}, "spec": {"containers": []}},
                     id="pod"),
        pytest.param(_cm("Not_Valid"), id="configmap-name"),
    ],
)  # fmt: skip
def test_invalid_with_causes(reg: Registry, obj: Obj) -> None:
    e = _err(reg.create, obj)
    assert (e.code, e.reason) == (422, "Invalid")
    causes = e.status["details"]["causes"]
    assert causes and all({"field", "message", "reason"} <= set(c) for c in causes)
    assert any(c["field"] == "metadata.name" for c in causes)


# -- admission ---------------------------------------------------------------------------------------
def test_namespace_lifecycle(reg: Registry) -> None:
    e = _err(reg.create, _cm() | {"metadata": {"name": "cfg", "namespace": "nope"}})
    assert (e.code, e.message) == (404, 'namespaces "nope" not found')
    reg.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    reg.delete("namespaces", "team")
    e = _err(reg.create, _cm() | {"metadata": {"name": "cfg", "namespace": "team"}})
    assert e.code == 403 and e.reason == "Forbidden"
    assert e.message == 'configmaps "cfg" is forbidden: unable to create new content in namespace team because it is being terminated'
    assert e.status["details"]["causes"] == [
        {"reason": "NamespaceTerminating", "message": "namespace team is being terminated", "field": "metadata.namespace"}
    ]
    e = _err(reg.create, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "c-", "namespace": "team"}})
    assert e.message.startswith("configmaps is forbidden: unable to create new content")
    # events are still allowed into a terminating namespace
    reg.create({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1", "namespace": "team"},
                "involvedObject": {"kind": "Namespace", "name": "team"}, "reason": "R", "message": "m"})  # fmt: skip


@pytest.mark.parametrize(
    ("classes", "pod_class", "priority", "policy", "class_after"),
    [
        pytest.param([], None, 0, "PreemptLowerPriority", None, id="no-class-no-default"),
        pytest.param([_pc("high", 1000)], "high", 1000, "PreemptLowerPriority", "high", id="named"),
        pytest.param([_pc("never", 5, policy="Never")], "never", 5, "Never", "never", id="policy-from-class"),
        pytest.param([_pc("d", 7, True)], None, 7, "PreemptLowerPriority", "d", id="global-default"),
        pytest.param([_pc("d1", 9, True), _pc("d2", 3, True)], None, 3, "PreemptLowerPriority", "d2",
                     id="lowest-of-several-defaults"),
        pytest.param([], "system-node-critical", 2000001000, "PreemptLowerPriority", "system-node-critical",
                     id="system-node-critical"),
        pytest.param([], "system-cluster-critical", 2000000000, "PreemptLowerPriority", "system-cluster-critical",
                     id="system-cluster-critical"),
    ],
)  # fmt: skip
def test_priority_admission(
    reg: Registry, classes: list[Obj], pod_class: str | None, priority: int, policy: str, class_after: str | None
) -> None:
    for pc in classes:
        reg.create(pc)
    pod = make_pod("p").container("c").obj()
    if pod_class:
        pod["spec"]["priorityClassName"] = pod_class
    out = reg.create(pod)["spec"]
    assert (out["priority"], out["preemptionPolicy"], out.get("priorityClassName")) == (priority, policy, class_after)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param({"priorityClassName": "x"}, 'pods "p" is forbidden: no PriorityClass with name x was found',
                     id="unknown-class"),
        pytest.param({"priorityClassName": "high", "priority": 5},
                     'pods "p" is forbidden: the integer value of priority (5) must not be provided in pod spec; '
                     "priority admission controller computed 1000 from the given PriorityClass name",
                     id="priority-mismatch"),
    ],
)  # fmt: skip
def test_priority_admission_rejects(reg: Registry, spec: Obj, message: str) -> None:
    reg.create(_pc("high", 1000))
    pod = make_pod("p").container("c").obj()
    pod["spec"].update(spec)
    e = _err(reg.create, pod)
    assert (e.code, e.reason, e.message) == (403, "Forbidden", message)


def test_system_priority_classes_bootstrapped(reg: Registry) -> None:
    assert reg.get("priorityclasses.scheduling.k8s.io", "system-node-critical")["value"] == 2000001000
    assert reg.get("priorityclasses.scheduling.k8s.io", "system-cluster-critical")["value"] == 2000000000


_NR = "node.kubernetes.io/not-ready"
_UR = "node.kubernetes.io/unreachable"


def _t(key: str | None, seconds: int | None = 300, effect: str | None = "NoExecute", op: str = "Exists") -> Obj:
    t: Obj = {"operator": op}
    if key is not None:
        t["key"] = key
    if effect is not None:
        t["effect"] = effect
    if seconds is not None:
        t["tolerationSeconds"] = seconds
    return t


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param([], [_t(_NR), _t(_UR)], id="both-added"),
        pytest.param([_t(_NR, 60)], [_t(_NR, 60), _t(_UR)], id="not-ready-kept"),
        pytest.param([_t(_UR, None)], [_t(_UR, None), _t(_NR)], id="unreachable-forever-kept"),
        pytest.param([_t(None, None, None)], [_t(None, None, None)], id="tolerate-everything"),
        pytest.param([_t(_NR, None, "NoSchedule")], [_t(_NR, None, "NoSchedule"), _t(_NR), _t(_UR)],
                     id="other-effect-does-not-count"),
    ],
)  # fmt: skip
def test_default_toleration_seconds(reg: Registry, given: list[Obj], expected: list[Obj]) -> None:
    out = reg.create(make_pod("p").container("c").tolerations(given).obj())
    assert out["spec"]["tolerations"] == expected


# -- deletion ------------------------------------------------------------------------------------------
def _bound_pod(reg: Registry, name: str = "p", grace: int | None = None, finalizers: list[str] | None = None) -> Obj:
    b = make_pod(name).container("c")
    pod = b.obj()
    if grace is not None:
        pod["spec"]["terminationGracePeriodSeconds"] = grace
    if finalizers:
        pod["metadata"]["finalizers"] = finalizers
    reg.create(pod)
    return reg.bind("default", name, "n1")


def test_graceful_pod_deletion(reg: Registry, loop: EventLoop) -> None:
    loop.run(until=100)
    _bound_pod(reg)
    out = reg.delete("pods", "p", "default")
    m = out["metadata"]
    assert m["deletionTimestamp"] == loop.timestamp(130) and m["deletionGracePeriodSeconds"] == 30
    assert reg.get("pods", "p", "default")["metadata"]["deletionTimestamp"] == m["deletionTimestamp"]
    # a second delete without a grace period changes nothing
    rv = reg.store.resource_version
    loop.run(until=110)
    assert reg.delete("pods", "p", "default")["metadata"]["deletionTimestamp"] == m["deletionTimestamp"]
    assert reg.store.resource_version == rv
    # a shorter explicit grace shortens, counted from the first request
    out = reg.delete("pods", "p", "default", grace_period_seconds=5)
    assert out["metadata"]["deletionTimestamp"] == loop.timestamp(105)
    assert out["metadata"]["deletionGracePeriodSeconds"] == 5
    # a longer one never lengthens
    assert reg.delete("pods", "p", "default", grace_period_seconds=60)["metadata"]["deletionGracePeriodSeconds"] == 5
    # grace 0 (the kubelet's final delete) removes it
    reg.delete("pods", "p", "default", grace_period_seconds=0)
    assert reg.store.get("pods", "default", "p") is None


@pytest.mark.parametrize(
    ("setup", "grace"),
    [
        pytest.param("unbound", None, id="unbound-deleted-at-once"),
        pytest.param("bound", 0, id="grace-zero"),
        pytest.param("terminal", None, id="succeeded-pod-at-once"),
        pytest.param("spec-grace-zero", None, id="termination-grace-zero"),
    ],
)
def test_immediate_pod_deletion(reg: Registry, setup: str, grace: int | None) -> None:
    if setup == "unbound":
        reg.create(make_pod("p").container("c").obj())
    elif setup == "spec-grace-zero":
        _bound_pod(reg, grace=0)
    else:
        pod = _bound_pod(reg)
        if setup == "terminal":
            pod["status"]["phase"] = "Succeeded"
            reg.update_status(pod)
    out = reg.delete("pods", "p", "default", grace_period_seconds=grace)
    assert reg.store.get("pods", "default", "p") is None
    assert out["metadata"]["resourceVersion"] == str(reg.store.resource_version)


def test_finalizers_keep_object_until_removed(reg: Registry, loop: EventLoop) -> None:
    reg.create(_cm() | {"metadata": {"name": "cfg", "finalizers": ["a/x", "b/y"]}})
    out = reg.delete("configmaps", "cfg", "default")
    assert out["metadata"]["deletionTimestamp"] == loop.timestamp()
    assert out["metadata"]["deletionGracePeriodSeconds"] == 0
    out["metadata"]["finalizers"] = ["b/y"]
    out = reg.update(out)
    assert reg.store.get("configmaps", "default", "cfg") is not None
    out["metadata"]["finalizers"] = []
    reg.update(out)
    assert reg.store.get("configmaps", "default", "cfg") is None


def test_finalizer_on_graceful_pod(reg: Registry) -> None:
    _bound_pod(reg, finalizers=["x/y"])
    reg.delete("pods", "p", "default")
    p = reg.delete("pods", "p", "default", grace_period_seconds=0)  # kubelet done; finalizer remains
    assert p["metadata"]["deletionGracePeriodSeconds"] == 0
    assert reg.store.get("pods", "default", "p") is not None
    p["metadata"]["finalizers"] = []
    reg.update(p)
    assert reg.store.get("pods", "default", "p") is None


@pytest.mark.parametrize(
    ("existing", "policy", "finalizers"),
    [
        pytest.param([], "Orphan", ["orphan"], id="orphan"),
        pytest.param([], "Foreground", ["foregroundDeletion"], id="foreground"),
        pytest.param(["x/y"], "Foreground", ["x/y", "foregroundDeletion"], id="foreground-keeps-others"),
        pytest.param(["orphan", "x/y"], "Background", ["x/y"], id="background-drops-orphan"),
        pytest.param(["orphan"], None, ["orphan"], id="no-policy-keeps-orphan"),
    ],
)
def test_propagation_policy_finalizers(
    reg: Registry, existing: list[str], policy: str | None, finalizers: list[str]
) -> None:
    reg.create(_deploy() | {"metadata": {"name": "web", "finalizers": existing}})
    out = reg.delete("deployments.apps", "web", "default", propagation_policy=policy)
    assert out["metadata"]["finalizers"] == finalizers and out["metadata"]["deletionTimestamp"]


def test_bad_propagation_policy(reg: Registry) -> None:
    reg.create(_deploy())
    e = _err(reg.delete, "deployments.apps", "web", "default", propagation_policy="Sideways")
    assert e.code == 400


@pytest.mark.parametrize(
    ("pre", "message"),
    [
        pytest.param({"uid": "u-1"}, "Precondition failed: UID in precondition: u-1, UID in object meta: {uid}", id="uid"),
        pytest.param({"resourceVersion": "1"},
                     "Precondition failed: ResourceVersion in precondition: 1, ResourceVersion in object meta: {rv}",
                     id="resource-version"),
    ],
)  # fmt: skip
def test_delete_preconditions(reg: Registry, pre: Obj, message: str) -> None:
    cm = reg.create(_cm())
    m = cm["metadata"]
    e = _err(reg.delete, "configmaps", "cfg", "default", preconditions=pre)
    assert e.code == 409 and e.reason == "Conflict"
    assert e.message == 'Operation cannot be fulfilled on configmaps "cfg": ' + message.format(
        uid=m["uid"], rv=m["resourceVersion"]
    )
    reg.delete("configmaps", "cfg", "default", preconditions={"uid": m["uid"], "resourceVersion": m["resourceVersion"]})


def test_namespace_deletion_lifecycle(reg: Registry) -> None:
    ns = reg.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    assert ns["spec"]["finalizers"] == ["kubernetes"] and ns["status"] == {"phase": "Active"}
    ns = reg.delete("namespaces", "team")
    assert ns["status"]["phase"] == "Terminating" and ns["metadata"]["deletionTimestamp"]
    e = _err(reg.delete, "namespaces", "team")
    assert e.code == 409 and e.message.endswith(
        "Upon completion, this namespace will automatically be purged by the system."
    )
    ns["spec"]["finalizers"] = []
    ns = reg.update(ns)  # the main resource cannot drop spec.finalizers
    assert ns["spec"]["finalizers"] == ["kubernetes"]
    ns["status"] = {"phase": "Active"}
    assert reg.update(ns)["status"]["phase"] == "Terminating"
    ns["spec"]["finalizers"] = []
    reg.update(ns, subresource="finalize")
    assert reg.store.get("namespaces", "", "team") is None


def test_finalize_only_for_namespaces(reg: Registry) -> None:
    cm = reg.create(_cm())
    assert _err(reg.update, cm, subresource="finalize").code == 400


# -- bind ----------------------------------------------------------------------------------------------
def test_bind(reg: Registry, loop: EventLoop) -> None:
    loop.run(until=42)
    pod = reg.create(make_pod("p").container("c").obj())
    out = reg.bind("default", "p", "n1", uid=pod["metadata"]["uid"])
    assert out["spec"]["nodeName"] == "n1"
    assert out["status"]["conditions"] == [
        {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": loop.timestamp()}
    ]
    assert int(out["metadata"]["resourceVersion"]) > int(pod["metadata"]["resourceVersion"])
    assert pod["spec"].get("nodeName") is None  # the earlier copy is untouched
    e = _err(reg.bind, "default", "p", "n2")
    assert (e.code, e.reason) == (409, "Conflict")
    assert e.message == 'Operation cannot be fulfilled on pods/binding "p": pod p is already assigned to node "n1"'


def test_bind_replaces_unschedulable_condition(reg: Registry) -> None:
    pod = reg.create(make_pod("p").container("c").obj())
    pod["status"]["conditions"] = [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/3 nodes"},
    ]
    reg.update_status(pod)
    out = reg.bind("default", "p", "n1")
    assert [(c["type"], c["status"], c.get("reason")) for c in out["status"]["conditions"]] == [
        ("PodScheduled", "True", None)
    ]


@pytest.mark.parametrize(
    ("case", "message"),
    [
        pytest.param("uid", 'Operation cannot be fulfilled on pods "p": Precondition failed: UID in precondition: '
                     "wrong, UID in object meta: {uid}", id="uid-mismatch"),
        pytest.param("deleting", 'Operation cannot be fulfilled on pods/binding "p": pod p is being deleted, '
                     "cannot be assigned to a host", id="deleting"),
    ],
)  # fmt: skip
def test_bind_rejects(reg: Registry, case: str, message: str) -> None:
    pod = reg.create(make_pod("p").container("c").obj() | {"metadata": {"name": "p", "namespace": "default",
                                                                       "finalizers": ["x/y"]}})  # fmt: skip
    if case == "deleting":
        reg.delete("pods", "p", "default")
    e = _err(reg.bind, "default", "p", "n1", uid="wrong" if case == "uid" else None)
    assert e.code == 409 and e.message == message.format(uid=pod["metadata"]["uid"])


# -- list & watch ----------------------------------------------------------------------------------------
def _pods(reg: Registry, n: int, ns: str = "default") -> None:
    for i in range(n):
        p = make_pod(f"p{i:02d}", ns).container("c").labels({"app": "a" if i % 2 else "b", "i": str(i)}).obj()
        reg.create(p)
        if i % 3 == 0:
            reg.bind(ns, f"p{i:02d}", "n1")


@pytest.mark.parametrize(
    ("labels", "fields", "expected"),
    [
        pytest.param(None, None, 10, id="all"),
        pytest.param("app=a", None, 5, id="label-eq"),
        pytest.param("app in (a,b),i!=3", None, 9, id="label-set"),
        pytest.param(None, "spec.nodeName=n1", 4, id="field-bound"),
        pytest.param(None, "spec.nodeName=", 6, id="field-unbound"),
        pytest.param("app=b", "spec.nodeName=n1", 2, id="both"),
        pytest.param(None, "metadata.name=p03", 1, id="field-name"),
    ],
)
def test_list_selectors(reg: Registry, labels: str | None, fields: str | None, expected: int) -> None:
    _pods(reg, 10)
    lst = reg.list("pods", "default", label_selector=labels, field_selector=fields)
    assert len(lst["items"]) == expected
    assert lst["kind"] == "PodList" and lst["metadata"]["resourceVersion"] == str(reg.store.resource_version)


@pytest.mark.parametrize("limit", [pytest.param(1, id="1"), pytest.param(3, id="3"), pytest.param(10, id="10"),
                                   pytest.param(50, id="over")])  # fmt: skip
def test_list_pagination_walks_all_pages(reg: Registry, limit: int) -> None:
    _pods(reg, 10)
    _pods(reg, 3, "kube-system")
    names: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        lst = reg.list("pods", limit=limit, continue_token=token)
        pages += 1
        assert len(lst["items"]) <= limit
        names += [f"{o['metadata']['namespace']}/{o['metadata']['name']}" for o in lst["items"]]
        token = lst["metadata"].get("continue")
        if not token:
            break
    assert names == sorted(names) and len(names) == len(set(names)) == 13
    assert pages == -(-13 // limit)


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        pytest.param({"continue_token": "!!!"}, 400, id="bad-continue"),
        pytest.param({"label_selector": "a in (b"}, 400, id="bad-label-selector"),
        pytest.param({"field_selector": "spec.nodeName~x"}, 400, id="bad-field-selector"),
    ],
)
def test_list_bad_input(reg: Registry, kw: Obj, code: int) -> None:
    assert _err(reg.list, "pods", **kw).code == code


def test_watch_with_selector_turns_stop_matching_into_deleted(reg: Registry) -> None:
    events: list[WatchEvent] = []
    reg.watch("pods", events.append, resource_version=str(reg.store.resource_version), field_selector="spec.nodeName=n1")
    reg.create(make_pod("p").container("c").obj())
    bound = reg.bind("default", "p", "n1")  # starts matching -> ADDED
    bound["metadata"]["labels"] = {"x": "y"}
    reg.update(bound)  # still matching -> MODIFIED
    reg.delete("pods", "p", "default", grace_period_seconds=0)
    assert [e.type for e in events] == ["ADDED", "MODIFIED", "DELETED"]

    lab: list[WatchEvent] = []
    reg.create(make_pod("q").container("c").labels({"app": "web"}).obj())
    reg.watch("pods", lab.append, label_selector="app=web")
    q = reg.get("pods", "q", "default")
    q["metadata"]["labels"] = {"app": "db"}
    out = reg.update(q)
    assert [e.type for e in lab] == ["ADDED", "DELETED"]
    gone = lab[-1].object
    assert gone["metadata"]["labels"] == {"app": "web"}  # the last state that matched ...
    assert gone["metadata"]["resourceVersion"] == out["metadata"]["resourceVersion"]  # ... at the event's rv


# -- patch ---------------------------------------------------------------------------------------------
def test_merge_patch(reg: Registry) -> None:
    reg.create(_deploy() | {"metadata": {"name": "web", "labels": {"a": "1", "b": "2"}}})
    out = reg.patch("deployments.apps", "web", {"metadata": {"labels": {"a": None, "c": "3"}}, "spec": {"replicas": 4}},
                    "default")  # fmt: skip
    assert out["metadata"]["labels"] == {"b": "2", "c": "3"} and out["spec"]["replicas"] == 4
    assert out["metadata"]["generation"] == 2
    out = reg.patch("deployments.apps", "web", {"status": {"replicas": 4}}, "default", subresource="status")
    assert out["status"] == {"replicas": 4}


def test_merge_patch_with_stale_rv_conflicts(reg: Registry) -> None:
    d = reg.create(_deploy())
    reg.patch("deployments.apps", "web", {"spec": {"replicas": 2}}, "default")
    e = _err(reg.patch, "deployments.apps", "web",
             {"metadata": {"resourceVersion": d["metadata"]["resourceVersion"]}, "spec": {"replicas": 3}}, "default")  # fmt: skip
    assert e.code == 409


@pytest.mark.parametrize(
    ("ops", "check"),
    [
        pytest.param([{"op": "add", "path": "/metadata/labels/new", "value": "x"}],
                     lambda o: o["metadata"]["labels"]["new"] == "x", id="add"),
        pytest.param([{"op": "remove", "path": "/metadata/labels/a"}],
                     lambda o: "a" not in o["metadata"]["labels"], id="remove"),
        pytest.param([{"op": "replace", "path": "/spec/replicas", "value": 9}],
                     lambda o: o["spec"]["replicas"] == 9, id="replace"),
        pytest.param([{"op": "move", "from": "/metadata/labels/a", "path": "/metadata/labels/z"}],
                     lambda o: o["metadata"]["labels"] == {"z": "1"}, id="move"),
        pytest.param([{"op": "copy", "from": "/metadata/labels/a", "path": "/metadata/labels/z"}],
                     lambda o: o["metadata"]["labels"] == {"a": "1", "z": "1"}, id="copy"),
        pytest.param([{"op": "test", "path": "/spec/replicas", "value": 1},
                      {"op": "replace", "path": "/spec/replicas", "value": 2}],
                     lambda o: o["spec"]["replicas"] == 2, id="test-then-replace"),
        pytest.param([{"op": "add", "path": "/spec/template/spec/containers/-", "value": {"name": "d", "image": "i"}}],
                     lambda o: [c["name"] for c in o["spec"]["template"]["spec"]["containers"]] == ["c", "d"],
                     id="append-to-list"),
        pytest.param([{"op": "add", "path": "/spec/template/spec/containers/0", "value": {"name": "z", "image": "i"}}],
                     lambda o: [c["name"] for c in o["spec"]["template"]["spec"]["containers"]] == ["z", "c"],
                     id="insert-into-list"),
        pytest.param([{"op": "add", "path": "/metadata/annotations", "value": {"example.com/x": "1"}},
                      {"op": "replace", "path": "/metadata/annotations/example.com~1x", "value": "y"}],
                     lambda o: o["metadata"]["annotations"] == {"example.com/x": "y"}, id="pointer-escape-slash"),
    ],
)  # fmt: skip
def test_json_patch(reg: Registry, ops: list[Obj], check: Any) -> None:
    reg.create(_deploy() | {"metadata": {"name": "web", "labels": {"a": "1"}}})
    out = reg.patch("deployments.apps", "web", ops, "default", patch_type="json")
    assert check(out)


@pytest.mark.parametrize(
    ("ops", "code"),
    [
        pytest.param([{"op": "test", "path": "/spec/replicas", "value": 5}], 422, id="test-fails"),
        pytest.param([{"op": "test", "path": "/spec/paused", "value": 1}], 422, id="missing-path-test"),
        pytest.param([{"op": "remove", "path": "/metadata/labels/nope"}], 422, id="remove-missing"),
        pytest.param([{"op": "replace", "path": "/spec/nope", "value": 1}], 422, id="replace-missing"),
        pytest.param([{"op": "add", "path": "/spec/a/b", "value": 1}], 422, id="add-missing-parent"),
        pytest.param([{"op": "remove", "path": "/spec/template/spec/containers/-1"}], 422, id="negative-index"),
        pytest.param([{"op": "remove", "path": "/spec/template/spec/containers/01"}], 422, id="leading-zero-index"),
        pytest.param([{"op": "add", "path": "/spec/template/spec/containers/5", "value": {}}], 422, id="index-past-end"),
        pytest.param([{"op": "move", "from": "/spec", "path": "/spec/x"}], 422, id="move-into-child"),
        pytest.param([{"op": "move", "path": "/spec/x"}], 400, id="move-without-from"),
        pytest.param([{"op": "add", "path": "/spec/x"}], 400, id="add-without-value"),
        pytest.param([{"op": "add", "path": 7, "value": 1}], 400, id="non-string-path"),
        pytest.param([{"op": "add", "path": "spec", "value": 1}], 400, id="pointer-without-slash"),
        pytest.param([{"op": "frobnicate", "path": "/spec"}], 400, id="unknown-op"),
        pytest.param([{"path": "/spec"}], 400, id="no-op"),
        pytest.param({"op": "add"}, 400, id="not-a-list"),
        pytest.param([{"op": "remove", "path": ""}], 400, id="remove-root"),
        pytest.param([{"op": "replace", "path": "/metadata/name", "value": "other"}], 400, id="rename"),
        pytest.param([{"op": "test", "path": "/spec/replicas", "value": True}], 422, id="true-is-not-1"),
    ],
)  # fmt: skip
def test_json_patch_errors(reg: Registry, ops: Any, code: int) -> None:
    d = reg.create(_deploy())
    e = _err(reg.patch, "deployments.apps", "web", ops, "default", patch_type="json")
    assert e.code == code, e.message
    assert reg.get("deployments.apps", "web", "default") == d  # nothing applied


@pytest.mark.parametrize(
    ("patch", "ptype", "code"),
    [
        pytest.param([1], "merge", 400, id="merge-not-object"),
        pytest.param({}, "yaml", 415, id="unknown-type"),
        pytest.param({"metadata": "x"}, "merge", 400, id="metadata-not-object"),
    ],
)
def test_patch_errors(reg: Registry, patch: Any, ptype: str, code: int) -> None:
    reg.create(_deploy())
    assert _err(reg.patch, "deployments.apps", "web", patch, "default", patch_type=ptype).code == code


def test_dry_run_writes_nothing(reg: Registry) -> None:
    rv = reg.store.resource_version
    out = reg.create(_cm(), dry_run=True)
    assert out["metadata"]["name"] == "cfg"
    assert reg.store.resource_version == rv and reg.store.get("configmaps", "default", "cfg") is None


def test_returned_objects_are_copies(reg: Registry) -> None:
    out = reg.create(_cm())
    out["data"]["k"] = "mutated"
    got = reg.get("configmaps", "cfg", "default")
    assert got["data"]["k"] == "v"
    got["data"]["k"] = "mutated"
    assert reg.list("configmaps", "default")["items"][0]["data"]["k"] == "v"


def test_json_patch_tilde_escape_and_no_mutation() -> None:
    from kubetwin.store.patch import json_patch, merge_patch

    doc = {"a~/b": {"c": [1, 2]}}
    out = json_patch(doc, [{"op": "add", "path": "/a~0~1b/c/1", "value": 9}])
    assert out == {"a~/b": {"c": [1, 9, 2]}} and doc == {"a~/b": {"c": [1, 2]}}
    merged = merge_patch(doc, {"a~/b": {"d": 1}, "x": None})
    assert merged == {"a~/b": {"c": [1, 2], "d": 1}} and doc == {"a~/b": {"c": [1, 2]}}


def test_node_status_update_is_validated(reg: Registry) -> None:
    n = reg.create(make_node("n1").capacity(cpu="2").obj())
    n["status"]["capacity"]["cpu"] = "lots"
    assert _err(reg.update_status, n).code == 422


@pytest.mark.parametrize(
    "value",
    [
        pytest.param({"a": [1, {"b": None}], "f": 1.5, "t": True}, id="json"),
        pytest.param({1: "int-key"}, id="non-string-key-falls-back"),
        pytest.param([2**70], id="big-int-falls-back"),
        pytest.param({"o": object()}, id="opaque-object-shared"),
    ],
)
def test_deep_copy(value: Any) -> None:
    from kubetwin.store.copy import deep_copy

    out = deep_copy(value)
    assert out == value and out is not value
    if isinstance(value, dict) and "a" in value:
        assert out["a"] is not value["a"] and out["a"][1] is not value["a"][1]


def test_admission_runs_the_plugins_declared_for_the_write(reg: Registry) -> None:
    """``handles`` narrows a plugin to kinds and operations; undeclared plugins see every write; a
    plugin added to the chain later is called from the next write on."""
    from kubetwin.store.admission import handles

    seen: list[tuple[str, str, str]] = []

    @handles("ConfigMap", ops=("UPDATE",))
    def cm_updates(r: Registry, obj: Obj, old: Obj | None, op: str) -> None:
        seen.append(("cm_updates", obj["kind"], op))

    def everything(r: Registry, obj: Obj, old: Obj | None, op: str) -> None:
        seen.append(("everything", obj["kind"], op))

    reg.admission.append(cm_updates)
    cm = reg.create(_cm())
    reg.create(make_pod("p").container("c").obj())
    cm["data"] = {"k": "v"}
    reg.update(cm)
    assert seen == [("cm_updates", "ConfigMap", "UPDATE")]
    reg.admission.append(everything)
    cm = reg.get("configmaps", "cfg", "default")
    cm["data"] = {"k": "w"}
    reg.update(cm)
    reg.create(make_pod("q").container("c").obj())
    assert seen[1:] == [("cm_updates", "ConfigMap", "UPDATE"), ("everything", "ConfigMap", "UPDATE"),
                        ("everything", "Pod", "CREATE")]  # fmt: skip
    reg.admission.remove(cm_updates)
    cm = reg.get("configmaps", "cfg", "default")
    cm["data"] = {"k": "x"}
    reg.update(cm)
    assert seen[4:] == [("everything", "ConfigMap", "UPDATE")]


def test_events_do_not_move_the_stream_that_names_other_objects() -> None:
    """Events take their uids from a stream of their own: recording more or fewer events leaves
    the generated names and uids of everything else as they were."""

    def named(with_events: bool) -> list[tuple[str, str]]:
        r = Registry(Store(), EventLoop(), SeededRNG(5))
        r.bootstrap()
        out = []
        for i in range(3):
            if with_events:
                r.create({"apiVersion": "v1", "kind": "Event", "metadata": {"name": f"e{i}", "namespace": "default"},
                          "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
                          "reason": "R", "message": "m", "type": "Normal"})  # fmt: skip
            obj = r.create(_cm() | {"metadata": {"generateName": "cfg-", "namespace": "default"}})
            out.append((obj["metadata"]["name"], obj["metadata"]["uid"]))
        return out

    assert named(True) == named(False)
