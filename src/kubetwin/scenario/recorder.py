"""Records what happens in a run: the change log (``events.jsonl``) and the time series and
summaries that ``report.html`` is drawn from.

The change log has one JSON line per write to the store, in write order, with the virtual time:
Kubernetes Events as ``{"event": {...}}`` lines and every other write as a state change listing
the leaf fields that changed. Leases are skipped: they are kubelet heartbeats (one write per node
every 10 s) and say nothing a user reads; their effect shows in Node conditions.

Every sample also reads each HorizontalPodAutoscaler's status (current / desired replicas, each
metric's current value beside its target) and each VerticalPodAutoscaler's recommendation beside
the requests of its target's pod template; HPA condition changes and ``SuccessfulRescale`` events
are kept as they happen (``autoscaling()``).

With the kubelets' usage engine attached (``attach_usage``), every sample also records each node's
CPU used / demanded and memory working set (one pass over the engine's arrays), and
``usage_report`` gives the throttled / CPU-starved / OOM-killed pods and every OOM kill.
"""

from __future__ import annotations

from collections import Counter
from typing import IO, Any

import orjson

from kubetwin.api import resources
from kubetwin.api.quantity import parse_quantity
from kubetwin.client.events import event_count
from kubetwin.cloud import cost
from kubetwin.sim import EventLoop
from kubetwin.store import Store, WatchEvent

SKIP_KINDS = {"Lease"}
IGNORED_PATHS = ("metadata.resourceVersion", "metadata.managedFields")
PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
QOS = ("Guaranteed", "Burstable", "BestEffort")
MAX_VALUE_LEN = 300
EVICTION_PREFIX = "The node was low on resource: "  # pkg/kubelet/eviction nodeLowMessageFmt
PRESSURE_CONDITIONS = ("MemoryPressure", "DiskPressure", "PIDPressure")


def _flatten(obj: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(obj, dict) and obj:
        for k, v in obj.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    else:
        out[prefix] = obj


def diff(prev: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """Leaf paths whose value changed (None for removed), lists compared whole."""
    a: dict[str, Any] = {}
    b: dict[str, Any] = {}
    if prev is not None:
        _flatten(prev, "", a)
    _flatten(new, "", b)
    changes: dict[str, Any] = {}
    for path, value in b.items():
        if path.startswith(IGNORED_PATHS):
            continue
        if a.get(path, _MISSING) != value:
            changes[path] = _clip(value)
    for path in a:
        if path not in b and not path.startswith(IGNORED_PATHS):
            changes[path] = None
    return changes


_MISSING = object()


def _occurrences(ev: dict[str, Any], prev: dict[str, Any] | None) -> int:
    """Occurrences an Event write adds: one per legacy write (a create, or a repeat raising
    ``count``); an events.k8s.io series is written only now and then (client/eventseries.py), so
    its write adds what ``series.count`` grew by (a series created again counts once)."""
    if not isinstance(ev.get("series"), dict):
        return 1
    count = event_count(ev)
    before = event_count(prev) if prev is not None else count - 1
    return max(0, count - before)


def _clip(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_VALUE_LEN:
        return value[:MAX_VALUE_LEN] + "…"
    return value


class Recorder:
    def __init__(self, store: Store, loop: EventLoop, out: IO[bytes] | None = None) -> None:
        self.store = store
        self.loop = loop
        self.out = out
        self.lines = 0
        self.event_reasons: Counter[str] = Counter()
        self._warnings: dict[str, dict[str, Any]] = {}  # by event namespace/name: repeats update the entry
        self.samples: dict[str, Any] = {
            "t": [],
            "pods_by_phase": {p: [] for p in PHASES},
            "pods_by_qos": {q: [] for q in QOS},
            "pending_unschedulable": [],
            "nodes": {},
            # nodes per NodeGroup and the cumulative instance cost (USD) at each sample
            "nodegroups": {},
            "cost_usd": [],
            "cost_usd_on_demand": [],
            "cost_usd_spot": [],
            # per HPA / VPA ("namespace/name"): see _sample_autoscalers
            "hpa": {},
            "vpa": {},
        }
        # instance billing: node name -> [launched, price per hour, capacity type, group]
        self._instances: dict[str, list[Any]] = {}
        self._closed_cost: dict[str, float] = {"on-demand": 0.0, "spot": 0.0}
        self._closed_by_group: dict[str, float] = {}
        self.autoscaler_decisions: list[dict[str, Any]] = []
        self._pending_since: dict[str, float] = {}
        self._pending_done: dict[str, dict[str, Any]] = {}
        self._evictions: list[dict[str, Any]] = []
        self._pressure_open: dict[tuple[str, str], float] = {}
        self._pressure_done: list[dict[str, Any]] = []
        self._hpa_events: list[dict[str, Any]] = []  # SuccessfulRescale / FailedRescale, in order
        self._hpa_conditions: list[dict[str, Any]] = []  # condition (type, status, reason) changes
        self.usage: Any = None  # the kubelets' UsageEngine, when attached
        store.add_listener(self._on_write)

    # -- change log ---------------------------------------------------------------------------
    def _on_write(self, ev: WatchEvent) -> None:
        obj = ev.object
        kind = obj.get("kind", "")
        if kind in SKIP_KINDS or (kind == "Event" and ev.type == "DELETED"):
            # an Event expiring from storage (1 h after its last write) did not happen again
            return
        meta = obj.get("metadata", {})
        line: dict[str, Any] = {"t": round(self.loop.now, 6), "time": self.loop.timestamp()}
        if kind == "Event":
            self._on_event(obj, ev.prev)
            self._track_eviction(obj)
            line["event"] = {
                "type": obj.get("type"),
                "reason": obj.get("reason"),
                "message": obj.get("message"),
                "count": event_count(obj),
                "source": (obj.get("source") or {}).get("component") or obj.get("reportingComponent", ""),
                "object": {
                    "kind": (obj.get("involvedObject") or {}).get("kind"),
                    "namespace": (obj.get("involvedObject") or {}).get("namespace", ""),
                    "name": (obj.get("involvedObject") or {}).get("name"),
                },
            }
        else:
            line.update(
                {
                    "change": ev.type,
                    "kind": kind,
                    "namespace": meta.get("namespace", ""),
                    "name": meta.get("name", ""),
                    "resourceVersion": ev.rv,
                }
            )
            if ev.type == "MODIFIED":
                line["fields"] = diff(ev.prev, obj)
            if kind == "Pod":
                self._track_pending(ev)
            elif kind == "Node":
                self._track_pressure(ev)
                self._track_instance(ev)
            elif kind == "HorizontalPodAutoscaler":
                self._track_hpa_conditions(ev)
        self.lines += 1
        if self.out is not None:
            self.out.write(orjson.dumps(line, option=orjson.OPT_SORT_KEYS) + b"\n")

    # -- instance cost (cloud.cost: per-second billing from launch to termination) ---------------
    def _track_instance(self, ev: WatchEvent) -> None:
        node = ev.object
        name = node["metadata"]["name"]
        if ev.type == "ADDED":
            price = cost.node_price(node)
            if price > 0:
                created = node["metadata"].get("creationTimestamp")
                launched = self.loop.parse_timestamp(created) if created else self.loop.now
                group = (node["metadata"].get("labels") or {}).get("kubetwin.io/nodegroup", "")
                self._instances[name] = [launched, price, cost.capacity_type(node), group]
        elif ev.type == "DELETED":
            inst = self._instances.pop(name, None)
            if inst is not None:
                usd = cost.instance_cost(inst[1], inst[0], self.loop.now)
                self._closed_cost[inst[2]] = self._closed_cost.get(inst[2], 0.0) + usd
                self._closed_by_group[inst[3]] = self._closed_by_group.get(inst[3], 0.0) + usd

    def cost(self) -> dict[str, Any]:
        """Cost of the run so far: total, on-demand vs spot, per NodeGroup (USD)."""
        by_type = dict(self._closed_cost)
        by_group = dict(self._closed_by_group)
        for launched, price, ctype, group in self._instances.values():
            usd = cost.instance_cost(price, launched, self.loop.now)
            by_type[ctype] = by_type.get(ctype, 0.0) + usd
            by_group[group] = by_group.get(group, 0.0) + usd
        return {
            "total_usd": round(sum(by_type.values()), 4),
            "on_demand_usd": round(by_type.get("on-demand", 0.0), 4),
            "spot_usd": round(by_type.get("spot", 0.0), 4),
            "by_group_usd": {g: round(v, 4) for g, v in sorted(by_group.items())},
        }

    def _on_event(self, obj: dict[str, Any], prev: dict[str, Any] | None) -> None:
        if (obj.get("source") or {}).get("component") == "cluster-autoscaler" and (
            (obj.get("involvedObject") or {}).get("kind") in ("ConfigMap", "Node")
        ) and event_count(obj) == 1:
            self.autoscaler_decisions.append({
                "t": round(self.loop.now, 3), "time": self.loop.timestamp(), "type": obj.get("type"),
                "reason": obj.get("reason"), "message": obj.get("message"),
                "object": (obj.get("involvedObject") or {}).get("name"),
            })  # fmt: skip
        reason = obj.get("reason", "")
        if reason in HPA_EVENT_REASONS and event_count(obj) == 1 and len(self._hpa_events) < MAX_HPA_EVENTS:
            inv = obj.get("involvedObject") or {}
            if inv.get("kind") == "HorizontalPodAutoscaler":
                self._hpa_events.append({
                    "t": round(self.loop.now, 3), "hpa": f"{inv.get('namespace', '')}/{inv.get('name', '')}",
                    "reason": reason, "message": obj.get("message", ""),
                })  # fmt: skip
        self.event_reasons[reason] += _occurrences(obj, prev)
        if obj.get("type") == "Warning":
            inv = obj.get("involvedObject") or {}
            meta = obj.get("metadata", {})
            self._warnings[f"{meta.get('namespace', '')}/{meta.get('name', '')}"] = {
                "t": self.loop.now,
                "time": _hms(self.loop.now),
                "kind": inv.get("kind", ""),
                "namespace": inv.get("namespace", ""),
                "name": inv.get("name", ""),
                "reason": reason,
                "message": obj.get("message", ""),
                "count": event_count(obj),
            }

    @property
    def warnings(self) -> list[dict[str, Any]]:
        return sorted(self._warnings.values(), key=lambda w: w["t"])

    def _track_pending(self, ev: WatchEvent) -> None:
        obj = ev.object
        meta = obj["metadata"]
        key = f"{meta.get('namespace', '')}/{meta['name']}"
        cond = resources.pod_condition(obj, "PodScheduled")
        unschedulable = (
            ev.type != "DELETED"
            and not (obj.get("spec") or {}).get("nodeName")
            and cond is not None
            and cond.get("status") == "False"
        )
        if unschedulable:
            self._pending_since.setdefault(key, self.loop.now)
            owner = resources.controller_ref(obj)
            self._pending_done[key] = {
                "namespace": meta.get("namespace", ""),
                "name": meta["name"],
                "owner": f"{owner['kind']}/{owner['name']}" if owner else "",
                "reason": cond.get("reason", "") if cond else "",
                "message": cond.get("message", "") if cond else "",
                "since": self._pending_since[key],
                "still_pending": True,
            }
        elif key in self._pending_since:
            since = self._pending_since.pop(key)
            entry = self._pending_done.get(key)
            if entry is not None:
                entry["still_pending"] = False
                entry["pending_seconds"] = self.loop.now - since

    # -- kubelet evictions and node pressure -------------------------------------------------
    def _track_eviction(self, obj: dict[str, Any]) -> None:
        """A kubelet eviction: its ``Evicted`` Warning event (admission rejections say "had condition")."""
        message = str(obj.get("message") or "")
        if obj.get("reason") != "Evicted" or not message.startswith(EVICTION_PREFIX) or event_count(obj) != 1:
            return
        inv = obj.get("involvedObject") or {}
        ns, name = inv.get("namespace", ""), inv.get("name", "")
        pod = self.store.get("pods", ns, name) or {}
        owner = resources.controller_ref(pod) if pod else None
        ann = (obj.get("metadata") or {}).get("annotations") or {}
        resource = ann.get("starved_resource") or message[len(EVICTION_PREFIX):].split(".", 1)[0]
        self._evictions.append({
            "t": float(self.loop.now),
            "time": _hms(self.loop.now),
            "node": (obj.get("source") or {}).get("host", "") or (pod.get("spec") or {}).get("nodeName", ""),
            "namespace": ns,
            "name": name,
            "owner": f"{owner['kind']}/{owner['name']}" if owner else "",
            "qos": resources.pod_qos(pod) if pod else "",
            "resource": resource,
            "reason": "Evicted",
            "message": message,
        })  # fmt: skip

    def _track_pressure(self, ev: WatchEvent) -> None:
        """Periods each node reported MemoryPressure / DiskPressure / PIDPressure True."""
        name = ev.object["metadata"]["name"]
        now = float(self.loop.now)
        for cond in PRESSURE_CONDITIONS:
            c = None if ev.type == "DELETED" else resources.node_condition(ev.object, cond)
            on = c is not None and c.get("status") == "True"
            key = (name, cond)
            if on and key not in self._pressure_open:
                self._pressure_open[key] = now
            elif not on and key in self._pressure_open:
                start = self._pressure_open.pop(key)
                self._pressure_done.append({"node": name, "condition": cond, "start": start, "end": now,
                                            "seconds": now - start, "ongoing": False})  # fmt: skip

    def evictions(self) -> list[dict[str, Any]]:
        """Every pod the kubelets evicted, in order: time, node, pod, owner, QoS, resource, message."""
        return [dict(e) for e in self._evictions]

    def pressure_periods(self) -> list[dict[str, Any]]:
        """Node pressure periods (``ongoing`` when the condition was still True at the end)."""
        now = float(self.loop.now)
        out = [dict(p) for p in self._pressure_done]
        out += [{"node": n, "condition": c, "start": s, "end": now, "seconds": now - s, "ongoing": True}
                for (n, c), s in self._pressure_open.items()]  # fmt: skip
        return sorted(out, key=lambda p: (p["start"], p["node"], p["condition"]))

    # -- sampling -----------------------------------------------------------------------------
    def start_sampling(self, interval: float) -> None:
        self.sample()
        self.loop.every(interval, self.sample, priority=90, name="recorder")

    def sample(self) -> None:
        s = self.samples
        idx = len(s["t"])
        s["t"].append(round(self.loop.now, 3))
        phases: Counter[str] = Counter()
        qos: Counter[str] = Counter()
        unschedulable = 0
        node_req: dict[str, list[int]] = {}
        for pod in self.store.iter("pods"):
            status = pod.get("status") or {}
            phases[status.get("phase", "Pending")] += 1
            qos[resources.pod_qos(pod)] += 1
            node = (pod.get("spec") or {}).get("nodeName")
            if not node:
                cond = resources.pod_condition(pod, "PodScheduled")
                if cond is not None and cond.get("status") == "False":
                    unschedulable += 1
                continue
            if status.get("phase") in ("Succeeded", "Failed"):
                continue
            preq = resources.pod_requests(pod)
            acc = node_req.setdefault(node, [0, 0, 0])
            acc[0] += preq.get("cpu", 0)
            acc[1] += preq.get("memory", 0)
            acc[2] += 1
        for p in PHASES:
            s["pods_by_phase"][p].append(phases.get(p, 0))
        for q in QOS:
            s["pods_by_qos"][q].append(qos.get(q, 0))
        s["pending_unschedulable"].append(unschedulable)
        seen = set()
        for node in self.store.iter("nodes"):
            name = node["metadata"]["name"]
            seen.add(name)
            series = s["nodes"].get(name)
            if series is None:
                series = {k: [None] * idx for k in _NODE_SERIES}
                s["nodes"][name] = series
            alloc = resources.resource_list((node.get("status") or {}).get("allocatable"))
            req = node_req.get(name, [0, 0, 0])
            series["cpu_requested_milli"].append(req[0])
            series["memory_requested_bytes"].append(req[1])
            series["pods"].append(req[2])
            series["cpu_allocatable_milli"].append(alloc.get("cpu", 0))
            series["memory_allocatable_bytes"].append(alloc.get("memory", 0))
            series["pods_allocatable"].append(alloc.get("pods", 0))
            series["ready"].append(1 if resources.is_node_ready(node) else 0)
        for name, series in s["nodes"].items():
            if name not in seen:
                for k in _NODE_SERIES:
                    series[k].append(None)
        groups: Counter[str] = Counter()
        for node in self.store.iter("nodes"):
            group = (node["metadata"].get("labels") or {}).get("kubetwin.io/nodegroup")
            if group and not node["metadata"].get("deletionTimestamp"):
                groups[group] += 1
        for group in groups:
            if group not in s["nodegroups"]:
                s["nodegroups"][group] = [0] * idx
        for group, series in s["nodegroups"].items():
            series.append(groups.get(group, 0))
        c = self.cost()
        s["cost_usd"].append(c["total_usd"])
        s["cost_usd_on_demand"].append(c["on_demand_usd"])
        s["cost_usd_spot"].append(c["spot_usd"])
        self._sample_usage(seen)
        self._sample_autoscalers(idx)

    # -- HorizontalPodAutoscalers and VerticalPodAutoscalers --------------------------------
    def _track_hpa_conditions(self, ev: WatchEvent) -> None:
        if ev.type == "DELETED" or len(self._hpa_conditions) >= MAX_HPA_EVENTS:
            return
        new = (ev.object.get("status") or {}).get("conditions") or []
        old = {c.get("type"): c for c in ((ev.prev or {}).get("status") or {}).get("conditions") or []}
        meta = ev.object["metadata"]
        for c in new:
            prev = old.get(c.get("type"))
            if prev is not None and (prev.get("status"), prev.get("reason")) == (c.get("status"), c.get("reason")):
                continue
            self._hpa_conditions.append({
                "t": round(self.loop.now, 3), "hpa": f"{meta.get('namespace', '')}/{meta['name']}",
                "type": c.get("type"), "status": c.get("status"), "reason": c.get("reason"),
                "message": _clip(c.get("message", "")),
            })  # fmt: skip

    def _sample_autoscalers(self, idx: int) -> None:
        """One read of every HPA's and VPA's status (a handful of objects per sample)."""
        s = self.samples
        for hpa in self.store.iter(HPA_RESOURCE):
            meta, spec, status = hpa["metadata"], hpa.get("spec") or {}, hpa.get("status") or {}
            key = f"{meta.get('namespace', '')}/{meta['name']}"
            ref = spec.get("scaleTargetRef") or {}
            entry = s["hpa"].get(key)
            if entry is None:
                entry = {"target": f"{ref.get('kind', '')}/{ref.get('name', '')}", "min": [None] * idx,
                         "max": [None] * idx, "replicas": [None] * idx, "desired": [None] * idx, "metrics": {}}
                s["hpa"][key] = entry
            entry["min"].append(spec.get("minReplicas", 1))
            entry["max"].append(spec.get("maxReplicas"))
            entry["replicas"].append(status.get("currentReplicas"))
            entry["desired"].append(status.get("desiredReplicas"))
            current = {_metric_key(m)[0]: m for m in status.get("currentMetrics") or []}
            for m in spec.get("metrics") or []:
                label, target_type, target = _metric_key(m)
                series = entry["metrics"].get(label)
                if series is None:
                    series = {"type": m.get("type"), "target_type": target_type, "target": [None] * idx,
                              "value": [None] * idx}  # fmt: skip
                    entry["metrics"][label] = series
                series["target"].append(target)
                cur = current.get(label)
                series["value"].append(_metric_current(cur, target_type) if cur is not None else None)
            n = len(entry["replicas"])
            for series in entry["metrics"].values():  # a metric removed from the spec
                for k in ("target", "value"):
                    if len(series[k]) < n:
                        series[k].append(None)
        for vpa in self.store.iter(VPA_RESOURCE):
            meta, spec, status = vpa["metadata"], vpa.get("spec") or {}, vpa.get("status") or {}
            ns = meta.get("namespace", "")
            key = f"{ns}/{meta['name']}"
            ref = spec.get("targetRef") or {}
            entry = s["vpa"].get(key)
            if entry is None:
                entry = {"target": f"{ref.get('kind', '')}/{ref.get('name', '')}",
                         "mode": (spec.get("updatePolicy") or {}).get("updateMode") or "Auto", "containers": {}}
                s["vpa"][key] = entry
            requests = _template_requests(self.store, ns, ref)
            recs = {r.get("containerName"): r for r in
                    ((status.get("recommendation") or {}).get("containerRecommendations") or [])}  # fmt: skip
            for name in sorted(set(recs) | set(requests)):
                c = entry["containers"].get(name)
                if c is None:
                    c = {k: [None] * idx for k in _VPA_SERIES}
                    entry["containers"][name] = c
                rec = recs.get(name) or {}
                for field, cpu_key, mem_key in (("target", "cpu_target_milli", "memory_target_bytes"),
                                                ("lowerBound", "cpu_lower_milli", "memory_lower_bytes"),
                                                ("upperBound", "cpu_upper_milli", "memory_upper_bytes")):  # fmt: skip
                    rl = resources.resource_list(rec.get(field)) if rec.get(field) else {}
                    c[cpu_key].append(rl.get("cpu"))
                    c[mem_key].append(rl.get("memory"))
                req = requests.get(name, {})
                c["cpu_request_milli"].append(req.get("cpu"))
                c["memory_request_bytes"].append(req.get("memory"))
            for c in entry["containers"].values():
                n = len(s["t"])
                for k in _VPA_SERIES:
                    if len(c[k]) < n:
                        c[k].append(None)

    def autoscaling(self) -> dict[str, Any]:
        """HPA rescale events and condition changes, in order (the time series are in samples)."""
        return {"hpa_events": [dict(e) for e in self._hpa_events],
                "hpa_conditions": [dict(c) for c in self._hpa_conditions]}  # fmt: skip

    # -- usage (the kubelets' usage engine) ---------------------------------------------------
    def attach_usage(self, engine: Any) -> None:
        """Sample ``engine.node_usage()`` (one pass over its arrays) with every sample."""
        self.usage = engine

    def _sample_usage(self, seen: set[str]) -> None:
        if self.usage is None:
            return
        used = self.usage.node_usage()
        for name, series in self.samples["nodes"].items():
            u = used.get(name) if name in seen else None
            for i, k in enumerate(_USAGE_SERIES):
                values = series.setdefault(k, [None] * (len(series["pods"]) - 1))
                values.append(u[i] if u is not None else None)

    def usage_report(self) -> dict[str, Any]:
        """Pods throttled, starved of CPU or OOM-killed, and every OOM kill, from the engine."""
        if self.usage is None:
            return {"pods": [], "oom_kills": []}
        return {"pods": self.usage.pod_summaries(), "oom_kills": list(self.usage.oom_log)}

    # -- summaries ----------------------------------------------------------------------------
    def pending(self) -> list[dict[str, Any]]:
        out = []
        for key in sorted(self._pending_done):
            entry = dict(self._pending_done[key])
            if entry.get("still_pending"):
                entry["pending_seconds"] = self.loop.now - entry["since"]
            out.append(entry)
        return out


_NODE_SERIES = (
    "cpu_requested_milli",
    "cpu_allocatable_milli",
    "memory_requested_bytes",
    "memory_allocatable_bytes",
    "pods",
    "pods_allocatable",
    "ready",
)


HPA_RESOURCE = "horizontalpodautoscalers.autoscaling"
VPA_RESOURCE = "verticalpodautoscalers.autoscaling.k8s.io"
HPA_EVENT_REASONS = ("SuccessfulRescale", "FailedRescale")
MAX_HPA_EVENTS = 5000
_VPA_SERIES = ("cpu_target_milli", "memory_target_bytes", "cpu_lower_milli", "memory_lower_bytes",
               "cpu_upper_milli", "memory_upper_bytes", "cpu_request_milli", "memory_request_bytes")
WORKLOAD_RESOURCES = {"Deployment": "deployments.apps", "StatefulSet": "statefulsets.apps",
                      "ReplicaSet": "replicasets.apps", "DaemonSet": "daemonsets.apps"}


def _metric_key(m: dict[str, Any]) -> tuple[str, str, float | None]:
    """(label, target type, target value) of an HPA spec metric or status currentMetric.

    Labels: ``cpu`` / ``memory`` for Resource, ``cpu (container app)`` for ContainerResource, the
    metric name for Pods / Object / External. Utilization targets are percent; values are plain
    numbers (a Quantity's value: "50" -> 50.0, "500m" -> 0.5)."""
    type_ = m.get("type", "")
    body = m.get({"Resource": "resource", "ContainerResource": "containerResource", "Pods": "pods",
                  "Object": "object", "External": "external"}.get(type_, ""), None) or {}  # fmt: skip
    if type_ in ("Resource", "ContainerResource"):
        label = str(body.get("name", ""))
        if type_ == "ContainerResource":
            label += f" (container {body.get('container', '')})"
    else:
        label = str((body.get("metric") or {}).get("name", ""))
    target = body.get("target") or {}
    ttype = str(target.get("type", ""))
    value: float | None = None
    if ttype == "Utilization" and target.get("averageUtilization") is not None:
        value = float(target["averageUtilization"])
    elif ttype == "AverageValue" and target.get("averageValue") is not None:
        value = _qty(target["averageValue"])
    elif ttype == "Value" and target.get("value") is not None:
        value = _qty(target["value"])
    return label, ttype, value


def _metric_current(m: dict[str, Any], target_type: str) -> float | None:
    """The current value of a status currentMetric in the unit of its spec target."""
    body = next((v for k, v in m.items() if k != "type" and isinstance(v, dict)), {})
    cur = body.get("current") or {}
    if target_type == "Utilization":
        return float(cur["averageUtilization"]) if cur.get("averageUtilization") is not None else None
    raw = cur.get("value") if target_type == "Value" else cur.get("averageValue")
    if raw is None:
        raw = cur.get("averageValue", cur.get("value"))
    return _qty(raw) if raw is not None else None


def _qty(value: Any) -> float | None:
    try:
        return float(parse_quantity(value).amount)
    except (ValueError, TypeError):
        return None


def _template_requests(store: Store, namespace: str, ref: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Per-container requests (cpu milli, memory bytes) of a workload's pod template."""
    resource = WORKLOAD_RESOURCES.get(str(ref.get("kind", "")))
    obj = store.get(resource, namespace, str(ref.get("name", ""))) if resource else None
    if obj is None:
        return {}
    spec = (((obj.get("spec") or {}).get("template") or {}).get("spec") or {})
    return {c.get("name", ""): resources.resource_list((c.get("resources") or {}).get("requests"))
            for c in spec.get("containers") or []}  # fmt: skip


_USAGE_SERIES = ("cpu_used_milli", "memory_used_bytes", "cpu_demand_milli")


def _hms(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
