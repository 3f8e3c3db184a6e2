"""Small pure helpers the scheduler's hot path needs.

Reproduces:
- k8s.io/component-helpers/resource/helpers.go ``PodRequests`` (sidecar-aware init containers,
  pod-level requests, overhead) and pkg/scheduler/util/pod_resources.go non-zero defaults
  (``DefaultMilliCPURequest`` = 100, ``DefaultMemoryRequest`` = 200 MiB);
- k8s.io/component-helpers/scheduling/corev1/nodeaffinity (node selector requirements,
  ``Gt``/``Lt`` on integer label values, ``matchFields`` on ``metadata.name``);
- k8s.io/apimachinery/pkg/apis/meta/v1 LabelSelectorAsSelector semantics (nil selector matches
  nothing, empty selector matches everything);
- k8s.io/api/core/v1/toleration.go ``ToleratesTaint``.

They are local (not ``kubetwin.api.resources``) because the scheduler caches their results per pod
and calls them millions of times in benchmarks; the semantics are the same.
"""

from __future__ import annotations

from typing import Any

from kubetwin.api.quantity import cpu_milli, to_int

Obj = dict[str, Any]

DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024
CPU = "cpu"
MEMORY = "memory"
EPHEMERAL = "ephemeral-storage"
PODS = "pods"


def quantity_value(name: str, value: Any) -> int:
    return cpu_milli(value) if name == CPU else to_int(value)


def resource_list(rl: dict[str, Any] | None) -> dict[str, int]:
    """A ResourceList as ints: cpu in millicores, everything else Value() (bytes, counts)."""
    if not rl:
        return {}
    return {k: quantity_value(k, v) for k, v in rl.items()}


def _add(into: dict[str, int], other: dict[str, int]) -> None:
    for k, v in other.items():
        into[k] = into.get(k, 0) + v


def _max(into: dict[str, int], other: dict[str, int]) -> None:
    for k, v in other.items():
        if v > into.get(k, 0):
            into[k] = v


def _aggregate(spec: Obj, container_reqs: Any) -> dict[str, int]:
    reqs: dict[str, int] = {}
    for c in spec.get("containers") or []:
        _add(reqs, container_reqs(c))
    restartable: dict[str, int] = {}
    init_max: dict[str, int] = {}
    for c in spec.get("initContainers") or []:
        r = container_reqs(c)
        if c.get("restartPolicy") == "Always":  # sidecar: runs alongside everything after it
            _add(reqs, r)
            _add(restartable, r)
            use = dict(restartable)
        else:
            use = dict(r)
            _add(use, restartable)
        _max(init_max, use)
    _max(reqs, init_max)
    return reqs


def pod_requests(pod: Obj) -> dict[str, int]:
    """Effective pod requests (PodRequests): Σ containers, max with init use, + overhead."""
    spec = pod.get("spec") or {}
    pod_level = (spec.get("resources") or {}).get("requests")
    if pod_level:
        reqs = resource_list(pod_level)
    else:
        reqs = _aggregate(spec, lambda c: resource_list((c.get("resources") or {}).get("requests")))
    if spec.get("overhead"):
        _add(reqs, resource_list(spec["overhead"]))
    return reqs


def _nonzero_container(c: Obj) -> dict[str, int]:
    r = resource_list((c.get("resources") or {}).get("requests"))
    if CPU not in r:
        r[CPU] = DEFAULT_MILLI_CPU_REQUEST
    if MEMORY not in r:
        r[MEMORY] = DEFAULT_MEMORY_REQUEST
    return r


def pod_nonzero_requests(pod: Obj) -> tuple[int, int]:
    """(milliCPU, memory) with upstream's non-zero defaults for containers missing a request."""
    spec = pod.get("spec") or {}
    pod_level = (spec.get("resources") or {}).get("requests")
    if pod_level:
        r = resource_list(pod_level)
        reqs = {CPU: r.get(CPU, DEFAULT_MILLI_CPU_REQUEST), MEMORY: r.get(MEMORY, DEFAULT_MEMORY_REQUEST)}
    else:
        reqs = _aggregate(spec, _nonzero_container)
    if spec.get("overhead"):
        _add(reqs, resource_list(spec["overhead"]))
    return reqs.get(CPU, 0), reqs.get(MEMORY, 0)


def is_best_effort(pod: Obj) -> bool:
    """QoS BestEffort: no container (incl. init) sets any cpu/memory request or limit."""
    spec = pod.get("spec") or {}
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        res = c.get("resources") or {}
        for part in ("requests", "limits"):
            for k, v in (res.get(part) or {}).items():
                if k in (CPU, MEMORY) and quantity_value(k, v) != 0:
                    return False
    return True


def pod_priority(pod: Obj) -> int:
    p = (pod.get("spec") or {}).get("priority")
    return int(p) if p is not None else 0


# -- label selectors --------------------------------------------------------------------------
def _req_matches(req: Obj, labels: dict[str, str]) -> bool:
    key = req.get("key", "")
    op = req.get("operator", "")
    values = req.get("values") or []
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    return False


def selector_matches(selector: Obj | None, labels: dict[str, str] | None) -> bool:
    """metav1.LabelSelector: None matches nothing, {} matches everything."""
    if selector is None:
        return False
    labels = labels or {}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for req in selector.get("matchExpressions") or []:
        if not _req_matches(req, labels):
            return False
    return True


def selector_key(selector: Obj | None) -> tuple[Any, ...] | None:
    """A hashable identity for a LabelSelector (for caches)."""
    if selector is None:
        return None
    ml = tuple(sorted((selector.get("matchLabels") or {}).items()))
    me = tuple(
        (r.get("key", ""), r.get("operator", ""), tuple(r.get("values") or []))
        for r in selector.get("matchExpressions") or []
    )
    return (ml, me)


# -- node selectors (nodeaffinity) ------------------------------------------------------------
def _int_or_none(s: Any) -> int | None:
    try:
        return int(s)
    except (TypeError, ValueError):
        return None


def node_req_matches(req: Obj, labels: dict[str, str]) -> bool:
    op = req.get("operator", "")
    if op in ("Gt", "Lt"):
        key = req.get("key", "")
        values = req.get("values") or []
        if key not in labels or len(values) != 1:
            return False
        have, want = _int_or_none(labels[key]), _int_or_none(values[0])
        if have is None or want is None:
            return False
        return have > want if op == "Gt" else have < want
    return _req_matches(req, labels)


def node_selector_term_matches(term: Obj, node: Obj) -> bool:
    """A NodeSelectorTerm: all matchExpressions (labels) and matchFields (metadata.name) hold.
    A term with neither matches nothing."""
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields:
        return False
    meta = node.get("metadata") or {}
    labels = meta.get("labels") or {}
    for req in exprs:
        if not node_req_matches(req, labels):
            return False
    if fields:
        fl = {"metadata.name": meta.get("name", "")}
        for req in fields:
            if req.get("key") != "metadata.name" or req.get("operator") not in ("In", "NotIn"):
                return False
            if not _req_matches(req, fl):
                return False
    return True


def node_selector_matches(ns: Obj, node: Obj) -> bool:
    """NodeSelector: terms are ORed."""
    return any(node_selector_term_matches(t, node) for t in ns.get("nodeSelectorTerms") or [])


def required_node_affinity_matches(pod: Obj, node: Obj) -> bool:
    """GetRequiredNodeAffinity(pod).Match(node): spec.nodeSelector AND required node affinity."""
    spec = pod.get("spec") or {}
    labels = (node.get("metadata") or {}).get("labels") or {}
    for k, v in (spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    na = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    req = na.get("requiredDuringSchedulingIgnoredDuringExecution")
    if req is not None:
        return node_selector_matches(req, node)
    return True


# -- taints & tolerations ---------------------------------------------------------------------
def tolerates(toleration: Obj, taint: Obj) -> bool:
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Exists":
        return True
    if op == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def find_untolerated_taint(taints: list[Obj], tolerations: list[Obj], effects: tuple[str, ...]) -> Obj | None:
    for taint in taints:
        if taint.get("effect") not in effects:
            continue
        if not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None
