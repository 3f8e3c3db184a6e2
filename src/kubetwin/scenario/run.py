"""``kubetwin run``: load manifests, apply them at virtual time 0, run the clock, write the outputs.

Outputs in the out directory:
- ``state.yaml``   every object at the end as a ``kind: List``, as the API would return them;
- ``events.jsonl`` the change log (see recorder.py);
- ``report.html``  one self-contained page drawn from the recorder's data;
- ``report.json``  the same data as JSON, for tools and golden tests.
"""

from __future__ import annotations

import copy
import time as _wall
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from kubetwin import __version__
from kubetwin.api import kinds, kubeletconfig, resources
from kubetwin.cloud.nodegroup import ANN_KUBELET_CONFIG
from kubetwin.scenario import loader
from kubetwin.scenario.recorder import Recorder
from kubetwin.scenario.runtime import Cluster, ScenarioSettings


class ScenarioError(Exception):
    """A problem with the user's input; the message is one line."""


@dataclass
class RunResult:
    settings: ScenarioSettings
    out_dir: Path
    report_data: dict[str, Any]
    wall_seconds: float
    files: dict[str, Path] = field(default_factory=dict)


DEFAULT_CLUSTER_AUTOSCALER: dict[str, Any] = {
    "apiVersion": "kubetwin.io/v1alpha1",
    "kind": "ClusterAutoscaler",
    "metadata": {"name": "default"},
    "spec": {},
}


def settings_for(docs: list[loader.Document], duration: str | None, seed: int | None) -> ScenarioSettings:
    scenarios = [d for d in docs if d.kind == "Scenario"]
    if len(scenarios) > 1:
        raise ScenarioError(
            "more than one Scenario object: " + ", ".join(d.where for d in scenarios) + "; keep one"
        )
    try:
        settings = ScenarioSettings.from_object(scenarios[0].obj if scenarios else None)
        if duration is not None:
            from kubetwin.sim import parse_duration

            settings.duration = parse_duration(duration)
    except ValueError as e:
        raise ScenarioError(str(e)) from None
    if seed is not None:
        settings.seed = seed
    if settings.duration <= 0:
        raise ScenarioError("the scenario duration must be positive")
    return settings


def run(
    path: str | Path,
    out_dir: str | Path = "kubetwin-out",
    duration: str | None = None,
    seed: int | None = None,
    progress: Callable[[float, float], None] | None = None,
    cluster_autoscaler: bool = False,
) -> RunResult:
    wall_start = _wall.perf_counter()
    try:
        docs = loader.load(path)
    except loader.ManifestError as e:
        raise ScenarioError(str(e)) from None
    if cluster_autoscaler and not any(d.kind == "ClusterAutoscaler" for d in docs):
        # `kubetwin run --cluster-autoscaler`: the default ClusterAutoscaler (every upstream default)
        docs.append(loader.Document(copy.deepcopy(DEFAULT_CLUSTER_AUTOSCALER), "--cluster-autoscaler", 1))
    settings = settings_for(docs, duration, seed)
    for d in docs:
        try:
            kinds.for_object(d.obj)
        except Exception as e:  # an ApiError naming the unknown kind
            raise ScenarioError(f"{d.where}: {getattr(e, 'message', e)}") from None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "state": out / "state.yaml",
        "events": out / "events.jsonl",
        "report": out / "report.html",
        "data": out / "report.json",
    }
    cluster = Cluster(seed=settings.seed, metrics_resolution=settings.metrics_resolution)
    with open(files["events"], "wb") as log:
        recorder = Recorder(cluster.store, cluster.loop, log)
        cluster.start()
        failures = cluster.apply((d.where, d.obj) for d in docs)
        if failures:
            lines = [f"{f.where}: {f.message}" for f in failures]
            raise ScenarioError(f"{len(failures)} object(s) could not be applied: " + "; ".join(lines))
        for component in cluster.components:  # the KubeletManager's usage engine
            if getattr(component, "usage", None) is not None:
                recorder.attach_usage(component.usage)
        recorder.start_sampling(settings.interval())
        cb = None
        if progress is not None:
            total = settings.duration

            def cb(now: float) -> None:
                progress(now, total)

        cluster.run(settings.duration, cb)
        recorder.sample()
    write_state(cluster, files["state"])
    wall = _wall.perf_counter() - wall_start
    data = build_report_data(cluster, recorder, settings, docs, path, wall)
    files["data"].write_bytes(
        orjson.dumps(_deterministic(data), option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)
    )
    from kubetwin.scenario.report import render_report

    files["report"].write_text(render_report(data), encoding="utf-8")
    cluster.close()
    return RunResult(settings, out, data, wall, files)


def _deterministic(data: dict[str, Any]) -> dict[str, Any]:
    """report.json without wall-clock figures, so same inputs + seed give identical bytes."""
    d = dict(data)
    d["scenario"] = {k: v for k, v in data["scenario"].items() if k != "wall_seconds"}
    return d


def all_objects(cluster: Cluster) -> list[dict[str, Any]]:
    objs: list[dict[str, Any]] = []
    for info in kinds.all_kinds():
        cluster.registry.bring_up_to_date(info.resource)  # e.g. node leases renewed since last read
        objs.extend(cluster.store.iter(info.resource))
    return objs


def write_state(cluster: Cluster, path: Path) -> None:
    items = all_objects(cluster)  # first: bringing leases up to date writes them
    doc = {
        "apiVersion": "v1",
        "kind": "List",
        "metadata": {"resourceVersion": str(cluster.store.resource_version)},
        "items": items,
    }
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    with open(path, "w", encoding="utf-8") as f:
        yaml.dump(
            doc, f, Dumper=dumper, default_flow_style=False, sort_keys=False, allow_unicode=True, width=120
        )


def _node_reserved(node: dict[str, Any], capacity: dict[str, str]) -> dict[str, dict[str, str]]:
    """``kubectl describe node``'s capacity-to-allocatable gap, by cause: kube-reserved,
    system-reserved and the hard eviction threshold, from the node's effective kubelet config
    (annotation ``kubetwin.io/kubelet-config``; kubelet defaults when absent or unreadable)."""
    raw = (node["metadata"].get("annotations") or {}).get(ANN_KUBELET_CONFIG)
    try:
        cfg = kubeletconfig.parse_kubelet_config(orjson.loads(raw) if raw else {})
        return kubeletconfig.reservation(capacity, cfg)
    except (ValueError, TypeError):
        return {"kube-reserved": {}, "system-reserved": {}, "eviction-threshold": {}}


def _node_summary(cluster: Cluster) -> list[dict[str, Any]]:
    requested: dict[str, list[int]] = {}
    for pod in cluster.store.iter("pods"):
        node = (pod.get("spec") or {}).get("nodeName")
        if not node or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        preq = resources.pod_requests(pod)
        acc = requested.setdefault(node, [0, 0, 0])
        acc[0] += preq.get("cpu", 0)
        acc[1] += preq.get("memory", 0)
        acc[2] += 1
    out = []
    for node in cluster.store.iter("nodes"):
        meta = node["metadata"]
        labels = meta.get("labels") or {}
        status = node.get("status") or {}
        alloc = resources.resource_list(status.get("allocatable"))
        req = requested.get(meta["name"], [0, 0, 0])
        capacity = {str(k): str(v) for k, v in (status.get("capacity") or {}).items()}
        out.append(
            {
                "name": meta["name"],
                "nodegroup": labels.get("kubetwin.io/nodegroup", ""),
                "instance_type": labels.get("node.kubernetes.io/instance-type", ""),
                "zone": labels.get("topology.kubernetes.io/zone", ""),
                "capacity_type": labels.get("karpenter.sh/capacity-type", ""),
                "ready": resources.is_node_ready(node),
                "capacity": dict(status.get("capacity") or {}),
                "allocatable": dict(status.get("allocatable") or {}),
                "reserved": _node_reserved(node, capacity),
                "requested": {"cpu_milli": req[0], "memory_bytes": req[1], "pods": req[2]},
                "allocatable_ints": {
                    "cpu_milli": alloc.get("cpu", 0),
                    "memory_bytes": alloc.get("memory", 0),
                    "pods": alloc.get("pods", 0),
                },
            }
        )
    return out


def _workloads(cluster: Cluster) -> list[dict[str, Any]]:
    out = []
    for resource in (
        "deployments.apps",
        "statefulsets.apps",
        "daemonsets.apps",
        "replicasets.apps",
        "jobs.batch",
    ):
        for obj in cluster.store.iter(resource):
            meta = obj["metadata"]
            if resource == "replicasets.apps" and resources.controller_ref(obj):
                continue  # owned by a Deployment, which is listed
            spec = obj.get("spec") or {}
            st = obj.get("status") or {}
            kind = obj["kind"]
            if kind == "DaemonSet":
                desired = st.get("desiredNumberScheduled", 0)
                ready, available, updated = (
                    st.get("numberReady", 0),
                    st.get("numberAvailable", 0),
                    st.get("updatedNumberScheduled", 0),
                )
            elif kind == "Job":
                desired = spec.get("completions") or spec.get("parallelism") or 1
                ready, available, updated = (
                    st.get("succeeded", 0),
                    st.get("succeeded", 0),
                    st.get("active", 0),
                )
            else:
                desired = spec.get("replicas", 1)
                ready, available = st.get("readyReplicas", 0), st.get("availableReplicas", 0)
                updated = st.get("updatedReplicas", available)
            if kind == "Job":
                conds = {c.get("type"): c.get("status") for c in st.get("conditions", [])}
                state = (
                    "ok"
                    if conds.get("Complete") == "True"
                    else ("degraded" if conds.get("Failed") == "True" else "progressing")
                )
            else:
                state = (
                    "ok" if available >= desired else ("degraded" if available < desired else "progressing")
                )
            out.append(
                {
                    "kind": kind,
                    "namespace": meta.get("namespace", ""),
                    "name": meta["name"],
                    "desired": desired,
                    "ready": ready,
                    "available": available,
                    "updated": updated,
                    "status": state,
                }
            )
    return out


def build_report_data(
    cluster: Cluster,
    recorder: Recorder,
    settings: ScenarioSettings,
    docs: list[loader.Document],
    path: str | Path,
    wall: float,
) -> dict[str, Any]:
    objects: dict[str, int] = {}
    for d in docs:
        objects[d.kind] = objects.get(d.kind, 0) + 1
    sources = sorted({d.source for d in docs})
    data: dict[str, Any] = {
        "scenario": {
            "name": settings.name,
            "duration_seconds": settings.duration,
            "seed": settings.seed,
            "sources": sources,
            "objects": objects,
            "kubetwin_version": __version__,
            "wall_seconds": round(wall, 3),
            "started": cluster.loop.timestamp(0),
            "path": str(path),
        },
        "samples": recorder.samples,
        "nodes_final": _node_summary(cluster),
        "pending": recorder.pending(),
        "workloads": _workloads(cluster),
        "events": {
            "by_reason": dict(sorted(recorder.event_reasons.items())),
            "warnings": recorder.warnings[-200:],
        },
        "evictions": recorder.evictions(),
        "pressure": recorder.pressure_periods(),
        "usage": recorder.usage_report(),
        "cost": {**recorder.cost(), "nodegroups": _nodegroup_prices(cluster)},
        "autoscaler": {"decisions": recorder.autoscaler_decisions[:MAX_AUTOSCALER_DECISIONS]},
        "autoscaling": recorder.autoscaling(),
    }
    return data


MAX_AUTOSCALER_DECISIONS = 500


def _nodegroup_prices(cluster: Cluster) -> list[dict[str, Any]]:
    out = []
    for ng in sorted(cluster.store.iter("nodegroups.kubetwin.io"), key=lambda o: o["metadata"]["name"]):
        spec, status = ng.get("spec") or {}, ng.get("status") or {}
        out.append({
            "name": ng["metadata"]["name"], "instance_type": spec.get("instanceType"),
            "capacity_type": spec.get("capacityType") or "on-demand", "min": spec.get("minSize"),
            "max": spec.get("maxSize"), "price_per_hour": status.get("pricePerHour"),
        })  # fmt: skip
    return out
