"""custom.metrics.k8s.io (v1beta2, v1beta1) and external.metrics.k8s.io (v1beta1), served from the
metrics pipeline (``cluster.metrics_pipeline``), as a metrics adapter such as prometheus-adapter
serves them through the aggregation layer (kubernetes-sigs/custom-metrics-apiserver
pkg/apiserver/installer and pkg/registry/{custom,external}_metrics).

- ``GET /apis/custom.metrics.k8s.io/v1beta2`` lists every metric twice per resource, as adapters
  do (``pods/<metric>``, ``services/<metric>``, ``deployments.apps/<metric>``,
  ``ingresses.networking.k8s.io/<metric>``), kind ``MetricValueList``.
- ``GET .../namespaces/NS/pods/*/METRIC?labelSelector=&metricLabelSelector=``: a MetricValueList,
  one item per scraped pod; ``.../namespaces/NS/<resource>/NAME/METRIC``: one item describing the
  object (the pipeline's object metric: the sum over the object's pods).
- ``GET /apis/external.metrics.k8s.io/v1beta1/namespaces/NS/METRIC?labelSelector=``: an
  ExternalMetricValueList, one item per matching ExternalMetricSeries (an empty list when none).

Values are Kubernetes quantities (milli precision), timestamps the last scrape, windows the
pipeline's resolution. The same pipeline answers metrics.k8s.io (:func:`install` swaps the
server's usage-provider seam to it), so ``kubectl top``, ``kubectl get --raw`` and the HPA agree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from kubetwin.api import errors
from kubetwin.api.quantity import format_cpu_milli
from kubetwin.api.selectors import (
    DOES_NOT_EXIST,
    DOUBLE_EQUALS,
    EQUALS,
    EXISTS,
    IN,
    NOT_EQUALS,
    NOT_IN,
    LabelSelector,
    parse_label_selector,
)
from kubetwin.metrics.pipeline import RESOURCE_KINDS, MetricsPipeline
from kubetwin.server import discovery, http
from kubetwin.server import metrics as resource_metrics

if TYPE_CHECKING:
    from kubetwin.server.app import ServerState

CUSTOM = "custom.metrics.k8s.io"
EXTERNAL = "external.metrics.k8s.io"
VERSIONS: dict[str, tuple[str, ...]] = {CUSTOM: ("v1beta2", "v1beta1"), EXTERNAL: ("v1beta1",)}
GROUPS = tuple(VERSIONS)
#: resource listed in discovery -> (kind, apiVersion of describedObject)
DESCRIBED = {
    "pods": ("Pod", "/v1"),
    "services": ("Service", "/v1"),
    "deployments.apps": ("Deployment", "apps/v1"),
    "ingresses.networking.k8s.io": ("Ingress", "networking.k8s.io/v1"),
}
_API_VERSIONS = {
    "Pod": "/v1",
    "Service": "/v1",
    "Deployment": "apps/v1",
    "ReplicaSet": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "Ingress": "networking.k8s.io/v1",
}


def pipeline_of(state: ServerState) -> MetricsPipeline | None:
    p = getattr(state.cluster, "metrics_pipeline", None)
    return p if isinstance(p, MetricsPipeline) else None


# -- metrics.k8s.io through the pipeline ---------------------------------------------------------
def install(state: ServerState) -> None:
    """Point metrics.k8s.io's usage-provider seam at the pipeline (scraped window values); a pod or
    node not scraped yet keeps the previous provider's answer."""
    pipeline = pipeline_of(state)
    if pipeline is None:
        return
    pods_before = state.usage_provider
    nodes_before = state.node_usage

    def pod_usage(pod: dict[str, Any]) -> list[resource_metrics.ContainerUsage]:
        used = pipeline.container_usage(pod)
        if used is None:
            return pods_before(pod)
        return [resource_metrics.ContainerUsage(name, cpu, mem) for name, (cpu, mem) in used.items()]

    def node_usage(name: str) -> tuple[int, int] | None:
        used = pipeline.node_usage(name)
        if used is None and nodes_before is not None:
            return nodes_before(name)
        return used

    state.usage_provider = pod_usage
    state.node_usage = node_usage


# -- discovery ----------------------------------------------------------------------------------
def _group_entry(group: str) -> dict[str, Any]:
    versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in VERSIONS[group]]
    return {"name": group, "versions": versions, "preferredVersion": versions[0]}


def apis_response(request: web.Request) -> web.Response:
    """``GET /apis`` (legacy APIGroupList or aggregated discovery) with the metrics groups added."""
    v = discovery.negotiate(request.headers.get("Accept", ""))
    if v is not None:
        doc = discovery.aggregated(v, False)
        for g in GROUPS:
            doc["items"].append({
                "metadata": {"name": g, "creationTimestamp": None},
                "versions": [{"version": ver, "resources": [], "freshness": "Current"} for ver in VERSIONS[g]],
            })  # fmt: skip
        return http.json_response(doc, content_type=discovery.AGGREGATED_CT.format(v=v))
    doc = discovery.api_group_list()
    doc["groups"] += [_group_entry(g) for g in GROUPS]
    return http.json_response(doc)


def _resource_list(pipeline: MetricsPipeline | None, group: str, version: str) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    if pipeline is not None and group == CUSTOM:
        for name in pipeline.custom_metric_names():
            for res in DESCRIBED:
                items.append({"name": f"{res}/{name}", "singularName": "", "namespaced": True,
                              "kind": "MetricValueList", "verbs": ["get"]})  # fmt: skip
    elif pipeline is not None:
        for name in pipeline.external_metric_names():
            items.append({"name": name, "singularName": "", "namespaced": True,
                          "kind": "ExternalMetricValueList", "verbs": ["get"]})  # fmt: skip
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}",
        "resources": items,
    }


# -- values -------------------------------------------------------------------------------------
def selector_dict(sel: LabelSelector) -> dict[str, Any]:
    """metav1.LabelSelector for a parsed selector (equality -> matchLabels)."""
    labels: dict[str, str] = {}
    exprs: list[dict[str, Any]] = []
    ops = {IN: "In", NOT_IN: "NotIn", EXISTS: "Exists", DOES_NOT_EXIST: "DoesNotExist"}
    for r in sel.requirements:
        if r.operator in (EQUALS, DOUBLE_EQUALS) or (r.operator == IN and len(r.values) == 1):
            labels[r.key] = sorted(r.values)[0]
        elif r.operator == NOT_EQUALS:
            exprs.append({"key": r.key, "operator": "NotIn", "values": sorted(r.values)})
        else:
            e: dict[str, Any] = {"key": r.key, "operator": ops.get(r.operator, r.operator)}
            if r.values:
                e["values"] = sorted(r.values)
            exprs.append(e)
    out: dict[str, Any] = {}
    if labels:
        out["matchLabels"] = labels
    if exprs:
        out["matchExpressions"] = exprs
    return out


def _selector(request: web.Request, key: str) -> tuple[LabelSelector, str]:
    text = request.query.get(key) or ""
    try:
        return parse_label_selector(text), text
    except ValueError as e:
        raise errors.bad_request(f"unable to parse {key}: {e}") from None


def _item(
    version: str,
    described: dict[str, Any],
    metric: str,
    msel: LabelSelector,
    ts: str,
    window: float,
    value: int,
) -> dict[str, Any]:
    if version == "v1beta1":
        item: dict[str, Any] = {"describedObject": described, "metricName": metric, "timestamp": ts,
                                "windowSeconds": int(window), "value": format_cpu_milli(value)}  # fmt: skip
        if not msel.empty:
            item["selector"] = selector_dict(msel)
        return item
    ident: dict[str, Any] = {"name": metric}
    if not msel.empty:
        ident["selector"] = selector_dict(msel)
    return {"describedObject": described, "metric": ident, "timestamp": ts, "windowSeconds": int(window),
            "value": format_cpu_milli(value)}  # fmt: skip


def _not_found(metric: str, resource: str, name: str | None, selector: str = "") -> errors.ApiError:
    gr = resource.split(".", 1)
    what = f"{gr[0]}.{gr[1]}" if len(gr) == 2 else resource
    if name is None or name == "*":
        msg = f"the server could not find the metric {metric} for {what}"
        if selector:
            msg += f" with selector {selector}"
    else:
        msg = f"the server could not find the metric {metric} for {what} {name}"
    return errors.ApiError(404, "NotFound", msg, details={"name": metric, "group": CUSTOM, "kind": resource})


def custom(
    pipeline: MetricsPipeline,
    request: web.Request,
    version: str,
    segs: list[str],
    timestamp: Callable[[float], str],
) -> dict[str, Any]:
    """``namespaces/NS/RESOURCE/NAME|*/METRIC`` -> MetricValueList."""
    if len(segs) != 5 or segs[0] != "namespaces":
        raise http.not_found_path()
    ns, resource, name, metric = segs[1], segs[2], segs[3], segs[4]
    kind = RESOURCE_KINDS.get(resource)
    if kind is None:
        raise _not_found(metric, resource, name)
    sel, sel_text = _selector(request, "labelSelector")
    msel, _ = _selector(request, "metricLabelSelector")
    ts = timestamp(pipeline.timestamp or 0.0)
    window = pipeline.window
    api_version = _API_VERSIONS[kind]
    items = []
    if kind == "Pod" and name == "*":
        for v in pipeline.pod_values(metric, ns, sel, msel):
            meta = v.pod["metadata"]
            described = {"kind": "Pod", "namespace": ns, "name": meta["name"], "apiVersion": api_version}
            items.append(_item(version, described, metric, msel, ts, window, v.value))
        if not items:
            raise _not_found(metric, resource, None, sel_text)
    elif name == "*":
        raise _not_found(metric, resource, None, sel_text)  # list only for pods
    else:
        value = pipeline.object_value(metric, ns, kind, name, msel)
        if value is None:
            raise _not_found(metric, resource, name)
        described = {"kind": kind, "namespace": ns, "name": name, "apiVersion": api_version}
        items.append(_item(version, described, metric, msel, ts, window, value))
    return {"kind": "MetricValueList", "apiVersion": f"{CUSTOM}/{version}", "metadata": {}, "items": items}


def external(
    pipeline: MetricsPipeline,
    request: web.Request,
    version: str,
    segs: list[str],
    timestamp: Callable[[float], str],
) -> dict[str, Any]:
    """``namespaces/NS/METRIC`` -> ExternalMetricValueList."""
    if len(segs) != 3 or segs[0] != "namespaces":
        raise http.not_found_path()
    ns, metric = segs[1], segs[2]
    sel, _ = _selector(request, "labelSelector")
    ts = timestamp(pipeline.timestamp or 0.0)
    items = [
        {
            "metricName": metric,
            "metricLabels": dict((obj.get("spec") or {}).get("labels") or {}),
            "timestamp": ts,
            "value": format_cpu_milli(value),
        }  # fmt: skip
        for obj, value in pipeline.external_values(metric, ns, sel)
    ]
    return {
        "kind": "ExternalMetricValueList",
        "apiVersion": f"{EXTERNAL}/{version}",
        "metadata": {},
        "items": items,
    }


def handle(
    state: ServerState, request: web.Request, group: str, version: str, segs: list[str]
) -> web.Response:
    """Every request under ``/apis/{custom,external}.metrics.k8s.io/VERSION``."""
    if version not in VERSIONS[group]:
        raise http.not_found_path()
    if request.method != "GET":
        raise errors.method_not_allowed(f"{request.method} is not supported on {group}")
    pipeline = pipeline_of(state)
    if not segs:
        return http.json_response(_resource_list(pipeline, group, version))
    if pipeline is None:
        raise errors.ApiError(
            503, "ServiceUnavailable", f"the server is currently unable to handle the request ({group})"
        )
    ts = state.cluster.loop.timestamp
    if group == CUSTOM:
        return http.json_response(custom(pipeline, request, version, segs, ts))
    return http.json_response(external(pipeline, request, version, segs, ts))


def group_response(group: str) -> web.Response:
    """``GET /apis/GROUP`` for a metrics group."""
    return http.json_response(dict(_group_entry(group), kind="APIGroup", apiVersion="v1"))
