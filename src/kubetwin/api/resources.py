"""Pod resource math and small object predicates.

- Effective requests/limits: k8s.io/component-helpers/resource/helpers.go (PodRequests,
  PodLimits, AggregateContainerRequests/Limits; sidecar-aware per KEP-753, pod-level resources).
- Non-zero requests for scoring: pkg/scheduler/util/pod_resources.go.
- QoS: pkg/apis/core/helper/qos/qos.go ComputePodQOS (incl. pod-level resources).
- Taints: k8s.io/api/core/v1/toleration.go ToleratesTaint, component-helpers/scheduling/corev1
  FindMatchingUntoleratedTaint.

Resource lists are converted to ``dict[str, int]``: ``cpu`` in millicores (MilliValue), every
other resource via Value() (bytes for memory/ephemeral-storage, counts otherwise), both rounded up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kubetwin.api.quantity import cpu_milli, to_int

DEFAULT_MILLI_CPU_REQUEST = 100  # 0.1 core
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024  # 200 MB

CPU = "cpu"
MEMORY = "memory"
_QOS_RESOURCES = (CPU, MEMORY)
_POD_LEVEL_RESOURCES = (CPU, MEMORY)

GUARANTEED = "Guaranteed"
BURSTABLE = "Burstable"
BEST_EFFORT = "BestEffort"

Obj = Mapping[str, Any]
Resources = dict[str, int]


def resource_list(rl: Mapping[str, Any] | None) -> Resources:
    """ResourceList of quantity strings -> ints (cpu millicores, others Value()). Raises ValueError."""
    if not rl:
        return {}
    return {name: cpu_milli(q) if name == CPU else to_int(q) for name, q in rl.items()}


def _add(into: Resources, rl: Mapping[str, int]) -> None:
    for k, v in rl.items():
        into[k] = into.get(k, 0) + v


def _max(into: Resources, rl: Mapping[str, int]) -> None:
    for k, v in rl.items():
        if k not in into or v > into[k]:
            into[k] = v


def _spec(pod: Obj) -> Obj:
    spec = pod.get("spec")
    return spec if type(spec) is dict or isinstance(spec, Mapping) else {}  # dicts: no ABC check


def _container_list(container: Obj, field: str) -> Resources:
    res = container.get("resources") or {}
    return resource_list(res.get(field))


def _is_sidecar(container: Obj) -> bool:
    return container.get("restartPolicy") == "Always"


def _aggregate(pod: Obj, field: str, non_missing: Mapping[str, int] | None = None) -> Resources:
    """AggregateContainerRequests/Limits: sum of containers vs. the largest init container use."""
    spec = _spec(pod)
    total: Resources = {}
    for c in spec.get("containers") or []:
        _add(total, _with_defaults(_container_list(c, field), non_missing))
    restartable: Resources = {}
    init_max: Resources = {}
    for c in spec.get("initContainers") or []:
        own = _with_defaults(_container_list(c, field), non_missing)
        if _is_sidecar(c):
            _add(total, own)
            _add(restartable, own)
            use = dict(restartable)
        else:
            use = dict(own)
            _add(use, restartable)
        _max(init_max, use)
    _max(total, init_max)
    return total


def _with_defaults(rl: Resources, non_missing: Mapping[str, int] | None) -> Resources:
    if not non_missing:
        return rl
    out = dict(rl)
    for k, v in non_missing.items():
        if k not in rl:
            out[k] = v
    return out


def _pod_level(pod: Obj, field: str) -> Resources:
    res = _spec(pod).get("resources")
    if not isinstance(res, Mapping):
        return {}
    rl = resource_list(res.get(field))
    return {k: v for k, v in rl.items() if k in _POD_LEVEL_RESOURCES}


def is_pod_level_requests_set(pod: Obj) -> bool:
    res = _spec(pod).get("resources")
    if not isinstance(res, Mapping):
        return False
    if res.get("requests"):
        return True
    return any(k in _POD_LEVEL_RESOURCES for k in res.get("limits") or {})


def _requests(pod: Obj, non_missing: Mapping[str, int] | None = None, overhead: bool = True) -> Resources:
    reqs = _aggregate(pod, "requests", non_missing)
    if is_pod_level_requests_set(pod):
        reqs.update(_pod_level(pod, "requests"))
    if overhead:
        _add(reqs, resource_list(_spec(pod).get("overhead")))
    return reqs


# -- per-pod memo ---------------------------------------------------------------------------------
# pod_requests / pod_nonzero_requests / qos_class depend on the pod's spec only, so the result is
# remembered per (function, uid) together with the spec it came from; a hit requires that same spec
# (the very object: stored pods share their spec across status writes), one whose containers,
# initContainers, resources and overhead are the very objects (a bound version), or an equal one,
# so any change of what is read, in a new version or in a modified copy, is computed again. Pods
# not stored (no uid or resourceVersion: being created, test builders) are never cached. A caller
# that holds the figures of an equal spec (the scheduler's, for pods of one template) may seed the
# memo (remember_requests). Bounded: cleared when it grows past _MEMO_MAX.
_MEMO_MAX = 100_000
_memo: dict[tuple[str, str], tuple[Any, Any]] = {}


def _memo_key(pod: Obj, fn: str) -> tuple[str, str] | None:
    meta = pod.get("metadata")
    if type(meta) is not dict and not isinstance(meta, Mapping):  # dicts: no ABC check
        return None
    uid = meta.get("uid")
    if not uid or not meta.get("resourceVersion"):
        return None
    return (fn, uid)


# what the memoised functions read of a spec: a spec whose entries here are the very objects of the
# remembered spec's (a binding's copy, which replaces nodeName only) gives the same results
_READ_FIELDS = ("containers", "initContainers", "resources", "overhead")


def _same_read_parts(old: Any, spec: Any) -> bool:
    if type(old) is not dict or type(spec) is not dict:
        return False
    return all(old.get(f) is spec.get(f) for f in _READ_FIELDS)


def _memo_get(key: tuple[str, str], spec: Any) -> Any:
    hit = _memo.get(key)
    if hit is None:
        return None
    old = hit[0]
    if old is spec:
        return hit[1]
    if _same_read_parts(old, spec) or old == spec:
        _memo[key] = (spec, hit[1])  # the next lookup of this version hits by identity
        return hit[1]
    return None


def _memo_put(key: tuple[str, str], spec: Any, value: Any) -> None:
    if len(_memo) >= _MEMO_MAX:
        _memo.clear()
    _memo[key] = (spec, value)


def pod_requests(pod: Obj, *, exclude_overhead: bool = False) -> Resources:
    """Effective pod requests (PodRequests): max(containers + sidecars, init use), pod-level, + overhead.

    Returns a fresh dict each call (callers may modify it)."""
    key = _memo_key(pod, "requests-no-overhead" if exclude_overhead else "requests")
    if key is None:
        return _requests(pod, overhead=not exclude_overhead)
    spec = pod.get("spec")
    hit = _memo_get(key, spec)
    if hit is None:
        hit = _requests(pod, overhead=not exclude_overhead)
        _memo_put(key, spec, hit)
    return dict(hit)


def pod_limits(pod: Obj, *, exclude_overhead: bool = False) -> Resources:
    """PodLimits; overhead is added only to resources that have a limit."""
    limits = _aggregate(pod, "limits")
    limits.update(_pod_level(pod, "limits"))
    if not exclude_overhead:
        for k, v in resource_list(_spec(pod).get("overhead")).items():
            if k in limits:
                limits[k] += v
    return limits


def remember_requests(pod: Obj, requests: Resources, nonzero: tuple[int, int]) -> None:
    """Seed the memo of a stored pod with its pod_requests and pod_nonzero_requests, as computed
    for a spec whose containers, initContainers, resources and overhead equal this one's (read-only
    from here: pod_requests hands out copies). A pod already remembered is left alone."""
    spec = pod.get("spec")
    for fn, value in (("requests", requests), ("nonzero", nonzero)):
        key = _memo_key(pod, fn)
        if key is None:
            return
        if key not in _memo:
            _memo_put(key, spec, value)


def pod_nonzero_requests(pod: Obj) -> tuple[int, int]:
    """(milliCPU, memory bytes) with 100m / 200Mi for each container that sets no request."""
    key = _memo_key(pod, "nonzero")
    spec = pod.get("spec")
    if key is not None:
        hit = _memo_get(key, spec)
        if hit is not None:
            return hit
    reqs = _requests(pod, {CPU: DEFAULT_MILLI_CPU_REQUEST, MEMORY: DEFAULT_MEMORY_REQUEST})
    out = reqs.get(CPU, 0), reqs.get(MEMORY, 0)
    if key is not None:
        _memo_put(key, spec, out)
    return out


# -- QoS ---------------------------------------------------------------------------------------
def _positive_qos(rl: Mapping[str, Any] | None) -> Resources:
    """cpu/memory entries with a strictly positive quantity (compared exactly, in milli units)."""
    out: Resources = {}
    for name, q in (rl or {}).items():
        if name in _QOS_RESOURCES:
            v = cpu_milli(q)  # milli units for both, so comparisons stay exact
            if v > 0:
                out[name] = v
    return out


def pod_qos(pod: Obj) -> str:
    """qos.GetPodQOS (pkg/apis/core/helper/qos): the class persisted in status.qosClass (the
    apiserver sets it at creation and it never changes), computed only when absent."""
    return (pod.get("status") or {}).get("qosClass") or qos_class(pod)


def qos_class(pod: Obj) -> str:
    """ComputePodQOS: Guaranteed, Burstable or BestEffort (pod-level resources take precedence)."""
    key = _memo_key(pod, "qos")
    if key is None:
        return _qos_class(pod)
    spec = pod.get("spec")
    hit = _memo_get(key, spec)
    if hit is None:
        hit = _qos_class(pod)
        _memo_put(key, spec, hit)
    return hit


def _qos_class(pod: Obj) -> str:
    requests: Resources = {}
    limits: Resources = {}
    guaranteed = True
    spec = _spec(pod)
    pod_res = spec.get("resources")
    if isinstance(pod_res, Mapping) and pod_res:
        _add(requests, _positive_qos(pod_res.get("requests")))
        if pod_res.get("limits"):
            _add(limits, _positive_qos(pod_res.get("limits")))
            found = {k for k in (pod_res.get("limits") or {}) if k in _QOS_RESOURCES}
            if not set(_QOS_RESOURCES) <= found:
                guaranteed = False
        else:
            guaranteed = False
    else:
        for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
            res = c.get("resources") or {}
            _add(requests, _positive_qos(res.get("requests")))
            c_limits = _positive_qos(res.get("limits"))
            _add(limits, c_limits)
            if not set(_QOS_RESOURCES) <= set(c_limits):
                guaranteed = False
    if not requests and not limits:
        return BEST_EFFORT
    if guaranteed and all(limits.get(k) == v for k, v in requests.items()) and len(requests) == len(limits):
        return GUARANTEED
    return BURSTABLE


# -- predicates --------------------------------------------------------------------------------
def pod_priority(pod: Obj) -> int:
    p = _spec(pod).get("priority")
    return p if isinstance(p, int) and not isinstance(p, bool) else 0


def _status(obj: Obj) -> Obj:
    st = obj.get("status")
    return st if type(st) is dict or isinstance(st, Mapping) else {}  # dicts: no ABC check


def is_pod_terminal(pod: Obj) -> bool:
    return _status(pod).get("phase") in ("Succeeded", "Failed")


def _condition(obj: Obj, type_: str) -> dict[str, Any] | None:
    for c in _status(obj).get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == type_:
            return c
    return None


def pod_condition(pod: Obj, type_: str) -> dict[str, Any] | None:
    return _condition(pod, type_)


def node_condition(node: Obj, type_: str) -> dict[str, Any] | None:
    return _condition(node, type_)


def is_pod_ready(pod: Obj) -> bool:
    c = _condition(pod, "Ready")
    return c is not None and c.get("status") == "True"


def is_node_ready(node: Obj) -> bool:
    c = _condition(node, "Ready")
    return c is not None and c.get("status") == "True"


def controller_ref(obj: Obj) -> dict[str, Any] | None:
    """metav1.GetControllerOf: the ownerReference with ``controller: true``."""
    meta = obj.get("metadata") or {}
    for ref in meta.get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller") is True:
            return ref
    return None


# -- taints and tolerations --------------------------------------------------------------------
def toleration_tolerates_taint(toleration: Obj, taint: Obj) -> bool:
    """Toleration.ToleratesTaint: effect (if set) and key (if set) must match; Exists or equal value."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return op == "Exists"


def tolerates(tolerations: Iterable[Obj] | None, taint: Obj) -> bool:
    """TolerationsTolerateTaint: any toleration tolerates the taint."""
    return any(toleration_tolerates_taint(t, taint) for t in tolerations or [])


def find_untolerated_taint(
    taints: Iterable[Obj] | None,
    tolerations: Iterable[Obj] | None,
    effects: Iterable[str] = ("NoSchedule", "NoExecute"),
) -> dict[str, Any] | None:
    """FindMatchingUntoleratedTaint over the taints whose effect is in ``effects``."""
    wanted = set(effects)
    tols = list(tolerations or [])
    for taint in taints or []:
        if taint.get("effect") in wanted and not tolerates(tols, taint):
            return dict(taint)
    return None
