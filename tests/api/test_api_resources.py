from __future__ import annotations

import copy
from typing import Any

import pytest

from builders import make_node, make_pod
from kubetwin.api import resources as res
from kubetwin.api.resources import (
    DEFAULT_MEMORY_REQUEST,
    DEFAULT_MILLI_CPU_REQUEST,
    controller_ref,
    find_untolerated_taint,
    is_node_ready,
    is_pod_ready,
    is_pod_terminal,
    pod_limits,
    pod_nonzero_requests,
    pod_priority,
    pod_requests,
    qos_class,
    resource_list,
    tolerates,
)

Mi = 2**20


def rl(cpu: str = "", memory: str = "") -> dict[str, str] | None:
    """getResourceList(cpu, memory) from qos_test.go: "" = unset."""
    out = {}
    if cpu:
        out["cpu"] = cpu
    if memory:
        out["memory"] = memory
    return out


def pod(*containers: tuple[Any, Any], init: tuple[tuple[Any, Any], ...] = (), pod_level: Any = None) -> dict:
    b = make_pod("p")
    for i, (req, lim) in enumerate(containers):
        b.container(f"c{i}", requests=req, limits=lim)
    for i, (req, lim) in enumerate(init):
        b.init_container(f"i{i}", requests=req, limits=lim)
    if pod_level is not None:
        b.pod_resources(*pod_level)
    return b.obj()


# qos_test.go TestComputePodQOS (numbering from the reference notes)
@pytest.mark.parametrize(
    ("p", "expected"),
    [
        pytest.param(pod((rl("100m", "100Mi"), rl("100m", "100Mi"))), "Guaranteed", id="1-guaranteed"),
        pytest.param(
            pod((rl("100m", "100Mi"), rl("100m", "100Mi")), (rl("100m", "100Mi"), rl("100m", "100Mi"))),
            "Guaranteed",
            id="extra-guaranteed-init-guaranteed",
        ),
        pytest.param(pod((rl(), rl()), (rl(), rl())), "BestEffort", id="3-best-effort-best-effort"),
        pytest.param(pod((rl(), rl())), "BestEffort", id="4-best-effort"),
        pytest.param(
            pod((rl(), rl()), (rl("10m", "100Mi"), rl("10m", "100Mi"))),
            "Burstable",
            id="6-best-effort-guaranteed",
        ),
        pytest.param(
            pod((rl("", "100Mi"), rl("", "100Mi"))), "Burstable", id="7-burstable-cpu-guaranteed-memory"
        ),
        pytest.param(
            pod((rl("", "100Mi"), rl("", "100Mi")), (rl("10m", "100Mi"), rl("10m", "100Mi"))),
            "Burstable",
            id="extra-burstable-no-limits-guaranteed",
        ),
        pytest.param(
            pod((rl("1", "100Mi"), rl("2", "100Mi")), (rl("100m", "100Mi"), rl("100m", "100Mi"))),
            "Burstable",
            id="9-burstable-guaranteed",
        ),
        pytest.param(
            pod((rl("100m", "100Mi"), rl("200m", "200Mi")), (rl("100m", "100Mi"), rl())),
            "Burstable",
            id="10-burstable-unbounded-but-requests-match-limits",
        ),
        pytest.param(
            pod((rl("100m", "100Mi"), rl("100m", "100Mi")), (rl(), rl())),
            "Burstable",
            id="extra-burstable-init-unbounded",
        ),
        pytest.param(pod((rl("0", "0"), rl("100m", "200Mi"))), "Burstable", id="12-burstable-2"),
        pytest.param(
            pod(
                (
                    {"cpu": "0", "memory": "0", "hugepages-2Mi": "1Gi"},
                    {"cpu": "0", "memory": "0", "hugepages-2Mi": "1Gi"},
                )
            ),
            "BestEffort",
            id="13-best-effort-hugepages",
        ),
        pytest.param(
            make_pod("p").init_container("i", rl("100m", "100Mi"), rl("100m", "100Mi")).obj(),
            "Guaranteed",
            id="extra-init-container-only-guaranteed",
        ),
        pytest.param(
            pod((rl(), rl()), pod_level=(rl("10m", "100Mi"), rl("10m", "100Mi"))),
            "Guaranteed",
            id="15-guaranteed-with-pod-level-resources",
        ),
        pytest.param(
            pod((rl("3m", "10Mi"), rl("5m", "20Mi")), pod_level=(rl("10m", "100Mi"), rl("10m", "100Mi"))),
            "Guaranteed",
            id="16-guaranteed-with-pod-and-container-level-resources",
        ),
        pytest.param(
            pod((rl("3m", "10Mi"), rl("5m", "20Mi")), pod_level=(rl("5m", "10Mi"), rl("10m", "100Mi"))),
            "Burstable",
            id="extra-burstable-with-pod-level-resources",
        ),
        pytest.param(
            pod((rl("5m", "10Mi"), rl()), pod_level=(rl("10m", "10Mi"), rl())),
            "Burstable",
            id="18-burstable-with-pod-and-container-level-requests",
        ),
        pytest.param(
            pod((rl(), rl()), pod_level=(rl(), rl("10m", ""))), "Burstable", id="pod-level-only-cpu-limit"
        ),
        pytest.param(
            pod((rl(), rl()), pod_level=(rl("10m", "10Mi"), None)), "Burstable", id="pod-level-no-limits"
        ),
    ],
)
def test_qos_class(p: dict, expected: str) -> None:
    assert qos_class(p) == expected


def test_collect_container_level_resources() -> None:
    """TestCollectContainerLevelResources: sums of positive requests/limits; class Burstable."""
    p = pod(
        (rl("100m", "100Mi"), rl("200m", "200Mi")),
        (rl("300m", "400Mi"), rl("800m", "1000Mi")),
        init=((rl("50m", "50Mi"), rl("100m", "100Mi")),),
    )
    # qos sums every (init) container: requests (450m, 550Mi), limits (1100m, 1300Mi)
    assert qos_class(p) == "Burstable"
    zero = pod((rl("0", "0"), rl("100m", "")))
    assert qos_class(zero) == "Burstable"


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        pytest.param(make_pod("p").obj(), {}, id="no-requests"),
        pytest.param(
            make_pod("p").container(requests={"cpu": "1m", "memory": "1"}).obj(),
            {"cpu": 1, "memory": 1},
            id="one",
        ),
        pytest.param(
            make_pod("p")
            .container(requests={"cpu": "1m", "memory": "1"})
            .init_container(requests={"cpu": "3m", "memory": "1"})
            .obj(),
            {"cpu": 3, "memory": 1},
            id="init-larger",
        ),
        pytest.param(
            make_pod("p")
            .container(requests={"cpu": "1m", "memory": "1"})
            .init_container("i1", requests={"cpu": "3m", "memory": "1"})
            .init_container("i2", requests={"cpu": "2m", "memory": "1"})
            .obj(),
            {"cpu": 3, "memory": 1},
            id="highest-init",
        ),
        pytest.param(
            make_pod("p")
            .container(requests={"cpu": "2", "memory": "1G"})
            .container("c2", requests={"cpu": "1", "memory": "1G"})
            .init_container("i1", requests={"cpu": "2", "memory": "1G"})
            .init_container("i2", requests={"cpu": "2", "memory": "3G"})
            .obj(),
            {"cpu": 3000, "memory": 3 * 10**9},
            id="fit.go-example",
        ),
        pytest.param(
            make_pod("p")
            .container(requests={"cpu": "1m", "memory": "1", "example.com/aaa": "3"})
            .container("c2", requests={"cpu": "1m", "memory": "1", "example.com/aaa": "3"})
            .obj(),
            {"cpu": 2, "memory": 2, "example.com/aaa": 6},
            id="extended-summed",
        ),
        pytest.param(
            make_pod("p")
            .init_container("i1", requests={"cpu": "1m", "memory": "1", "example.com/aaa": "3"})
            .init_container("i2", requests={"cpu": "1m", "memory": "1", "example.com/aaa": "3"})
            .obj(),
            {"cpu": 1, "memory": 1, "example.com/aaa": 3},
            id="extended-init-max",
        ),
        pytest.param(
            make_pod("p")
            .container(requests={"cpu": "1m", "memory": "1"})
            .overhead({"cpu": "3m", "memory": "13"})
            .obj(),
            {"cpu": 4, "memory": 14},
            id="overhead",
        ),
        pytest.param(
            make_pod("p")
            .container(requests={"cpu": "1", "memory": "1Gi"})
            .sidecar("s", requests={"cpu": "500m", "memory": "512Mi"})
            .obj(),
            {"cpu": 1500, "memory": 1536 * Mi},
            id="sidecar-adds",
        ),
        pytest.param(
            make_pod("p")
            .container(requests={"cpu": "100m"})
            .sidecar("s", requests={"cpu": "200m"})
            .init_container("after", requests={"cpu": "1"})
            .obj(),
            {"cpu": 1200},
            id="init-after-sidecar-adds-sidecar",
        ),
        pytest.param(
            make_pod("p")
            .container(requests={"cpu": "100m"})
            .init_container("before", requests={"cpu": "1"})
            .sidecar("s", requests={"cpu": "200m"})
            .obj(),
            {"cpu": 1000},
            id="init-before-sidecar",
        ),
        pytest.param(
            make_pod("p")
            .container(requests={"cpu": "3m", "memory": "10Mi"})
            .pod_resources(rl("10m", "100Mi"))
            .overhead({"cpu": "1m"})
            .obj(),
            {"cpu": 11, "memory": 100 * Mi},
            id="pod-level-requests-plus-overhead",
        ),
    ],
)
def test_pod_requests(p: dict, expected: dict[str, int]) -> None:
    assert pod_requests(p) == expected


def test_pod_limits_overhead_only_where_limited() -> None:
    p = make_pod("p").container(limits={"cpu": "1"}).overhead({"cpu": "100m", "memory": "10Mi"}).obj()
    assert pod_limits(p) == {"cpu": 1100}


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        pytest.param(
            make_pod("p").container().obj(),
            (DEFAULT_MILLI_CPU_REQUEST, DEFAULT_MEMORY_REQUEST),
            id="defaults",
        ),
        pytest.param(
            make_pod("p").container(requests={"cpu": "0", "memory": "0"}).obj(),
            (0, 0),
            id="explicit-zero-kept",
        ),
        pytest.param(
            make_pod("p").container(requests={"cpu": "1"}).obj(),
            (1000, DEFAULT_MEMORY_REQUEST),
            id="memory-default",
        ),
        pytest.param(
            make_pod("p").container("a").container("b", requests={"memory": "1Gi"}).obj(),
            (200, DEFAULT_MEMORY_REQUEST + 2**30),
            id="per-container",
        ),
        pytest.param(make_pod("p").obj(), (0, 0), id="no-containers"),
    ],
)
def test_pod_nonzero_requests(p: dict, expected: tuple[int, int]) -> None:
    assert pod_nonzero_requests(p) == expected


def test_resource_list_units() -> None:
    assert resource_list({"cpu": "1.5", "memory": "1Gi", "pods": "110", "ephemeral-storage": "1k"}) == {
        "cpu": 1500,
        "memory": 2**30,
        "pods": 110,
        "ephemeral-storage": 1000,
    }
    assert resource_list(None) == {}
    with pytest.raises(ValueError):
        resource_list({"cpu": "lots"})


@pytest.mark.parametrize(
    ("toleration", "taint", "expected"),
    [
        pytest.param(
            {"key": "a", "operator": "Equal", "value": "b"},
            {"key": "a", "value": "b", "effect": "NoSchedule"},
            True,
            id="equal",
        ),
        pytest.param(
            {"key": "a", "value": "b"},
            {"key": "a", "value": "c", "effect": "NoSchedule"},
            False,
            id="value-differs",
        ),
        pytest.param(
            {"key": "a", "operator": "Exists"},
            {"key": "a", "value": "c", "effect": "NoSchedule"},
            True,
            id="exists",
        ),
        pytest.param(
            {"operator": "Exists"}, {"key": "x", "effect": "NoExecute"}, True, id="empty-key-exists-all"
        ),
        pytest.param(
            {"key": "a", "operator": "Exists", "effect": "NoExecute"},
            {"key": "a", "effect": "NoSchedule"},
            False,
            id="effect-differs",
        ),
        pytest.param(
            {"key": "a", "operator": "Exists", "effect": ""},
            {"key": "a", "effect": "NoSchedule"},
            True,
            id="empty-effect-all",
        ),
        pytest.param(
            {"key": "b", "operator": "Exists"}, {"key": "a", "effect": "NoSchedule"}, False, id="key-differs"
        ),
        pytest.param(
            {"key": "a", "operator": "Bogus"}, {"key": "a", "effect": "NoSchedule"}, False, id="bad-operator"
        ),
    ],
)
def test_tolerates(toleration: dict, taint: dict, expected: bool) -> None:
    assert tolerates([toleration], taint) is expected


def test_find_untolerated_taint() -> None:
    taints = [
        {"key": "soft", "effect": "PreferNoSchedule"},
        {"key": "ok", "effect": "NoSchedule"},
        {"key": "bad", "value": "x", "effect": "NoExecute"},
    ]
    tols = [{"key": "ok", "operator": "Exists"}]
    assert find_untolerated_taint(taints, tols) == {"key": "bad", "value": "x", "effect": "NoExecute"}
    assert find_untolerated_taint(taints, tols, effects=("NoSchedule",)) is None
    assert find_untolerated_taint(None, None) is None


def test_predicates() -> None:
    p = make_pod("p").priority(7).phase("Running").owner("ReplicaSet", "rs").obj()
    assert pod_priority(p) == 7 and pod_priority(make_pod("q").obj()) == 0
    assert not is_pod_terminal(p) and is_pod_terminal(make_pod("q").phase("Failed").obj())
    assert not is_pod_ready(p)
    p["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    assert is_pod_ready(p)
    ref = controller_ref(p)
    assert ref is not None and ref["kind"] == "ReplicaSet"
    assert controller_ref(make_pod("q").obj()) is None
    assert is_node_ready(make_node("n").ready().obj())
    assert not is_node_ready(make_node("n").ready("Unknown").obj())
    assert not is_node_ready(make_node("n").obj())


# -- per-pod-version memo of pod_requests / pod_nonzero_requests / qos_class -------------------------
def _stored(pod: dict, uid: str = "uid-1", rv: str = "7") -> dict:
    pod["metadata"].update(uid=uid, resourceVersion=rv)
    return pod


def _one_container(cpu: str) -> dict:
    return make_pod("p", "default").container("c", requests={"cpu": cpu, "memory": "64Mi"}).obj()


@pytest.mark.parametrize(
    ("fn", "before", "after"),
    [
        pytest.param(lambda p: res.pod_requests(p)["cpu"], 100, 300, id="pod_requests"),
        pytest.param(lambda p: res.pod_nonzero_requests(p)[0], 100, 300, id="pod_nonzero_requests"),
        pytest.param(lambda p: res.qos_class(p), "Burstable", "Burstable", id="qos_class"),
    ],
)
def test_memo_recomputes_a_modified_copy_at_the_same_resource_version(fn: object, before: object,
                                                                      after: object) -> None:  # fmt: skip
    pod = _stored(_one_container("100m"))
    assert fn(pod) == before  # type: ignore[operator]
    assert fn(pod) == before  # type: ignore[operator]
    changed = copy.deepcopy(pod)
    changed["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "300m"
    assert fn(changed) == after  # type: ignore[operator]
    assert fn(copy.deepcopy(pod)) == before  # type: ignore[operator]


@pytest.mark.parametrize(
    "meta",
    [
        pytest.param({}, id="no-uid-no-resourceVersion"),
        pytest.param({"uid": "u"}, id="no-resourceVersion"),
        pytest.param({"resourceVersion": "3"}, id="no-uid"),
    ],
)
def test_memo_skips_pods_that_are_not_stored(meta: dict) -> None:
    pod = _one_container("100m")
    pod["metadata"].update(meta)
    size = len(res._memo)
    assert res.pod_requests(pod)["cpu"] == 100 and res.qos_class(pod) == "Burstable"
    assert len(res._memo) == size


def test_memo_results_are_safe_to_modify_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    pod = _stored(_one_container("100m"), uid="uid-safe")
    res.pod_requests(pod)["cpu"] = 0
    assert res.pod_requests(pod)["cpu"] == 100
    monkeypatch.setattr(res, "_MEMO_MAX", 3)
    for i in range(10):
        res.pod_requests(_stored(_one_container("100m"), uid=f"uid-bound-{i}"))
        assert len(res._memo) <= 3


def test_memo_follows_the_spec_across_resource_versions() -> None:
    """Kept per pod uid with the spec it came from: a status write (new resourceVersion, same spec
    object) hits; a new version with another spec, even under the same uid, is computed again."""
    pod = _stored(_one_container("100m"), uid="uid-versions")
    assert res.pod_requests(pod)["cpu"] == 100
    status_write = {**pod, "metadata": {**pod["metadata"], "resourceVersion": "99"}, "status": {"phase": "Running"}}
    assert status_write["spec"] is pod["spec"] and res.pod_requests(status_write)["cpu"] == 100
    resized = copy.deepcopy(status_write)
    resized["metadata"]["resourceVersion"] = "100"
    resized["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "250m"
    assert res.pod_requests(resized)["cpu"] == 250 and res.qos_class(resized) == "Burstable"
    assert res.pod_requests(pod)["cpu"] == 100  # the old version again: its own spec


def test_requests_memo_seeded_and_shared_by_a_bound_version(monkeypatch: pytest.MonkeyPatch) -> None:
    """remember_requests seeds a stored pod's memo; its bound version (nodeName set, the spec's
    other parts the same objects) reuses it; a version whose containers changed is computed again."""
    p = make_pod("memo-bind").container(requests={"cpu": "100m", "memory": "1"}).obj()
    p["metadata"].update(uid="memo-bind-uid", resourceVersion="1")
    calls: list[int] = []
    real = res._requests
    monkeypatch.setattr(res, "_requests", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    res.remember_requests(p, {"cpu": 100, "memory": 1}, (100, 1))
    bound = {**p, "spec": {**p["spec"], "nodeName": "n1"}}
    assert res.pod_requests(bound) == {"cpu": 100, "memory": 1}
    assert res.pod_nonzero_requests(bound) == (100, 1)
    assert calls == []
    resized = copy.deepcopy(bound)
    resized["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "200m"
    assert res.pod_requests(resized) == {"cpu": 200, "memory": 1}
    assert res.pod_nonzero_requests(resized) == (200, 1)
    assert calls == [1, 1]
