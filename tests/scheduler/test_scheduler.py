"""End-to-end through the client: bindings, events, conditions, filters and preemption."""

from __future__ import annotations

import pytest

from builders import make_node, make_pod
from kubetwin.client.events import event_count
from kubetwin.scenario.recorder import Recorder

from .conftest import SchedStack

GPU_TAINT = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}


def small(name: str) -> dict:
    return make_node(name).capacity(cpu="2", memory="4Gi").obj()


def test_binds_and_records_scheduled_event(stack: SchedStack) -> None:
    stack.create(small("n1"), make_pod("p").container("c", requests={"cpu": "1"}).obj())
    stack.settle()
    assert stack.node_of("p") == "n1"
    ev = stack.events("Scheduled", "p")
    assert [e["message"] for e in ev] == ["Successfully assigned default/p to n1"]
    # events.k8s.io/v1 as the API server stores it: reportingComponent and action, no source
    assert ev[0]["reportingComponent"] == "default-scheduler" and ev[0]["action"] == "Binding"
    assert ev[0]["source"] == {} and ev[0]["eventTime"] and ev[0]["lastTimestamp"] is None
    assert stack.condition("p")["status"] == "True"  # type: ignore[index]


@pytest.mark.parametrize("low_priority_pod", [pytest.param(False, id="nothing-to-preempt-anywhere"),
                                              pytest.param(True, id="node-by-node-dry-run")])  # fmt: skip
def test_failed_scheduling_message_shape(stack: SchedStack, low_priority_pod: bool) -> None:
    stack.create(small("n1"), small("n2"), make_node("n3").capacity(cpu="8").taints([GPU_TAINT]).obj())
    big = make_pod("big").container("c", requests={"cpu": "3"})
    if low_priority_pod:  # a lower-priority pod on the tainted node: PostFilter dry-runs each node
        _prio(stack, "high", 1000)
        stack.create(make_pod("low").container("c", requests={"cpu": "100m"}).node("n3").obj())
        big = big.set("spec.priorityClassName", "high")
    stack.create(big.obj())
    stack.settle()
    msg = ("0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu. "
           "preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
           "2 No preemption victims found for incoming pod.")  # fmt: skip
    ev = stack.events("FailedScheduling", "big")
    assert ev[0]["type"] == "Warning" and ev[0]["message"] == msg
    cond = stack.condition("big")
    assert cond is not None and cond["status"] == "False" and cond["reason"] == "Unschedulable"
    assert cond["message"] == msg


def test_never_over_commits_within_one_instant(stack: SchedStack) -> None:
    stack.create(small("n1"), small("n2"))
    for i in range(5):
        stack.create(make_pod(f"p{i}").container("c", requests={"cpu": "1"}).obj())
    stack.settle()
    placed = [stack.node_of(f"p{i}") for i in range(5)]
    assert sorted(p for p in placed if p) == ["n1", "n1", "n2", "n2"]


def test_unschedulable_pod_retried_when_node_added(stack: SchedStack) -> None:
    stack.create(small("n1"), make_pod("p").container("c", requests={"cpu": "3"}).obj())
    stack.settle()
    assert stack.node_of("p") is None
    stack.create(make_node("big").capacity(cpu="8").obj())
    stack.settle(2)
    assert stack.node_of("p") == "big"


@pytest.mark.parametrize(
    "node, pod, placed",
    [
        pytest.param(make_node("n").capacity().taints([GPU_TAINT]).obj(), make_pod("p").container("c").obj(),
                     False, id="untolerated-taint"),
        pytest.param(make_node("n").capacity().taints([GPU_TAINT]).obj(),
                     make_pod("p").container("c").tolerations([{"key": "dedicated", "operator": "Equal",
                                                                "value": "gpu", "effect": "NoSchedule"}]).obj(),
                     True, id="tolerated"),
        pytest.param(make_node("n").capacity().taints([{**GPU_TAINT, "effect": "PreferNoSchedule"}]).obj(),
                     make_pod("p").container("c").obj(), True, id="prefer-no-schedule"),
        pytest.param(make_node("n").capacity().unschedulable().obj(), make_pod("p").container("c").obj(),
                     False, id="cordoned"),
        pytest.param(make_node("n").capacity().unschedulable().obj(),
                     make_pod("p").container("c").tolerations([{"key": "node.kubernetes.io/unschedulable",
                                                                "operator": "Exists"}]).obj(),
                     True, id="cordoned-tolerated"),
        pytest.param(make_node("n").capacity().labels({"disk": "ssd"}).obj(),
                     make_pod("p").container("c").node_selector({"disk": "ssd"}).obj(), True, id="selector"),
        pytest.param(make_node("n").capacity().labels({"disk": "hdd"}).obj(),
                     make_pod("p").container("c").node_selector({"disk": "ssd"}).obj(), False, id="selector-miss"),
        pytest.param(make_node("n").capacity().labels({"gen": "5"}).obj(),
                     make_pod("p").container("c").set("spec.affinity", {"nodeAffinity": {
                         "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                             {"matchExpressions": [{"key": "gen", "operator": "Gt", "values": ["4"]}]}]}}}).obj(),
                     True, id="affinity-gt"),
        pytest.param(make_node("n").capacity().labels({"gen": "3"}).obj(),
                     make_pod("p").container("c").set("spec.affinity", {"nodeAffinity": {
                         "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                             {"matchExpressions": [{"key": "gen", "operator": "Gt", "values": ["4"]}]}]}}}).obj(),
                     False, id="affinity-gt-miss"),
        pytest.param(make_node("n").capacity().obj(),
                     make_pod("p").container("c").set("spec.affinity", {"nodeAffinity": {
                         "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                             {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n"]}]}]}}}).obj(),
                     True, id="match-fields"),
    ],
)  # fmt: skip
def test_filter_table(stack: SchedStack, node: dict, pod: dict, placed: bool) -> None:
    stack.create(node, pod)
    stack.settle()
    assert (stack.node_of("p") == "n") is placed


def test_preferred_node_affinity_wins(stack: SchedStack) -> None:
    stack.create(make_node("a").capacity().obj(), make_node("b").capacity().labels({"zone": "z1"}).obj())
    stack.create(make_pod("p").container("c").set("spec.affinity", {"nodeAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 10, "preference": {"matchExpressions": [{"key": "zone", "operator": "In",
                                                                "values": ["z1"]}]}}]}}).obj())  # fmt: skip
    stack.settle()
    assert stack.node_of("p") == "b"


def _zone_nodes(stack: SchedStack) -> None:
    for i, z in enumerate(["a", "a", "b"]):
        stack.create(make_node(f"n{i}").capacity().labels({"topology.kubernetes.io/zone": z}).obj())


def test_topology_spread_do_not_schedule(stack: SchedStack) -> None:
    _zone_nodes(stack)
    spread = [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
               "labelSelector": {"matchLabels": {"app": "w"}}}]  # fmt: skip
    for i in range(4):
        stack.create(make_pod(f"w{i}").container("c").labels({"app": "w"})
                     .set("spec.topologySpreadConstraints", spread).obj())  # fmt: skip
        stack.settle()
    zones = {"n0": "a", "n1": "a", "n2": "b"}
    got = sorted(zones[stack.node_of(f"w{i}")] for i in range(4))  # type: ignore[index]
    assert got == ["a", "a", "b", "b"]


def test_topology_spread_missing_label_message(stack: SchedStack) -> None:
    stack.create(make_node("n0").capacity().obj())
    spread = [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
               "labelSelector": {"matchLabels": {"app": "w"}}}]  # fmt: skip
    stack.create(make_pod("w").container("c").labels({"app": "w"}).set("spec.topologySpreadConstraints", spread).obj())
    stack.settle()
    assert stack.condition("w")["message"].startswith(  # type: ignore[index]
        "0/1 nodes are available: 1 node(s) didn't match pod topology spread constraints (missing required label).")


def test_required_anti_affinity_one_per_node(stack: SchedStack) -> None:
    stack.create(small("n1"), small("n2"))
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app": "db"}}}]}}  # fmt: skip
    for i in range(3):
        stack.create(make_pod(f"db{i}").container("c").labels({"app": "db"}).set("spec.affinity", anti).obj())
    stack.settle()
    placed = [stack.node_of(f"db{i}") for i in range(3)]
    assert sorted(p for p in placed if p) == ["n1", "n2"]
    unplaced = next(f"db{i}" for i in range(3) if placed[i] is None)
    assert "node(s) didn't match pod anti-affinity rules" in stack.condition(unplaced)["message"]  # type: ignore[index]


def test_existing_pods_anti_affinity(stack: SchedStack) -> None:
    stack.create(small("n1"), small("n2"))
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app": "web"}}}]}}  # fmt: skip
    stack.create(make_pod("loner").container("c").node("n1").set("spec.affinity", anti).obj())
    stack.create(make_pod("web").container("c").labels({"app": "web"}).obj())
    stack.settle()
    assert stack.node_of("web") == "n2"


def test_required_pod_affinity_follows(stack: SchedStack) -> None:
    stack.create(small("n1"), small("n2"), small("n3"))
    stack.create(make_pod("cache").container("c").labels({"app": "cache"}).node("n2").obj())
    aff = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app": "cache"}}}]}}  # fmt: skip
    stack.create(make_pod("app").container("c").set("spec.affinity", aff).obj())
    stack.settle()
    assert stack.node_of("app") == "n2"


# -- preemption ---------------------------------------------------------------------------
def _prio(stack: SchedStack, name: str, value: int, policy: str = "PreemptLowerPriority") -> None:
    stack.create({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
                  "value": value, "preemptionPolicy": policy})  # fmt: skip


def test_preemption_evicts_lower_priority_victim(stack: SchedStack) -> None:
    _prio(stack, "high", 1000)
    stack.create(small("n1"))
    stack.create(make_pod("low").container("c", requests={"cpu": "1500m"}).node("n1").obj())
    stack.create(make_pod("vip").container("c", requests={"cpu": "1"}).set("spec.priorityClassName", "high").obj())
    stack.settle()
    vip = stack.pod("vip")
    assert vip["status"].get("nominatedNodeName") == "n1"
    low = stack.pod("low")
    assert low["metadata"].get("deletionTimestamp")
    assert any(c["type"] == "DisruptionTarget" for c in low["status"]["conditions"])
    ev = stack.events("Preempted", "low")
    assert ev[0]["message"] == f"Preempted by pod {vip['metadata']['uid']} on node n1"
    stack.kill("low")  # the kubelet finishes the graceful deletion
    stack.settle(2)
    assert stack.node_of("vip") == "n1"


def test_preemption_sees_a_node_whose_pods_changed(stack: SchedStack) -> None:
    # n1 first holds only a high-priority pod (no victims for another one); then that pod goes and a
    # low-priority one takes its place: the next high-priority pod finds its victim there
    _prio(stack, "high", 1000)
    stack.create(small("n1"))
    stack.create(make_pod("big").container("c", requests={"cpu": "1500m"}).set("spec.priorityClassName", "high")
                 .node("n1").obj())  # fmt: skip
    stack.create(make_pod("vip1").container("c", requests={"cpu": "1"}).set("spec.priorityClassName", "high").obj())
    stack.settle()
    assert "No preemption victims found" in stack.condition("vip1")["message"]  # type: ignore[index]
    stack.client.delete("pods", "vip1", "default", grace_period_seconds=0)
    stack.kill("big")
    stack.create(make_pod("low").container("c", requests={"cpu": "1500m"}).node("n1").obj())
    stack.create(make_pod("vip2").container("c", requests={"cpu": "1"}).set("spec.priorityClassName", "high").obj())
    stack.settle()
    assert stack.pod("vip2")["status"].get("nominatedNodeName") == "n1"
    assert stack.pod("low")["metadata"].get("deletionTimestamp")


def test_preemption_picks_fewest_pdb_violations(stack: SchedStack) -> None:
    _prio(stack, "high", 1000)
    stack.create(small("n1"), small("n2"))
    stack.create(make_pod("guarded").container("c", requests={"cpu": "1500m"}).labels({"app": "g"}).node("n1").obj())
    stack.create(make_pod("free").container("c", requests={"cpu": "1500m"}).node("n2").obj())
    stack.create({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "g", "namespace": "default"},
                  "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "g"}}}})  # fmt: skip
    stack.create(make_pod("vip").container("c", requests={"cpu": "1"}).set("spec.priorityClassName", "high").obj())
    stack.settle()
    assert stack.pod("vip")["status"].get("nominatedNodeName") == "n2"
    assert stack.pod("free")["metadata"].get("deletionTimestamp")
    assert not stack.pod("guarded")["metadata"].get("deletionTimestamp")


def test_preemption_minimal_victims_by_priority(stack: SchedStack) -> None:
    _prio(stack, "high", 1000)
    _prio(stack, "mid", 500)
    stack.create(make_node("n1").capacity(cpu="3").obj())
    stack.create(make_pod("lowest").container("c", requests={"cpu": "1"}).node("n1").obj())
    stack.create(make_pod("middle").container("c", requests={"cpu": "1"}).set("spec.priorityClassName", "mid")
                 .node("n1").obj())  # fmt: skip
    stack.create(make_pod("other").container("c", requests={"cpu": "1"}).node("n1").obj())
    stack.create(make_pod("vip").container("c", requests={"cpu": "1"}).set("spec.priorityClassName", "high").obj())
    stack.settle()
    deleted = sorted(n for n in ("lowest", "middle", "other") if stack.pod(n)["metadata"].get("deletionTimestamp"))
    assert len(deleted) == 1 and deleted[0] in ("lowest", "other")


def test_preemption_policy_never(stack: SchedStack) -> None:
    _prio(stack, "polite", 1000, "Never")
    stack.create(small("n1"))
    stack.create(make_pod("low").container("c", requests={"cpu": "1500m"}).node("n1").obj())
    stack.create(make_pod("vip").container("c", requests={"cpu": "1"}).set("spec.priorityClassName", "polite").obj())
    stack.settle()
    assert not stack.pod("low")["metadata"].get("deletionTimestamp")
    assert stack.condition("vip")["message"] == (  # type: ignore[index]
        "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.")


def test_priority_order_in_queue(stack: SchedStack) -> None:
    _prio(stack, "high", 1000)
    stack.create(make_pod("low").container("c", requests={"cpu": "1500m"}).obj())
    stack.create(make_pod("vip").container("c", requests={"cpu": "1500m"}).set("spec.priorityClassName", "high").obj())
    stack.create(small("n1"))
    stack.settle()
    assert stack.node_of("vip") == "n1" and stack.node_of("low") is None


def test_scheduling_gates_hold_pod(stack: SchedStack) -> None:
    stack.create(small("n1"), make_pod("g").container("c").set("spec.schedulingGates", [{"name": "wait"}]).obj())
    stack.settle()
    assert stack.node_of("g") is None


def test_deterministic_tie_breaking() -> None:
    def run() -> list[str | None]:
        s = SchedStack(seed=7)
        for i in range(10):
            s.create(make_node(f"n{i}").capacity().obj())
        for i in range(20):
            s.create(make_pod(f"p{i}").container("c", requests={"cpu": "100m"}).obj())
        s.settle()
        return [s.node_of(f"p{i}") for i in range(20)]

    assert run() == run()


# -- a pod like the last one that found no node goes straight to the diagnosing path ---------------
def test_fast_path_skipped_only_while_nothing_changed(stack: SchedStack, monkeypatch: pytest.MonkeyPatch) -> None:
    sched = stack.scheduler
    tried: list[str] = []
    fast = sched._find_feasible_fast

    def spy(state: object, pi: object) -> object:
        tried.append(pi.name)  # type: ignore[attr-defined]
        return fast(state, pi)  # type: ignore[arg-type]

    monkeypatch.setattr(sched, "_find_feasible_fast", spy)
    stack.create(small("n1"), make_pod("hog").container("c", requests={"cpu": "1500m"}).node("n1").obj())
    for name in ("a", "b"):
        stack.create(make_pod(name).container("c", requests={"cpu": "1"}).obj())
    stack.settle()
    assert (stack.node_of("a"), stack.node_of("b")) == (None, None)
    assert tried == ["a"]  # b is like a and nothing changed in between
    stack.create(make_pod("other").container("c", requests={"cpu": "100m"}).obj())
    stack.settle()
    assert stack.node_of("other") == "n1" and tried == ["a", "other"]  # another spec: tried
    tried.clear()
    stack.kill("hog")  # the node's numbers changed: the fast path again, and a fits
    stack.settle(2)
    assert tried == ["a", "b"]  # b: a's bind changed the node since b's kind last failed
    assert (stack.node_of("a"), stack.node_of("b")) == ("n1", None)


@pytest.mark.parametrize("skip_fast", [False, True])
def test_both_feasible_paths_place_alike(skip_fast: bool) -> None:
    """The diagnosing path finds the same nodes in the same round-robin order as the fast one."""
    placements = []
    for force in (False, skip_fast):
        s = SchedStack()
        if force:
            s.scheduler._find_feasible_fast = lambda state, pi: None  # type: ignore[method-assign]
        s.create(*(make_node(f"n{i}").capacity(cpu=str(1 + i % 3)).obj() for i in range(7)))
        for i in range(12):
            s.create(make_pod(f"p{i}").container("c", requests={"cpu": "700m" if i % 2 else "300m"}).obj())
        s.settle()
        placements.append([s.node_of(f"p{i}") for i in range(12)] + [s.scheduler.next_start_node_index])
    assert placements[0] == placements[1]


def test_pod_info_update_keeps_derived_values_only_for_the_same_spec_and_labels() -> None:
    from kubetwin.scheduler.framework import PodInfo

    pod = make_pod("p").container("c", requests={"cpu": "1"}).obj()
    pod["metadata"].update(uid="u1", resourceVersion="1")
    pi = PodInfo(pod)
    pi.memo["probe"] = True
    status_only = {**pod, "metadata": {**pod["metadata"], "resourceVersion": "2"}, "status": {"phase": "Pending"}}
    pi.update(status_only)
    assert pi.pod is status_only and pi.memo == {"probe": True} and pi.requests["cpu"] == 1000
    resized = {**status_only, "metadata": {**status_only["metadata"], "resourceVersion": "3"},
               "spec": make_pod("p").container("c", requests={"cpu": "2"}).obj()["spec"]}  # fmt: skip
    pi.update(resized)
    assert pi.pod is resized and pi.memo == {} and pi.requests["cpu"] == 2000
    relabelled = {**resized, "metadata": {**resized["metadata"], "labels": {"x": "y"}}}
    pi.memo["probe"] = True
    pi.update(relabelled)
    assert pi.labels == {"x": "y"} and pi.memo == {}


def _waiting_pods_story() -> list:
    """Alike pods waiting for room while pods go, nodes come and change; what the scheduler wrote.
    Each change comes right after a failure whose diagnosis it makes stale."""
    s = SchedStack()
    s.create(small("n1"), make_node("g").capacity(cpu="8").taints([GPU_TAINT]).obj())
    s.create(make_pod("hog").container("c", requests={"cpu": "1500m"}).node("n1").obj())
    s.create(*(make_pod(f"x{i}").container("c", requests={"cpu": "1"}).obj() for i in range(2)))
    s.settle(1)
    s.kill("hog")  # the snapshot's dirty log only
    s.settle(3)
    ssd = [make_pod(f"s{i}").container("c", requests={"cpu": "1"}).node_selector({"disk": "ssd"}).obj() for i in range(2)]
    s.create(*ssd)
    s.settle(1)
    s.create(make_node("n2").capacity(cpu="3").obj())
    s.settle(3)
    s.client.patch("nodes", "n2", {"metadata": {"labels": {"disk": "ssd"}}})  # the node generation only
    s.settle(3)
    # a spec that fits right after one that does not, nothing changed in between
    s.create(make_pod("y").container("c", requests={"cpu": "1500m"}).obj(),
             make_pod("z").container("c", requests={"cpu": "500m"}).obj())  # fmt: skip
    s.settle(3)
    pods = sorted(s.client.list("pods", "default"), key=lambda p: p["metadata"]["name"])
    return [(p["metadata"]["name"], p["spec"].get("nodeName"), s.condition(p["metadata"]["name"])) for p in pods] + [
        sorted((e["involvedObject"]["name"], e["reason"], e["message"], e.get("count")) for e in s.events())
    ]


def test_reused_diagnosis_writes_what_a_fresh_one_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    from kubetwin.scheduler import scheduler as schedmod

    with_memo = _waiting_pods_story()
    monkeypatch.setattr(schedmod._FitMemo, "alike", lambda self, snap, state, pi: False)
    assert with_memo == _waiting_pods_story()


def test_alike_failure_skips_the_pre_filter_until_the_snapshot_changes(stack: SchedStack) -> None:
    """A pod like the last unschedulable one, on the unchanged snapshot, takes that cycle's PreFilter
    output without running it (the PostFilter's dry runs still read it); any change in between
    (here a pod arriving on a node) runs it again."""
    _prio(stack, "high", 1000)
    stack.create(small("n1"), small("n2"), make_node("n3").capacity(cpu="8").taints([GPU_TAINT]).obj())
    stack.create(make_pod("low").container("c", requests={"cpu": "100m"}).node("n3").obj())
    stack.settle()
    fw = stack.scheduler.framework
    ran: list[str] = []
    run_pre_filter = fw.run_pre_filter

    def counted(state, pi):  # type: ignore[no-untyped-def]
        ran.append(pi.name)
        return run_pre_filter(state, pi)

    fw.run_pre_filter = counted  # type: ignore[method-assign]
    big = make_pod("big0").container("c", requests={"cpu": "3"}).set("spec.priorityClassName", "high")
    stack.create(*(big.set("metadata.name", f"big{i}").obj() for i in range(3)))
    stack.settle()
    assert ran == ["big0"]
    msgs = {e["message"] for i in range(3) for e in stack.events("FailedScheduling", f"big{i}")}
    assert len(msgs) == 1 and "No preemption victims found for incoming pod" in msgs.pop()
    stack.create(make_pod("low2").container("c", requests={"cpu": "100m"}).node("n1").obj())
    stack.settle()
    stack.create(big.set("metadata.name", "big3").obj(), big.set("metadata.name", "big4").obj())
    stack.settle()
    assert ran == ["big0", "big3"]


def test_pod_changed_while_waiting_is_not_taken_for_its_old_kind() -> None:
    """Alike pods share a class (PodClasses); a pending pod whose spec changes leaves its class, so
    the last failure of its old kind is not its own."""
    s = SchedStack()
    s.create(make_node("g").capacity(cpu="8").taints([GPU_TAINT]).obj())
    s.create(*(make_pod(name).container("c", requests={"cpu": "1"}).obj() for name in ("a", "b")))
    s.settle()
    assert (s.node_of("a"), s.node_of("b")) == (None, None)
    b = s.pod("b")
    b["spec"].setdefault("tolerations", []).append(
        {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"})
    s.client.update(b)
    s.settle(2)
    assert (s.node_of("a"), s.node_of("b")) == (None, "g")


def _versions() -> dict:
    base = make_pod("p").container("c", requests={"cpu": "1", "memory": "1Gi"}).obj()
    spec = base["spec"]
    c0 = spec["containers"][0]
    bigger = {**c0, "resources": {"requests": {"cpu": "2", "memory": "1Gi"}}}
    with_port = {**c0, "ports": [{"containerPort": 80, "hostPort": 8080}]}
    return {
        "bound-version-shares-the-parts": (base, {**base, "spec": {**spec, "nodeName": "n1"}}),
        "resized-containers": (base, {**base, "spec": {**spec, "containers": [bigger]}}),
        "host-port-added": (base, {**base, "spec": {**spec, "containers": [with_port]}}),
        "overhead-added": (base, {**base, "spec": {**spec, "overhead": {"cpu": "250m"}}}),
        "init-container-added": (base, {**base, "spec": {**spec, "initContainers": [bigger]}}),
        "pod-level-resources": (base, {**base, "spec": {**spec, "resources": {"requests": {"cpu": "3"}}}}),
    }


@pytest.mark.parametrize("case", list(_versions()))
def test_pod_info_resource_figures_follow_the_spec(case: str) -> None:
    """PodInfos of pods sharing spec parts share their resource figures (_resource_figures);
    any part replaced gives the figures of a fresh computation."""
    from kubetwin.api import resources
    from kubetwin.scheduler.framework import PodInfo

    first, second = _versions()[case]
    PodInfo(first)
    pi = PodInfo(second)
    want = (resources.pod_requests(second), resources.pod_nonzero_requests(second),
            resources.qos_class(second) == resources.BEST_EFFORT)  # fmt: skip
    assert (pi.requests, pi.nonzero, pi.best_effort) == want
    assert pi.ports == [(p.get("hostIP") or "0.0.0.0", p.get("protocol") or "TCP", p["hostPort"])
                        for c in second["spec"]["containers"] for p in c.get("ports") or [] if p.get("hostPort")]  # fmt: skip


def test_failed_scheduling_repeats_become_an_event_series(stack: SchedStack) -> None:
    """kube-scheduler records through events.k8s.io: the first failure is an event about the pod as
    it was; the status update gives the pod a new resourceVersion, so the next failure starts a
    second event, whose repeats (every 5 min, podMaxInUnschedulablePodsDuration) are its series,
    written at the second occurrence and by the 30-minute refresh, not at every attempt."""
    seen = Recorder(stack.registry.store, stack.loop)
    stack.create(small("n1"), make_pod("big").container("c", requests={"cpu": "3"}).obj())
    stack.settle(35 * 60)
    evs = sorted(stack.events("FailedScheduling", "big"), key=lambda e: e["eventTime"])
    assert [e.get("series", {}).get("count") for e in evs] == [None, 6]  # refreshed at 30 min
    assert evs[0]["involvedObject"]["resourceVersion"] != evs[1]["involvedObject"]["resourceVersion"]
    assert all("count" not in e for e in evs)
    stack.settle(15 * 60)  # no more attempts after the pod is deleted: the series finishes
    stack.kill("big")
    stack.settle(15 * 60)
    attempts = stack.scheduler.failed_attempts
    assert sum(event_count(e) for e in stack.events("FailedScheduling", "big")) == attempts
    assert seen.event_reasons["FailedScheduling"] == attempts


# -- node-only filters' verdicts kept per pod class until the nodes change --------------------------
def test_node_only_verdicts_kept_per_class_until_nodes_change(stack: SchedStack,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from kubetwin.scheduler.plugins.tainttoleration import TaintToleration

    calls: list[str] = []
    orig = TaintToleration.filter_all

    def spy(self: TaintToleration, state: object, pod: object, snap: object) -> object:
        calls.append(pod.name)  # type: ignore[attr-defined]
        return orig(self, state, pod, snap)  # type: ignore[arg-type]

    monkeypatch.setattr(TaintToleration, "filter_all", spy)
    stack.create(small("n1"), make_node("g").capacity(cpu="8").taints([GPU_TAINT]).obj())
    for name in ("a", "b"):  # one class: b's cycle reuses a's verdicts
        stack.create(make_pod(name).container("c", requests={"cpu": "100m"}).obj())
        stack.settle()
    assert calls == ["a"] and {stack.node_of("a"), stack.node_of("b")} <= {"n1"}
    # the taint goes: the node changed, the verdicts are taken again and the node is usable
    g = stack.client.get("nodes", "g")
    g["spec"]["taints"] = []
    stack.client.update(g)
    stack.create(make_pod("c").container("c", requests={"cpu": "100m"}).obj())
    stack.create(make_pod("d").container("c", requests={"cpu": "3"}).obj())  # fits only g
    stack.settle()
    assert calls == ["a", "c", "d"]  # c: a's class on changed nodes; d: another class
    assert stack.node_of("d") == "g"


def test_pods_of_one_template_share_resource_figures() -> None:
    """Equal copies of a template's containers (distinct objects) are parsed once."""
    import copy

    from kubetwin.scheduler.framework import PodInfo

    pod = make_pod("a").container("c", requests={"cpu": "250m", "memory": "64Mi"}).obj()
    twin = copy.deepcopy(pod)
    twin["metadata"]["name"] = "b"
    other = make_pod("c").container("c", requests={"cpu": "500m", "memory": "64Mi"}).obj()
    a, b, c = PodInfo(pod), PodInfo(twin), PodInfo(other)
    assert a.requests is b.requests and a.nonzero is b.nonzero
    assert c.requests is not a.requests and c.requests["cpu"] == 500


def test_system_default_spread_selector_kept_until_services_change(stack: SchedStack,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from kubetwin.scheduler.framework import PodInfo
    from kubetwin.scheduler.plugins.podtopologyspread import PodTopologySpread

    pts = stack.scheduler.framework.plugin("PodTopologySpread")
    assert isinstance(pts, PodTopologySpread)
    asked: list[str] = []
    orig = pts._default_selector

    def spy(pod: PodInfo) -> object:
        asked.append(pod.name)
        return orig(pod)

    monkeypatch.setattr(pts, "_default_selector", spy)

    def service(name: str, selector: dict[str, str]) -> dict:
        return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
                "spec": {"selector": selector, "ports": [{"port": 80}]}}  # fmt: skip

    def selector_of(name: str) -> object:
        pi = PodInfo(make_pod(name).labels({"app": "web", "tier": "front"}).obj())
        return [c.selector for c in pts.constraints(pi, hard=False)]

    stack.create(service("web", {"app": "web"}))
    stack.settle()
    first = selector_of("a")
    assert first and first[0] == {"matchLabels": {"app": "web"}, "matchExpressions": []}
    assert selector_of("b") == first and asked == ["a"]  # b: same namespace, labels, no controller
    stack.create(service("front", {"tier": "front"}))  # another Service selects them too
    stack.settle()
    assert selector_of("c")[0] == {"matchLabels": {"app": "web", "tier": "front"}, "matchExpressions": []}
    assert asked == ["a", "c"]


def test_node_event_answer_shared_per_pod_class_only(stack: SchedStack) -> None:
    """A node event asks the hints once per (pod class, rejectors): pods of one class share the
    answer, a pod of another class with the same rejectors gets its own."""
    other = {"key": "other", "value": "x", "effect": "NoSchedule"}
    stack.create(small("n1"), make_node("gpu").capacity(cpu="8").taints([GPU_TAINT, other]).obj())
    for name in ("a1", "a2"):  # too big for n1, untolerated on gpu
        stack.create(make_pod(name).container("c", requests={"cpu": "3"}).obj())
    tolerates_gpu = [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]
    stack.create(make_pod("b1").container("c", requests={"cpu": "3"}).tolerations(tolerates_gpu).obj())
    stack.settle()
    sched = stack.scheduler
    assert {k: set(pi.unschedulable_plugins) for k, pi in sched._unschedulable.items()} == {
        k: {"NodeResourcesFit", "TaintToleration"} for k in ("default/a1", "default/a2", "default/b1")
    }
    node = stack.client.get("nodes", "gpu")
    node["spec"]["taints"] = [GPU_TAINT]  # helps b1 only
    stack.client.update(node)
    assert set(sched._unschedulable) == {"default/a1", "default/a2"}
    stack.settle(2)
    assert stack.node_of("b1") == "gpu" and stack.node_of("a1") is None


def test_status_writes_keep_the_cached_and_queued_versions_current(stack: SchedStack) -> None:
    """Status-only writes reach the scheduler by its _on_pod_status route: a bound pod's cached
    PodInfo takes the new version in place, a queued pod's keeps following too."""
    stack.create(small("n1"), make_pod("p").container("c", requests={"cpu": "1"}).obj(),
                 make_pod("big").container("c", requests={"cpu": "8"}).obj())  # fmt: skip
    stack.settle()
    sched = stack.scheduler
    cached = sched.snapshot.pods["default/p"]
    for name in ("p", "big"):
        pod = stack.pod(name)
        pod["status"]["phase"] = "Running" if name == "p" else "Pending"
        pod["status"]["podIP"] = "10.0.0.9"
        stack.client.update_status(pod)
    informer = stack.informers.get("pods")
    assert sched.snapshot.pods["default/p"] is cached
    assert cached.pod is informer.get("p", "default")
    assert sched._queued["default/big"].pod is informer.get("big", "default")


def test_pods_of_one_class_share_their_memo() -> None:
    """PodClasses: equal namespace, labels and spec share one memo (what one pod worked out the
    next finds); other labels, or a spec changed since, do not."""
    from kubetwin.scheduler.framework import PodInfo
    from kubetwin.scheduler.scheduler import PodClasses

    def pod(name: str, app: str = "a", cpu: str = "1") -> PodInfo:
        return PodInfo(make_pod(name).labels({"app": app}).container("c", requests={"cpu": cpu}).obj())

    classes = PodClasses()
    a1, a2, b = pod("a1"), pod("a2"), pod("b", app="b")
    a1.memo["plugin"] = "worked out once"
    a2.memo["own"] = 1
    assert classes.of(a1) == classes.of(a2) != classes.of(b)
    assert a2.memo is a1.memo and a2.memo["plugin"] == "worked out once" and a1.memo["own"] == 1
    assert "plugin" not in b.memo
    bigger = make_pod("a2").labels({"app": "a"}).container("c", requests={"cpu": "2"}).obj()
    a2.update(bigger)
    assert a2.memo is not a1.memo and "plugin" not in a2.memo
    assert classes.of(a2) != classes.of(a1)


def test_default_spread_key_follows_owners_within_a_class() -> None:
    """PodTopologySpread's default-constraints key kept in a (class-shared) memo is checked
    against the pod's owner references: pods of one class with other owners get their own."""
    from kubetwin.scheduler.framework import PodInfo
    from kubetwin.scheduler.plugins.podtopologyspread import PodTopologySpread
    from kubetwin.scheduler.scheduler import PodClasses

    def pod(name: str, owner: str) -> PodInfo:
        ref = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": owner, "uid": owner, "controller": True}
        return PodInfo(make_pod(name).labels({"app": "a"}).container("c").set("metadata.ownerReferences", [ref]).obj())

    classes = PodClasses()
    a, b, c = pod("a", "rs1"), pod("b", "rs2"), pod("c", "rs1")
    assert classes.of(a) == classes.of(b) == classes.of(c) and a.memo is b.memo is c.memo
    ka = PodTopologySpread._default_key(a)
    kb = PodTopologySpread._default_key(b)
    assert ka != kb and ka[2][0][1] == "rs1" and kb[2][0][1] == "rs2"
    assert PodTopologySpread._default_key(c) == ka and PodTopologySpread._default_key(a) == ka
