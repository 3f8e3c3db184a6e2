"""End to end through scenario.runtime.Cluster: a Deployment whose pods use pinned amounts
(``kubetwin.io/cpu-usage`` / ``memory-usage``), a VPA, virtual minutes, the recommendation in the
VPA's status; in Auto mode the updater evicts and the admission plugin recreates the pods with the
recommended requests."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from kubetwin.api.quantity import cpu_milli, to_int
from kubetwin.client.metrics import ContainerMetricsClient
from kubetwin.controllers import ALL, VPARecommender, VPAUpdater
from kubetwin.controllers.vpa import model
from kubetwin.scenario.runtime import Cluster
from kubetwin.server.tables import vpa_row

Obj = dict[str, Any]
MIB = 1024 * 1024
VPA = "verticalpodautoscalers.autoscaling.k8s.io"


class Env:
    def __init__(self) -> None:
        self.cluster = Cluster(seed=5)
        self.cluster.start()
        self.client = self.cluster.client
        self.client.create({"apiVersion": "kubetwin.io/v1alpha1", "kind": "NodeGroup", "metadata": {"name": "w"},
                            "spec": {"instanceType": "m5.2xlarge", "minSize": 2, "maxSize": 2}})  # fmt: skip

    def deployment(self, replicas: int = 2, requests: Obj | None = None, cpu_use: str = "200m",
                   mem_use: str = "300Mi") -> None:  # fmt: skip
        labels = {"app": "web"}
        self.client.create({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels, "annotations": {
                         "kubetwin.io/cpu-usage": cpu_use, "kubetwin.io/memory-usage": mem_use}},
                         "spec": {"containers": [{"name": "app", "image": "nginx", "resources": {
                             "requests": requests or {"cpu": "500m", "memory": "512Mi"}}}]}}},
        })  # fmt: skip

    def vpa(self, mode: str, **spec: Any) -> None:
        self.client.create({"apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
                            "metadata": {"name": "web", "namespace": "default"},
                            "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                                     "updatePolicy": {"updateMode": mode}, **spec}})  # fmt: skip

    def run(self, seconds: float) -> None:
        self.cluster.run(self.cluster.loop.now + seconds)

    def get_vpa(self) -> Obj:
        return self.client.get(VPA, "web", "default")

    def target(self) -> Obj:
        return self.get_vpa()["status"]["recommendation"]["containerRecommendations"][0]

    def live_pods(self) -> list[Obj]:
        return [p for p in self.client.list("pods", "default", label_selector="app=web")
                if not p["metadata"].get("deletionTimestamp")]  # fmt: skip


@pytest.fixture
def env() -> Iterator[Env]:
    e = Env()
    yield e
    e.cluster.close()


def test_vpa_controllers_in_all_and_usage_metrics_installed(env: Env) -> None:
    assert VPARecommender in ALL and VPAUpdater in ALL
    assert isinstance(env.client.metrics, ContainerMetricsClient)  # the metrics pipeline


def test_off_mode_recommends_usage_times_margin(env: Env) -> None:
    env.vpa("Off")
    env.deployment()
    env.run(30 * 60)
    rec = env.target()
    assert rec["containerName"] == "app"
    cpu, mem = cpu_milli(rec["target"]["cpu"]), to_int(rec["target"]["memory"])
    assert (
        cpu == _expected(model.CPU_HISTOGRAM_OPTIONS, 0.2, 1000) == 247
    )  # end of 200m's bucket (215m) x 1.15
    assert mem == _expected(model.MEMORY_HISTOGRAM_OPTIONS, 300 * MIB, 1)
    assert 300 * MIB * 1.15 <= mem <= 300 * MIB * 1.15 * 1.06
    assert cpu_milli(rec["lowerBound"]["cpu"]) < cpu < cpu_milli(rec["upperBound"]["cpu"])
    assert rec["uncappedTarget"] == rec["target"]
    conds = {c["type"]: c["status"] for c in env.get_vpa()["status"]["conditions"]}
    assert conds == {"RecommendationProvided": "True"}
    # Off: pods keep their requests, nobody is evicted
    for p in env.live_pods():
        assert p["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "500m", "memory": "512Mi"}
        assert "vpaUpdates" not in (p["metadata"].get("annotations") or {})
    row = vpa_row(_ctx(env), env.get_vpa())
    assert row[:5] == ["web", "Off", rec["target"]["cpu"], rec["target"]["memory"], "True"]


def _expected(options: Any, usage: float, unit: int) -> int:
    """The bucket end above ``usage`` (the percentile of a constant series) plus the 15% margin."""
    end = model.amount_from_float(options.bucket_start(options.find_bucket(usage) + 1) * unit)
    return model.with_margin(end, 0.15)


def _ctx(env: Env) -> Any:
    from kubetwin.server.tables import _Ctx

    return _Ctx(None, env.cluster.loop, False)


def test_no_recommendation_before_first_run_and_no_pods_matched(env: Env) -> None:
    env.vpa("Off")
    env.run(61)
    st = env.get_vpa()["status"]
    conds = {c["type"]: (c["status"], c.get("reason"), c.get("message")) for c in st["conditions"]}
    assert conds == {
        "ConfigUnsupported": (
            "True",
            None,
            'Cannot read targetRef. Reason: deployments.apps "web" not found',
        ),
        "NoPodsMatched": ("True", "NoPodsMatched", "No pods match this VPA object"),
        "RecommendationProvided": ("False", "NoPodsMatched", "No pods match this VPA object"),
    }
    assert "recommendation" not in st


def test_container_policy_caps_and_uncapped_target(env: Env) -> None:
    env.vpa("Off", resourcePolicy={"containerPolicies": [
        {"containerName": "*", "maxAllowed": {"cpu": "100m"}, "controlledResources": ["cpu"]}]})  # fmt: skip
    env.deployment()
    env.run(10 * 60)
    rec = env.target()
    assert rec["target"] == {"cpu": "100m"} and set(rec["upperBound"]) == {"cpu"}
    assert cpu_milli(rec["uncappedTarget"]["cpu"]) >= 230


def test_auto_mode_recreates_pods_with_recommended_requests(env: Env) -> None:
    env.vpa("Auto")
    env.deployment(requests={"cpu": "50m", "memory": "100Mi"}, mem_use="90Mi")
    env.run(20 * 60)
    pods = env.live_pods()
    assert len(pods) == 2
    rec = env.target()
    for p in pods:
        ann = p["metadata"]["annotations"]
        assert ann["vpaUpdates"] == "Pod resources updated by web: container 0: cpu request, memory request"
        assert ann["vpaObservedContainers"] == "app"
        req = p["spec"]["containers"][0]["resources"]["requests"]
        assert cpu_milli(req["cpu"]) >= 230
        assert (
            cpu_milli(rec["lowerBound"]["cpu"])
            <= cpu_milli(req["cpu"])
            <= cpu_milli(rec["upperBound"]["cpu"])
        )
    evicted = [e for e in env.client.list("events", "default") if e["reason"] == "EvictedByVPA"]
    assert len(evicted) >= 2
    assert evicted[0]["message"] == "Pod was evicted by VPA Updater to apply resource recommendation."


def test_initial_mode_only_admission(env: Env) -> None:
    env.vpa("Initial")
    env.deployment(requests={"cpu": "50m", "memory": "100Mi"}, mem_use="90Mi")
    env.run(20 * 60)
    assert not [e for e in env.client.list("events", "default") if e["reason"] == "EvictedByVPA"]
    for p in env.live_pods():
        assert p["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "50m", "memory": "100Mi"}
    env.client.patch("deployments.apps", "web", {"spec": {"replicas": 3}}, "default")
    env.run(30)
    fresh = [p for p in env.live_pods() if "vpaUpdates" in p["metadata"].get("annotations", {})]
    assert len(fresh) == 1


def test_pdb_blocks_updater_eviction(env: Env) -> None:
    env.client.create({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                       "metadata": {"name": "web", "namespace": "default"},
                       "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}})  # fmt: skip
    env.vpa("Recreate")
    env.deployment(requests={"cpu": "50m", "memory": "100Mi"}, mem_use="90Mi")
    env.run(10 * 60)
    assert not [e for e in env.client.list("events", "default") if e["reason"] == "EvictedByVPA"]
    assert len(env.live_pods()) == 2


def test_auto_mode_respects_container_limit_range(env: Env) -> None:
    """A LimitRange Container max of 200m with a 1:2 request:limit pod caps the recommended
    request at 100m (its limit then is the max); the recommendation itself is not capped."""
    env.client.create({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "lr", "namespace": "default"},
                       "spec": {"limits": [{"type": "Container", "max": {"cpu": "200m"}}]}})  # fmt: skip
    env.vpa("Auto")
    labels = {"app": "web"}
    env.client.create({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels, "annotations": {
                     "kubetwin.io/cpu-usage": "200m", "kubetwin.io/memory-usage": "90Mi"}},
                     "spec": {"containers": [{"name": "app", "image": "nginx", "resources": {
                         "requests": {"cpu": "50m", "memory": "100Mi"},
                         "limits": {"cpu": "100m", "memory": "200Mi"}}}]}}},
    })  # fmt: skip
    env.run(20 * 60)
    assert cpu_milli(env.target()["target"]["cpu"]) >= 230
    pods = env.live_pods()
    assert len(pods) == 2
    for p in pods:
        res = p["spec"]["containers"][0]["resources"]
        assert res["requests"]["cpu"] == "100m" and res["limits"]["cpu"] == "200m"
        assert p["metadata"]["annotations"]["vpaUpdates"] == (
            "Pod resources updated by web: container 0: cpu request, memory request, cpu limit, memory limit"
        )


def test_metrics_client_without_per_pod_usage(env: Env) -> None:
    """A ContainerMetricsClient with only get_container_usage (every pod uses its requests) feeds
    the recommender as the pipeline's per-pod container_usage does."""
    from kubetwin.client.metrics import RequestsMetricsClient

    env.client.metrics = RequestsMetricsClient(env.cluster.informers.get("pods"), env.cluster.loop)
    assert not hasattr(env.client.metrics, "container_usage")
    env.vpa("Off")
    env.deployment()  # requests 500m
    env.run(10 * 60)
    assert cpu_milli(env.target()["target"]["cpu"]) == _expected(model.CPU_HISTOGRAM_OPTIONS, 0.5, 1000)


def test_state_of_pods_that_left_is_dropped(env: Env) -> None:
    env.vpa("Off")
    env.deployment(replicas=3)
    env.run(5 * 60)
    rec = next(c for c in env.cluster.components if isinstance(c, VPARecommender))
    assert len(rec.containers) == 3 and len(rec._plans) == 3
    env.client.patch("deployments.apps", "web", {"spec": {"replicas": 1}}, "default")
    env.run(3 * 60)
    live = {p["metadata"]["uid"] for p in env.live_pods()}
    assert len(live) == 1
    assert {k[1] for k in rec.containers} == live and {k[1] for k in rec._plans} == live


def test_pods_still_selected_after_a_selector_change_keep_their_states(env: Env) -> None:
    """The VPA's target moves from the Deployment to its ReplicaSet (another selector, the same
    pods): the containers' memory windows go on, so their peaks are not added a second time."""
    env.vpa("Off")
    env.deployment(replicas=2)
    env.run(5 * 60)
    rec = next(c for c in env.cluster.components if isinstance(c, VPARecommender))
    agg = rec.aggregates["default/web"]["app"]
    weight, windows = agg.memory_peaks.total_weight, sorted(rec.feeds["default/web"].window_end[:2].tolist())
    rs = env.client.list("replicasets.apps", "default")[0]["metadata"]["name"]
    vpa = env.get_vpa()
    vpa["spec"]["targetRef"] = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs}
    env.client.update(vpa)
    env.run(3 * 60)
    feed = rec.feeds["default/web"]
    assert "pod-template-hash" in str(feed.selector)
    assert len(rec.containers) == 2 and sorted(feed.window_end[: feed.n][feed.has_state[: feed.n]].tolist()) == windows
    assert agg.memory_peaks.total_weight == weight


@pytest.mark.parametrize(
    ("restarts", "reason", "shared_statuses", "recorded"),
    [
        pytest.param(1, "OOMKilled", False, True, id="oom-killed"),
        pytest.param(0, "OOMKilled", False, False, id="no-new-restart"),
        pytest.param(1, "Error", False, False, id="killed-otherwise"),
        pytest.param(0, "OOMKilled", True, False, id="statuses-unchanged"),
    ],
)
def test_oom_of_a_selected_pod_is_a_memory_sample(env: Env, restarts: int, reason: str, shared_statuses: bool,
                                                  recorded: bool) -> None:  # fmt: skip
    """The recommender's pod handler records an OOM kill (RecordOOM) when a container's restart
    count grew and its last termination was OOMKilled, not for any other status write."""
    env.vpa("Off")
    env.deployment(replicas=1)
    env.run(5 * 60)
    rec = next(c for c in env.cluster.components if isinstance(c, VPARecommender))
    old = env.live_pods()[0]
    new = copy.deepcopy(old)
    (cs,) = new["status"]["containerStatuses"]
    cs["restartCount"] = int(cs.get("restartCount") or 0) + restarts
    cs["lastState"] = {"terminated": {"reason": reason, "finishedAt": env.cluster.loop.timestamp()}}
    if shared_statuses:
        old["status"]["containerStatuses"] = new["status"]["containerStatuses"]
    feed = rec.feeds["default/web"]
    (row,) = feed.pods[old["metadata"]["uid"]].rows
    before = int(feed.oom_peak[row])
    rec._pod_updated(old, new)
    assert (int(feed.oom_peak[row]) > before) == recorded


def test_an_oom_written_to_the_store_reaches_the_recommender(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pod handler declares the restarts it reads (``pod_changes``' RESTARTS): a status write
    that moves a restartCount with an OOMKilled last state reaches it through the informer, one
    that leaves the counts alone does not, nor does any write once the pod is being deleted."""
    seen: list[Obj] = []
    handler = VPARecommender._pod_updated

    def counted(self: VPARecommender, old: Obj, new: Obj) -> None:
        seen.append(new)
        handler(self, old, new)

    monkeypatch.setattr(VPARecommender, "_pod_updated", counted)
    env = Env()
    env.vpa("Off")
    env.deployment(replicas=1)
    env.run(5 * 60)
    rec = next(c for c in env.cluster.components if isinstance(c, VPARecommender))
    pod = env.live_pods()[0]
    feed = rec.feeds["default/web"]
    (row,) = feed.pods[pod["metadata"]["uid"]].rows
    seen.clear()
    before = int(feed.oom_peak[row])
    (cs,) = pod["status"]["containerStatuses"]
    cs["lastState"] = {"terminated": {"reason": "OOMKilled", "finishedAt": env.cluster.loop.timestamp()}}
    pod = env.client.update_status(pod)  # the counts as they were: not delivered
    assert seen == [] and int(feed.oom_peak[row]) == before
    pod["status"]["containerStatuses"][0]["restartCount"] = int(cs.get("restartCount") or 0) + 1
    pod = env.client.update_status(pod)
    assert len(seen) == 1 and int(feed.oom_peak[row]) > before
    env.client.delete("pods", pod["metadata"]["name"], "default", grace_period_seconds=30)
    pod = env.client.get("pods", pod["metadata"]["name"], "default")
    assert len(seen) == 2  # the deletion
    pod["status"]["containerStatuses"][0]["restartCount"] += 1
    env.client.update_status(pod)
    assert len(seen) == 2  # being deleted already: nothing more for it


@pytest.mark.parametrize(
    ("write", "selected"),
    [
        pytest.param({"labels": {"app": "web", "extra": "x"}}, True, id="still-matching"),
        pytest.param({"labels": {"app": "other"}}, False, id="leaves"),
        pytest.param({"phase": "Failed"}, False, id="fails"),  # a status write: the same labels
        pytest.param({"phase": "Running"}, True, id="status-write"),
    ],
)
def test_written_pod_stays_in_or_leaves_the_selection(env: Env, write: Obj, selected: bool) -> None:
    env.vpa("Off")
    env.deployment(replicas=1)
    env.run(5 * 60)
    rec = next(c for c in env.cluster.components if isinstance(c, VPARecommender))
    pod = env.live_pods()[0]
    uid = pod["metadata"]["uid"]
    assert uid in rec.feeds["default/web"].pods
    if "labels" in write:
        pod["metadata"]["labels"] = write["labels"]
        env.client.update(pod)
    else:
        pod["status"]["phase"] = write["phase"]
        env.client.update_status(pod)
    assert (uid in rec.feeds["default/web"].pods) == selected


@pytest.mark.parametrize(
    ("relabel", "selected"),
    [
        pytest.param(False, False, id="status-write"),
        pytest.param(True, True, id="relabelled-in"),
    ],
)
def test_written_pod_left_out_stays_out_or_joins(env: Env, relabel: bool, selected: bool) -> None:
    """A pod of the namespace that the selector does not match is not selected by its status
    writes, and is once relabelled to match."""
    env.vpa("Off")
    env.deployment(replicas=1)
    env.client.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "other", "namespace": "default",
                       "labels": {"app": "other"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}})  # fmt: skip
    env.run(5 * 60)
    rec = next(c for c in env.cluster.components if isinstance(c, VPARecommender))
    pod = env.client.get("pods", "other", "default")
    if relabel:
        pod["metadata"]["labels"] = {"app": "web"}
        env.client.update(pod)
    else:
        pod["status"]["phase"] = "Running"
        env.client.update_status(pod)
    assert (pod["metadata"]["uid"] in rec.feeds["default/web"].pods) == selected
    assert len(rec.feeds["default/web"].pods) == 1 + selected
