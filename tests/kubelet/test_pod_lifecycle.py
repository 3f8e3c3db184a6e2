"""Pod lifecycle on a simulated kubelet: status shape, timelines, back-off, deletion, admission."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Stack, make_stack

from builders import make_node, make_pod

NODE = "node-a"


def _node(stack: Stack, name: str = NODE, cidr: str = "10.244.7.0/24", **cap: Any) -> None:
    node = make_node(name).capacity(**cap).obj() if cap else make_node(name).capacity().obj()
    node["spec"]["podCIDR"] = cidr
    node["status"]["addresses"] = [{"type": "InternalIP", "address": "10.0.1.5"}]
    stack.client.create(node)


def _state(pod: dict[str, Any], name: str = "c") -> dict[str, Any]:
    for s in pod["status"].get("containerStatuses", []):
        if s["name"] == name:
            return s
    raise KeyError(name)


def _cond(pod: dict[str, Any], type_: str) -> dict[str, Any]:
    return next(c for c in pod["status"]["conditions"] if c["type"] == type_)


def test_pending_to_running_status_shape(stack: Stack) -> None:
    _node(stack)
    pod = make_pod("web").container("web", requests={"cpu": "100m", "memory": "64Mi"}, image="nginx")
    stack.run_pod(pod.annotations({"kubetwin.io/startup-seconds": "2"}).obj(), NODE)
    stack.loop.advance(0)
    p = stack.pod("web")
    assert p["status"]["phase"] == "Pending"
    assert _state(p, "web")["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert _cond(p, "Ready")["reason"] == "ContainersNotReady"
    assert _cond(p, "Ready")["message"] == "containers with unready status: [web]"
    stack.loop.advance(2)
    p = stack.pod("web")
    st = p["status"]
    assert st["phase"] == "Running"
    assert [c["type"] for c in st["conditions"]] == [
        "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled",
    ]
    assert all(c["status"] == "True" for c in st["conditions"])
    assert st["hostIP"] == "10.0.1.5" and st["hostIPs"] == [{"ip": "10.0.1.5"}]
    assert st["podIP"] == "10.244.7.2" and st["podIPs"] == [{"ip": "10.244.7.2"}]
    assert st["qosClass"] == "Burstable"
    assert st["startTime"] == "2026-01-01T00:00:00Z"
    cs = _state(p, "web")
    assert cs["image"] == "docker.io/library/nginx:latest"
    assert cs["imageID"].startswith("docker.io/library/nginx@sha256:")
    assert cs["containerID"].startswith("containerd://") and len(cs["containerID"]) == 13 + 64
    assert (cs["ready"], cs["started"], cs["restartCount"]) == (True, True, 0)
    assert cs["state"] == {"running": {"startedAt": "2026-01-01T00:00:02Z"}}
    reasons = [(e["reason"], e["message"]) for e in stack.events("web")]
    assert reasons[0] == ("Pulling", 'Pulling image "nginx"')
    assert reasons[1][0] == "Pulled" and reasons[1][1].startswith('Successfully pulled image "nginx" in 1.6s')
    assert reasons[2:] == [("Created", "Created container: web"), ("Started", "Started container web")]
    assert all(e["source"] == {"component": "kubelet", "host": NODE} for e in stack.events("web"))


def test_ip_allocation_unique_and_released(stack: Stack) -> None:
    _node(stack)
    for i in range(5):
        stack.run_pod(make_pod(f"p{i}").container("c").obj(), NODE)
    stack.loop.advance(5)
    ips = [stack.pod(f"p{i}")["status"]["podIP"] for i in range(5)]
    assert ips == [f"10.244.7.{i}" for i in range(2, 7)]
    stack.client.delete("pods", "p0", "default", grace_period_seconds=0)
    stack.run_pod(make_pod("p5").container("c").obj(), NODE)
    stack.loop.advance(5)
    assert stack.pod("p5")["status"]["podIP"] == "10.244.7.7"  # host-local round robin
    assert stack.kubelets.get(NODE).ipam.in_use == 5  # type: ignore[union-attr]


def test_a_freed_address_wakes_one_pod_waiting_for_one(stack: Stack) -> None:
    """With the node's range full, pods wait for an address (one FailedCreatePodSandBox each);
    a pod that goes frees one address, which the first waiter gets; the other keeps waiting
    without another failed attempt."""
    _node(stack, cidr="10.244.7.0/29")  # .2-.6: 5 pod addresses
    for i in range(7):
        stack.run_pod(make_pod(f"p{i}").container("c").obj(), NODE)
    stack.loop.advance(5)
    failed = lambda: [e["involvedObject"]["name"] for e in stack.events() if e["reason"] == "FailedCreatePodSandBox"]  # noqa: E731
    assert failed() == ["p5", "p6"]
    stack.client.delete("pods", "p0", "default")
    stack.loop.advance(35)
    assert stack.pod("p5")["status"]["podIP"] == "10.244.7.2"
    assert "podIP" not in stack.pod("p6")["status"]
    assert failed() == ["p5", "p6"]


def test_a_new_pod_cidr_is_taken_on_the_heartbeat_after_its_range_is_free(stack: Stack) -> None:
    """The node's podCIDR changes while a pod holds an address of the old range: the kubelet keeps
    the old range until none of its addresses is out, then takes the new one on the next node
    update, even a heartbeat (the kubelet manager's node handler skips heartbeats otherwise)."""
    _node(stack)
    stack.run_pod(make_pod("p0").container("c").obj(), NODE)
    stack.loop.advance(5)
    assert stack.pod("p0")["status"]["podIP"] == "10.244.7.2"
    node = stack.client.get("nodes", NODE)
    node["spec"]["podCIDR"] = "10.244.9.0/24"
    stack.client.update(node)
    stack.client.delete("pods", "p0", "default")
    stack.loop.advance(60)
    kubelet = stack.kubelets.get(NODE)
    assert kubelet is not None and kubelet.ipam.cidr == "10.244.7.0/24" and kubelet.ipam.in_use == 0
    stack.loop.advance(300)  # the node status report: nothing but heartbeats renewed
    assert kubelet.ipam.cidr == "10.244.9.0/24" and not kubelet.cidr_waiting
    stack.run_pod(make_pod("p1").container("c").obj(), NODE)
    stack.loop.advance(5)
    assert stack.pod("p1")["status"]["podIP"] == "10.244.9.2"


def test_a_pod_cidr_changed_while_the_kubelet_is_stopped_is_taken_after_it_resumes(stack: Stack) -> None:
    """A stopped kubelet takes no range, but it waits for its node's new podCIDR: once resumed it
    takes it on the next node update, even a heartbeat."""
    _node(stack)
    stack.loop.advance(5)
    kubelet = stack.kubelets.get(NODE)
    assert kubelet is not None and kubelet.ipam.cidr == "10.244.7.0/24"
    kubelet.stop()
    node = stack.client.get("nodes", NODE)
    node["spec"]["podCIDR"] = "10.244.9.0/24"
    stack.client.update(node)
    stack.loop.advance(5)
    assert kubelet.ipam.cidr == "10.244.7.0/24" and kubelet.cidr_waiting
    kubelet.resume()
    stack.loop.advance(300)
    assert kubelet.ipam.cidr == "10.244.9.0/24" and not kubelet.cidr_waiting


def test_crashloop_backoff_timeline() -> None:
    stack = make_stack()
    _node(stack)
    pod = make_pod("crash").container("c").annotations(
        {"kubetwin.io/run-duration": "5s", "kubetwin.io/exit-code": "1", "kubetwin.io/startup-seconds": "0"}
    )
    stack.run_pod(pod.obj(), NODE)
    starts: list[int] = []
    for _ in range(2000):
        stack.loop.advance(1)
        cs = _state(stack.pod("crash"))
        if "running" in cs["state"]:
            at = int(stack.loop.parse_timestamp(cs["state"]["running"]["startedAt"]))
            if not starts or starts[-1] != at:
                starts.append(at)
        if len(starts) == 9:
            break
    gaps = [b - a - 5 for a, b in zip(starts, starts[1:], strict=False)]
    # first restart immediate, then 10 s doubling to MaxContainerBackOff (300 s)
    assert gaps == [0, 10, 20, 40, 80, 160, 300, 300]
    stack.loop.advance(5)
    p = stack.pod("crash")
    cs = _state(p)
    assert cs["restartCount"] == 8
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert cs["state"]["waiting"]["message"].startswith("back-off 5m0s restarting failed container=c pod=crash_default(")
    assert cs["lastState"]["terminated"]["exitCode"] == 1 and cs["lastState"]["terminated"]["reason"] == "Error"
    assert p["status"]["phase"] == "Running"
    backoff = [e for e in stack.events("crash") if e["reason"] == "BackOff"]
    assert backoff and backoff[0]["type"] == "Warning"
    assert backoff[0]["message"].startswith("Back-off restarting failed container c in pod crash_default(")


@pytest.mark.parametrize(
    ("policy", "annotations", "phase", "at", "exit_code"),
    [
        pytest.param("Never", {}, "Succeeded", 60, 0, id="job-default-60s"),
        pytest.param("OnFailure", {"kubetwin.io/run-duration": "30s"}, "Succeeded", 30, 0, id="onfailure-ok"),
        pytest.param("Never", {"kubetwin.io/run-duration": "10s", "kubetwin.io/exit-code": "3"}, "Failed", 10, 3,
                     id="never-fails"),
    ],
)
def test_run_to_completion(policy: str, annotations: dict[str, str], phase: str, at: int, exit_code: int) -> None:
    stack = make_stack()
    _node(stack)
    ann = {"kubetwin.io/startup-seconds": "1", **annotations}
    stack.run_pod(make_pod("job").container("c").set("spec.restartPolicy", policy).annotations(ann).obj(), NODE)
    stack.loop.advance(1 + at - 0.5)
    assert stack.pod("job")["status"]["phase"] == "Running"
    stack.loop.advance(1)
    p = stack.pod("job")
    assert p["status"]["phase"] == phase
    term = _state(p)["state"]["terminated"]
    assert term["exitCode"] == exit_code
    assert term["reason"] == ("Completed" if exit_code == 0 else "Error")
    reason = "PodCompleted" if phase == "Succeeded" else "PodFailed"
    assert _cond(p, "Ready")["reason"] == reason and _cond(p, "ContainersReady")["reason"] == reason
    assert _cond(p, "PodReadyToStartContainers")["status"] == "False"
    assert stack.kubelets.get(NODE).ipam.in_use == 0  # type: ignore[union-attr]


def test_init_containers_run_sequentially(stack: Stack) -> None:
    _node(stack)
    pod = (
        make_pod("init").init_container("i1").init_container("i2").container("c")
        .annotations({"kubetwin.io/startup-seconds": "1"})
    )
    stack.run_pod(pod.obj(), NODE)
    stack.loop.advance(0)
    p = stack.pod("init")
    assert _state(p)["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert _cond(p, "Initialized")["message"] == "containers with incomplete status: [i1 i2]"
    stack.loop.advance(2.5)  # i1: start 1 s + run 1 s; i2 started at 3 s
    p = stack.pod("init")
    init = p["status"]["initContainerStatuses"]
    assert init[0]["state"]["terminated"]["reason"] == "Completed" and init[0]["ready"] is True
    assert "running" not in init[1]["state"]
    stack.loop.advance(3)  # i2 done at 4 s, c running at 5 s
    p = stack.pod("init")
    assert p["status"]["phase"] == "Running"
    assert _cond(p, "Initialized")["status"] == "True"


def test_readiness_probe_initial_delay(stack: Stack) -> None:
    _node(stack)
    probe = {"httpGet": {"path": "/", "port": 80}, "initialDelaySeconds": 15, "periodSeconds": 10}
    pod = make_pod("probe").container("c", readinessProbe=probe).annotations({"kubetwin.io/startup-seconds": "2"})
    stack.run_pod(pod.obj(), NODE)
    stack.loop.advance(19)
    p = stack.pod("probe")
    assert p["status"]["phase"] == "Running" and _cond(p, "Ready")["status"] == "False"
    stack.loop.advance(1)  # first probe tick at or after 2 + 15 s: 20 s
    assert _cond(stack.pod("probe"), "Ready")["status"] == "True"


@pytest.mark.parametrize(
    ("grace", "shutdown", "done_at", "exit_code"),
    [
        pytest.param(30, None, 1, 0, id="default-1s"),
        pytest.param(30, "12", 12, 0, id="annotation-12s"),
        pytest.param(5, "12", 5, 137, id="grace-runs-out"),
    ],
)
def test_graceful_deletion(grace: int, shutdown: str | None, done_at: int, exit_code: int) -> None:
    stack = make_stack()
    _node(stack)
    ann = {"kubetwin.io/startup-seconds": "1"}
    if shutdown:
        ann["kubetwin.io/shutdown-seconds"] = shutdown
    stack.run_pod(make_pod("web").container("c").annotations(ann).obj(), NODE)
    stack.loop.advance(5)
    stack.client.delete("pods", "web", "default", grace_period_seconds=grace)
    stack.loop.advance(done_at - 0.5)
    p = stack.pod("web")
    assert p["metadata"]["deletionTimestamp"]
    assert [e["message"] for e in stack.events("web") if e["reason"] == "Killing"] == ["Stopping container c"]
    seen: list[dict[str, Any]] = []
    stack.informers.get("pods").add_handler(on_update=lambda old, new: seen.append(new))
    stack.loop.advance(1)
    assert stack.client.get_or_none("pods", "web", "default") is None
    assert _state(seen[-1])["state"]["terminated"]["exitCode"] == exit_code
    assert stack.kubelets.get(NODE).ipam.in_use == 0  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("pod", "reason", "message"),
    [
        pytest.param(
            make_pod("big").container("c", requests={"cpu": "3"}).obj(),
            "OutOfcpu",
            "Node didn't have enough resource: cpu, requested: 3000, used: 1500, capacity: 4000",
            id="cpu",
        ),
        pytest.param(
            make_pod("big").container("c", requests={"memory": "15.5Gi"}).obj(),
            "OutOfmemory",
            "Node didn't have enough resource: memory, requested: 16642998272, used: 1073741824, capacity: 17179869184",
            id="memory",
        ),
        pytest.param(
            make_pod("big").container("c").node_selector({"disk": "ssd"}).obj(),
            "NodeAffinity",
            "Predicate NodeAffinity failed: node(s) didn't match Pod's node affinity/selector",
            id="node-selector",
        ),
        pytest.param(
            make_pod("big").container("c").obj(),
            "OutOfpods",
            "Node didn't have enough resource: pods, requested: 1, used: 1, capacity: 1",
            id="pods",
        ),
    ],
)
def test_admission_rejection(pod: dict[str, Any], reason: str, message: str) -> None:
    stack = make_stack()
    pods = 1 if reason == "OutOfpods" else 110
    _node(stack, cpu="4", memory="16Gi", pods=pods)
    stack.run_pod(make_pod("first").container("c", requests={"cpu": "1500m", "memory": "1Gi"}).obj(), NODE)
    stack.run_pod(pod, NODE)
    stack.loop.advance(1)
    st = stack.pod("big")["status"]
    assert (st["phase"], st["reason"], st["message"]) == ("Failed", reason, "Pod was rejected: " + message)
    ev = [e for e in stack.events("big") if e["reason"] == reason]
    assert ev and ev[0]["type"] == "Warning" and ev[0]["message"] == message
    assert stack.pod("first")["status"]["phase"] in ("Pending", "Running")


def test_status_written_only_on_change(stack: Stack) -> None:
    _node(stack)
    stack.run_pod(make_pod("web").container("c").annotations({"kubetwin.io/startup-seconds": "1"}).obj(), NODE)
    stack.loop.advance(5)
    kl = stack.kubelets.get(NODE)
    assert kl is not None
    writes = kl.pod_status_writes
    assert writes == 2  # Pending (ContainerCreating), then Running + Ready
    stack.loop.advance(3600)
    assert kl.pod_status_writes == writes


def test_resource_model_hooks() -> None:
    calls: list[tuple[str, str]] = []

    class Model:
        tick_interval = None

        def on_pod_started(self, kubelet: Any, pod: dict[str, Any]) -> None:
            calls.append(("started", pod["metadata"]["name"]))

        def on_pod_stopped(self, kubelet: Any, uid: str) -> None:
            calls.append(("stopped", uid))

        def on_container_started(self, kubelet: Any, uid: str, name: str) -> None:
            calls.append(("container started", name))

        def on_container_stopped(self, kubelet: Any, uid: str, name: str) -> None:
            calls.append(("container stopped", name))

        def tick(self, kubelet: Any) -> None:
            pass

    stack = make_stack(resource_model_factory=lambda kl: Model())
    _node(stack)
    stack.run_pod(make_pod("web").container("c").annotations({"kubetwin.io/startup-seconds": "1"}).obj(), NODE)
    stack.loop.advance(2)
    uid = stack.pod("web")["metadata"]["uid"]
    kl = stack.kubelets.get(NODE)
    assert kl is not None
    kl.container_exited(uid, "c", 137, "OOMKilled")
    stack.loop.advance(0)
    cs = _state(stack.pod("web"))
    assert cs["restartCount"] == 1 and cs["lastState"]["terminated"]["reason"] == "OOMKilled"
    stack.client.delete("pods", "web", "default")
    stack.loop.advance(2)
    # the OOM kill and the restart, then the deletion's stop as the pod's alone
    assert calls == [("started", "web"), ("container stopped", "c"), ("container started", "c"), ("stopped", uid)]


def test_backoff_resets_after_long_run(stack: Stack) -> None:
    _node(stack)
    ann = {"kubetwin.io/run-duration": "11m", "kubetwin.io/exit-code": "1", "kubetwin.io/startup-seconds": "0"}
    stack.run_pod(make_pod("slow").container("c").annotations(ann).obj(), NODE)
    stack.loop.advance(3 * 660 + 1)
    cs = _state(stack.pod("slow"))
    assert cs["restartCount"] == 3 and "running" in cs["state"]  # every restart immediate


def _summed(kl: Any) -> tuple[dict[str, int], int]:
    """What admission counts, summed afresh: the requests and number of the workers not done."""
    total: dict[str, int] = {}
    live = [w for w in kl.workers.values() if not w.done]
    for w in live:
        for k, v in w.requests.items():
            total[k] = total.get(k, 0) + v
    return total, len(live)


def test_admission_counts_follow_workers(stack: Stack) -> None:
    """The requests admission sees (kept as workers come, finish and go) are the live workers' sum."""
    _node(stack, cpu="8", memory="32Gi", pods=110)
    kl = stack.kubelets.get(NODE)
    assert kl is not None

    def check() -> None:
        used, count, _ = kl.used()
        want, n = _summed(kl)
        assert count == n and {k: v for k, v in used.items() if v} == {k: v for k, v in want.items() if v}

    fast = {"kubetwin.io/startup-seconds": "1"}
    for i in range(3):
        stack.run_pod(make_pod(f"web{i}").container("c", requests={"cpu": "500m", "memory": "1Gi"})
                      .annotations(fast).obj(), NODE)  # fmt: skip
    job = make_pod("job").container("c", requests={"cpu": "1", "memory": "2Gi"}).set("spec.restartPolicy", "Never")
    stack.run_pod(job.annotations({**fast, "kubetwin.io/run-duration": "5s"}).obj(), NODE)
    stack.loop.advance(3)
    check()
    assert kl.used()[1] == 4
    stack.loop.advance(10)  # the job finished: it no longer counts, though its worker stays
    check()
    assert kl.used()[1] == 3 and "job" in {w.key.split("/")[1] for w in kl.workers.values()}
    stack.client.delete("pods", "web1", "default")
    stack.loop.advance(60)
    check()
    assert kl.used()[1] == 2
    stack.client.delete("pods", "job", "default")
    stack.loop.advance(60)
    check()
    assert kl.used()[0].get("cpu") == 1000
