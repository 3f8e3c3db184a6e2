"""HPA controller: conditions, events, status and end-to-end scaling through an in-process Cluster."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kubetwin.api.selectors import LabelSelector
from kubetwin.client.metrics import (
    MetricsUnavailable,
    PodMetric,
    PodMetricsInfo,
    RequestsMetricsClient,
    select_pods,
)
from kubetwin.controllers import ALL, HPAController
from kubetwin.controllers import hpa_calc as hc
from kubetwin.scenario.runtime import Cluster

Obj = dict[str, Any]
HPA = "horizontalpodautoscalers.autoscaling"


class FakeMetrics:
    """A MetricsClient whose values the test drives: a per-pod CPU usage in millicores (each Running
    pod of the namespace), custom per-pod values, object values and external series."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.cpu_per_pod: int | None = 0
        self.pod_metric: dict[str, int] = {}
        self.object_metric: dict[str, int] = {}
        self.external: dict[str, list[int]] = {}

    def _pods(self, namespace: str, selector: LabelSelector) -> list[Obj]:
        return [
            p
            for p in self.cluster.informers.get("pods").list(namespace)
            if (p.get("status") or {}).get("phase") == "Running"
            and selector.matches(p["metadata"].get("labels") or {})
        ]

    def get_resource_metric(
        self, resource: str, namespace: str, selector: LabelSelector, container: str | None = None
    ) -> tuple[PodMetricsInfo, float]:
        if self.cpu_per_pod is None:
            raise MetricsUnavailable("no metrics returned from resource metrics API")
        now = self.cluster.loop.now
        return {
            p["metadata"]["name"]: PodMetric(self.cpu_per_pod, now, 15.0)
            for p in self._pods(namespace, selector)
        }, now

    def get_raw_metric(
        self, metric_name: str, namespace: str, selector: LabelSelector, metric_selector: LabelSelector
    ) -> tuple[PodMetricsInfo, float]:
        if metric_name not in self.pod_metric:
            raise MetricsUnavailable(
                f"unable to fetch metrics from custom metrics API: {metric_name} not found"
            )
        now = self.cluster.loop.now
        value = self.pod_metric[metric_name]
        return {
            p["metadata"]["name"]: PodMetric(value, now, 15.0) for p in self._pods(namespace, selector)
        }, now

    def get_object_metric(
        self, metric_name: str, namespace: str, object_ref: dict[str, Any], metric_selector: LabelSelector
    ) -> tuple[int, float]:
        if metric_name not in self.object_metric:
            raise MetricsUnavailable(
                f"unable to fetch metrics from custom metrics API: {metric_name} not found"
            )
        return self.object_metric[metric_name], self.cluster.loop.now

    def get_external_metric(
        self, metric_name: str, namespace: str, selector: LabelSelector
    ) -> tuple[list[int], float]:
        if metric_name not in self.external:
            raise MetricsUnavailable(
                f"unable to fetch metrics from external metrics API: {metric_name} not found"
            )
        return self.external[metric_name], self.cluster.loop.now


class Env:
    def __init__(self) -> None:
        self.cluster = Cluster(seed=3)
        self.metrics = FakeMetrics(self.cluster)
        self.cluster.client.metrics = self.metrics
        self.cluster.start()
        self.client = self.cluster.client
        self.client.create({"apiVersion": "kubetwin.io/v1alpha1", "kind": "NodeGroup", "metadata": {"name": "workers"},
                            "spec": {"instanceType": "m5.2xlarge", "minSize": 3, "maxSize": 3}})  # fmt: skip

    def deployment(self, name: str = "web", replicas: int = 2, cpu: str = "200m") -> None:
        labels = {"app": name}
        self.client.create({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "app", "image": "nginx",
                                                           "resources": {"requests": {"cpu": cpu}}}]}}},
        })  # fmt: skip

    def hpa(
        self, name: str = "web", metrics: list[Obj] | None = None, lo: int = 1, hi: int = 10, **spec: Any
    ) -> None:
        body: Obj = {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                     "minReplicas": lo, "maxReplicas": hi, **spec}  # fmt: skip
        if metrics is not None:
            body["metrics"] = metrics
        self.client.create({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                            "metadata": {"name": name, "namespace": "default"}, "spec": body})  # fmt: skip

    def run(self, seconds: float) -> None:
        self.cluster.run(self.cluster.loop.now + seconds)

    def get_hpa(self, name: str = "web") -> Obj:
        return self.client.get(HPA, name, "default")

    def replicas(self, name: str = "web") -> int:
        return int(self.client.get("deployments.apps", name, "default")["spec"]["replicas"])

    def running(self, name: str = "web") -> int:
        return sum(
            1
            for p in self.client.list("pods", "default", label_selector=f"app={name}")
            if (p.get("status") or {}).get("phase") == "Running"
            and not p["metadata"].get("deletionTimestamp")
        )

    def condition(self, type_: str, name: str = "web") -> tuple[str, str, str]:
        for c in self.get_hpa(name)["status"].get("conditions", []):
            if c["type"] == type_:
                return c["status"], c["reason"], c["message"]
        raise AssertionError(f"no {type_} condition")

    def events(self, reason: str) -> list[str]:
        return [e["message"] for e in self.client.list("events", "default") if e["reason"] == reason]


@pytest.fixture
def env() -> Iterator[Env]:
    e = Env()
    yield e
    e.cluster.close()


def test_hpa_is_in_all() -> None:
    assert HPAController in ALL


def test_scale_up_then_stabilized_scale_down(env: Env) -> None:
    env.deployment(replicas=2, cpu="200m")
    env.run(120)
    assert env.running() == 2
    env.metrics.cpu_per_pod = 200  # 100% of request against a 50% target
    env.hpa(metrics=[{"type": "Resource", "resource": {"name": "cpu",
                                                       "target": {"type": "Utilization", "averageUtilization": 50}}}])  # fmt: skip
    env.run(14)
    assert "status" not in env.get_hpa() or not env.get_hpa()["status"].get(
        "conditions"
    )  # first sync after 15 s
    env.run(2)
    assert env.replicas() == 4
    assert env.events("SuccessfulRescale") == [
        "New size: 4; reason: cpu resource utilization (percentage of request) above target"
    ]
    status = env.get_hpa()["status"]
    assert status["currentReplicas"] == 2 and status["desiredReplicas"] == 4
    assert status["currentMetrics"] == [{"type": "Resource", "resource": {"name": "cpu",
                                         "current": {"averageUtilization": 100, "averageValue": "200m"}}}]  # fmt: skip
    assert status["lastScaleTime"]
    assert env.condition("AbleToScale") == (
        "True",
        "SucceededRescale",
        "the HPA controller was able to update the target scale to 4",
    )
    assert env.condition("ScalingActive") == (
        "True",
        "ValidMetricFound",
        "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)",
    )
    assert env.condition("ScalingLimited") == (
        "False",
        "DesiredWithinRange",
        "the desired count is within the acceptable range",
    )

    # Load drops to 20% of request: the recommendation falls to 2, but the recommendation of 4 made
    # at the scale-up holds for the 5-minute downscale stabilization window.
    scaled_up_at = env.cluster.loop.now - 1  # the sync ran at 15 s after the HPA appeared
    env.metrics.cpu_per_pod = 40
    scaled_down_at = None
    for _ in range(25):
        env.run(15)
        if env.replicas() < 4 and scaled_down_at is None:
            scaled_down_at = env.cluster.loop.now - 1
        if scaled_down_at is None:
            assert env.condition("AbleToScale") == ("True", "ScaleDownStabilized", hc.MSG_DOWN_STABILIZED)
            assert env.get_hpa()["status"]["desiredReplicas"] == 4
    # the recommendation of 4 leaves the window 300 s later: the 20th sync after the scale-up
    assert scaled_down_at == scaled_up_at + 300
    assert env.replicas() == 2
    msgs = env.events("SuccessfulRescale")
    assert msgs[-1] == "New size: 2; reason: All metrics below target"


def test_scale_down_waits_for_the_stabilization_window(env: Env) -> None:
    env.deployment(replicas=4, cpu="100m")
    env.run(120)
    env.metrics.cpu_per_pod = 10  # 10% of request against 50%: recommendation 1
    env.hpa(metrics=[{"type": "Resource", "resource": {"name": "cpu",
                                                       "target": {"type": "Utilization", "averageUtilization": 50}}}])  # fmt: skip
    env.run(16)
    # the initial recommendation (current replicas, 4) is within the window
    assert env.replicas() == 4
    assert env.condition("AbleToScale") == ("True", "ScaleDownStabilized", (
        "recent recommendations were higher than current one, applying the highest recent recommendation"))  # fmt: skip
    env.run(270)  # t = 406: the sync at 405 still holds the initial recommendation (made at 135)
    assert env.replicas() == 4
    env.run(30)  # the sync at 435, 300 s after it
    assert env.replicas() == 1


def test_legacy_scale_up_limit_and_too_many(env: Env) -> None:
    env.deployment(replicas=1, cpu="100m")
    env.run(120)
    env.metrics.cpu_per_pod = 1000  # 1000% of request
    env.hpa(hi=6, metrics=[{"type": "Resource", "resource": {"name": "cpu",
                                                             "target": {"type": "Utilization", "averageUtilization": 50}}}])  # fmt: skip
    env.run(16)
    assert env.replicas() == 4  # max(2*1, 4)
    assert env.condition("ScalingLimited") == ("True", "ScaleUpLimit", (
        "the desired replica count is increasing faster than the maximum scale rate"))  # fmt: skip
    env.run(15)
    assert env.replicas() == 6
    assert env.condition("ScalingLimited") == ("True", "TooManyReplicas",
                                               "the desired replica count is more than the maximum replica count")  # fmt: skip


def test_behavior_policies_limit_scale_up(env: Env) -> None:
    env.deployment(replicas=2, cpu="100m")
    env.run(120)
    env.metrics.cpu_per_pod = 1000
    behavior = {"scaleUp": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}}
    env.hpa(hi=20, behavior=behavior, metrics=[{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}])  # fmt: skip
    env.run(16)
    assert env.replicas() == 3
    assert env.condition("ScalingLimited")[1] == "ScaleUpLimit"
    env.run(15)
    assert env.replicas() == 3  # one pod per 60 s
    env.run(45)
    assert env.replicas() == 4


def test_behavior_disabled_scale_down(env: Env) -> None:
    env.deployment(replicas=3, cpu="100m")
    env.run(120)
    env.metrics.cpu_per_pod = 5
    behavior = {"scaleDown": {"selectPolicy": "Disabled", "stabilizationWindowSeconds": 0}}
    env.hpa(behavior=behavior, metrics=[{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}])  # fmt: skip
    env.run(16)
    assert env.replicas() == 3
    assert env.condition("ScalingLimited")[1] == "ScaleDownLimit"


def test_missing_metrics_api(env: Env) -> None:
    env.deployment(replicas=2)
    env.run(60)
    env.metrics.cpu_per_pod = None
    env.hpa(metrics=[{"type": "Resource", "resource": {"name": "cpu",
                                                       "target": {"type": "Utilization", "averageUtilization": 50}}}])  # fmt: skip
    env.run(16)
    inner = "failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API"
    assert env.condition("ScalingActive") == ("False", "FailedGetResourceMetric",
                                              f"the HPA was unable to compute the replica count: {inner}")  # fmt: skip
    assert env.events("FailedGetResourceMetric") == [inner]
    assert env.events("FailedComputeMetricsReplicas") == [
        f"invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric value: {inner}"
    ]
    assert env.get_hpa()["status"]["currentReplicas"] == 2
    assert env.replicas() == 2


def test_no_metrics_client_at_all(env: Env) -> None:
    env.client.metrics = None
    env.deployment(replicas=2)
    env.run(60)
    env.hpa()  # defaulted: cpu 80%
    env.run(16)
    status, reason, message = env.condition("ScalingActive")
    assert (status, reason) == ("False", "FailedGetResourceMetric")
    assert message.endswith(
        "unable to get metrics for resource cpu: no metrics returned from resource metrics API"
    )


def test_invalid_metric_blocks_scale_down_but_not_scale_up(env: Env) -> None:
    env.deployment(replicas=4, cpu="100m")
    env.run(120)
    env.metrics.cpu_per_pod = 10
    cpu = {
        "type": "Resource",
        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}},
    }
    qps = {
        "type": "Pods",
        "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "10"}},
    }
    env.hpa(metrics=[cpu, qps], behavior={"scaleDown": {"stabilizationWindowSeconds": 0}})
    env.run(16)
    assert env.replicas() == 4
    assert env.condition("ScalingActive")[:2] == ("False", "FailedGetPodsMetric")
    assert env.events("FailedComputeMetricsReplicas")[0].startswith("invalid metrics (1 invalid out of 2)")
    env.metrics.cpu_per_pod = 100  # 100% vs 50%: scale up despite the invalid metric
    env.run(15)
    assert env.replicas() == 8
    assert env.condition("ScalingActive")[:2] == ("True", "ValidMetricFound")


def test_max_over_metrics_with_pods_object_external(env: Env) -> None:
    env.deployment(replicas=2, cpu="100m")
    env.run(120)
    env.metrics.cpu_per_pod = 50  # 50%: no change from cpu
    env.metrics.pod_metric["qps"] = 30000  # 30 per pod vs 10: 6
    env.metrics.object_metric["requests"] = 20000  # 20 vs 5 on 2 ready pods: 8
    env.metrics.external["queue"] = [5000, 4000]  # 9 vs 1 per pod: 9 (largest)
    metrics = [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}},
        {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "10"}}},
        {"type": "Object", "object": {"describedObject": {"apiVersion": "v1", "kind": "Service", "name": "web"},
                                      "metric": {"name": "requests"}, "target": {"type": "Value", "value": "5"}}},
        {"type": "External", "external": {"metric": {"name": "queue", "selector": {"matchLabels": {"q": "work"}}},
                                          "target": {"type": "AverageValue", "averageValue": "1"}}},
    ]  # fmt: skip
    env.hpa(
        hi=20,
        metrics=metrics,
        behavior={"scaleUp": {"policies": [{"type": "Pods", "value": 100, "periodSeconds": 15}]}},
    )
    env.run(16)
    assert env.replicas() == 9
    sel = "&LabelSelector{MatchLabels:map[string]string{q: work,},MatchExpressions:[]LabelSelectorRequirement{},}"
    assert env.events("SuccessfulRescale") == [
        f"New size: 9; reason: external metric queue({sel}) above target"
    ]
    current = env.get_hpa()["status"]["currentMetrics"]
    assert current[0]["resource"]["current"] == {"averageUtilization": 50, "averageValue": "50m"}
    assert current[1] == {
        "type": "Pods",
        "pods": {"metric": {"name": "qps"}, "current": {"averageValue": "30"}},
    }
    assert current[2]["object"]["current"] == {"value": "20"}
    assert current[3]["external"]["current"] == {"averageValue": "4500m"}


def test_scaling_disabled_at_zero_replicas(env: Env) -> None:
    env.deployment(replicas=0)
    env.hpa()
    env.run(16)
    assert env.condition("ScalingActive") == (
        "False",
        "ScalingDisabled",
        "scaling is disabled since the replica count of the target is zero",
    )
    assert env.replicas() == 0


def test_below_min_replicas(env: Env) -> None:
    env.deployment(replicas=1)
    env.hpa(lo=3)
    env.run(16)
    assert env.replicas() == 3
    assert env.events("SuccessfulRescale") == [
        "New size: 3; reason: Current number of replicas below Spec.MinReplicas"
    ]


def test_missing_target(env: Env) -> None:
    env.hpa(name="ghost")
    env.run(16)
    msg = 'deployments.apps "ghost" not found'
    assert env.condition("AbleToScale", "ghost") == (
        "False",
        "FailedGetScale",
        f"the HPA controller was unable to get the target's current scale: {msg}",
    )
    assert env.events("FailedGetScale") == [msg]


def test_autoscaling_v1_converts_target_cpu(env: Env) -> None:
    env.client.create({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
                       "metadata": {"name": "v1", "namespace": "default"},
                       "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                                "maxReplicas": 5, "targetCPUUtilizationPercentage": 65}})  # fmt: skip
    stored = env.client.get(HPA, "v1", "default")
    assert stored["apiVersion"] == "autoscaling/v2"
    assert stored["spec"]["metrics"] == [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": 65}}}]  # fmt: skip
    assert "targetCPUUtilizationPercentage" not in stored["spec"]


def test_requests_metrics_client_reports_requests(env: Env) -> None:
    env.client.metrics = RequestsMetricsClient(env.cluster.informers.get("pods"), env.cluster.loop)
    env.deployment(replicas=2, cpu="300m")
    env.run(120)
    env.hpa(metrics=[{"type": "Resource", "resource": {"name": "cpu",
                                                       "target": {"type": "Utilization", "averageUtilization": 50}}}])  # fmt: skip
    env.run(16)
    assert env.get_hpa()["status"]["currentMetrics"][0]["resource"]["current"] == {
        "averageUtilization": 100,
        "averageValue": "300m",
    }
    assert env.replicas() == 4


def test_ambiguous_selector(env: Env) -> None:
    env.deployment(replicas=2)
    env.run(60)
    env.metrics.cpu_per_pod = 100
    env.hpa()
    env.client.create({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                       "metadata": {"name": "other", "namespace": "default"},
                       "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                                "maxReplicas": 5}})  # fmt: skip
    env.run(31)
    reasons = {env.condition("ScalingActive", n)[1] for n in ("web", "other")}
    assert "AmbiguousSelector" in reasons


def test_kept_target_pods_follow_the_informer(env: Env) -> None:
    """The HPA's kept rows of each target selector hold exactly the pods the informer selects
    through relabels (a pod moving from one target to another), deletions and scaling; a deleted
    HPA's rows are no longer kept."""
    env.metrics.cpu_per_pod = 100
    env.deployment("web", replicas=3)
    env.deployment("api", replicas=2)
    env.hpa("web")
    env.hpa("api")
    ctrl = next(c for c in env.cluster.components if isinstance(c, HPAController))

    def check(hpas: tuple[str, ...] = ("default/web", "default/api")) -> None:
        assert set(ctrl.targets) == set(hpas)
        for rows in ctrl.targets.values():
            selected = select_pods(ctrl.pods, rows.namespace, rows.selector)
            assert set(rows.names()) == {p["metadata"]["name"] for p in selected}
            assert int(rows.alive[: rows.size].sum()) == len(rows)
            assert rows.ready_count() == sum(1 for p in selected if hc.running_and_ready(p))

    env.run(60)
    check()
    moved = env.client.list("pods", "default", label_selector="app=web")[0]["metadata"]["name"]
    env.client.patch("pods", moved, {"metadata": {"labels": {"app": "api"}}}, namespace="default")
    env.run(1)
    check()
    assert moved in ctrl.targets["default/api"].names()
    gone = env.client.list("pods", "default", label_selector="app=api")[0]["metadata"]["name"]
    env.client.delete("pods", gone, "default")
    env.run(45)
    check()
    env.client.delete(HPA, "api", "default")
    env.run(16)
    check(("default/web",))
    assert all("app=api" not in sel for sets in ctrl._pod_sets.values() for sel in sets)


def test_spec_memos_follow_new_objects(env: Env) -> None:
    """What a sync derives from an HPA's spec is kept per spec object: a new object (an updated
    HPA) or changed controller settings give the new result, never the kept one."""
    from kubetwin.controllers.hpa import _go_selector, _metric_selector

    first = {"selector": {"matchLabels": {"queue": "a"}}}
    assert _metric_selector(first).matches({"queue": "a"})
    assert _metric_selector(first) is _metric_selector(first)  # kept
    assert "queue: a," in _go_selector(first["selector"])
    second = {"selector": {"matchLabels": {"queue": "b"}}}
    assert _metric_selector(second).matches({"queue": "b"})
    assert not _metric_selector(second).matches({"queue": "a"})
    assert "queue: b," in _go_selector(second["selector"])
    with pytest.raises(ValueError):  # an error is raised at every call, not kept
        _metric_selector({"selector": {"matchExpressions": [{"key": "k", "operator": "Bogus"}]}})

    ctrl = next(c for c in env.cluster.components if isinstance(c, HPAController))
    spec: Obj = {"behavior": {"scaleDown": {"tolerance": "0.05"}}}
    hpa = {"metadata": {"name": "x"}, "spec": spec}
    config = ctrl._config(hpa)
    assert config.tolerances.down == 0.05 and ctrl._config({**hpa}) is config  # kept per spec object
    updated = {"metadata": {"name": "x"}, "spec": {"behavior": {"scaleDown": {"tolerance": "0.2"}}}}
    assert ctrl._config(updated).tolerances.down == 0.2
    old = ctrl.cpu_initialization_period
    try:
        ctrl.cpu_initialization_period = old + 1
        assert ctrl._config(hpa).cpu_initialization_period == old + 1
    finally:
        ctrl.cpu_initialization_period = old


def test_a_sync_never_changes_the_cached_hpa(env: Env) -> None:
    """A sync works on a copy of the cached status (its conditions copied, the rest shared): the
    cached HPA, whose status is the original the sync compares with, stays as it was."""
    from kubetwin.controllers.hpa import _status_copy
    from kubetwin.store.copy import deep_copy

    status = {"currentMetrics": [{"type": "Pods"}], "conditions": [{"type": "AbleToScale", "status": "True"}]}
    copied = _status_copy(status)
    assert copied == status and copied["conditions"][0] is not status["conditions"][0]
    assert _status_copy(None) == {} and _status_copy({"currentReplicas": 1}) == {"currentReplicas": 1}

    env.deployment(replicas=2, cpu="200m")
    env.run(120)
    env.metrics.cpu_per_pod = 200
    env.hpa(metrics=[{"type": "Resource", "resource": {"name": "cpu",
                                                       "target": {"type": "Utilization", "averageUtilization": 50}}}])  # fmt: skip
    env.run(16)
    ctrl = next(c for c in env.cluster.components if isinstance(c, HPAController))
    cached = ctrl.hpas.get_by_key("default/web")
    assert cached is not None and cached["status"]["conditions"]
    kept = deep_copy(cached)
    env.metrics.cpu_per_pod = None  # no metrics: the next sync flips ScalingActive in its copy
    ctrl.reconcile("default/web")
    assert cached == kept
    assert env.condition("ScalingActive")[0] == "False"
