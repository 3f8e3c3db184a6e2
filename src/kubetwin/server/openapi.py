"""OpenAPI v3 documents for every served group-version (``/openapi/v3``, ``/openapi/v3/<gv>``).

Reproduces what kube-apiserver serves (k8s.io/kube-openapi pkg/handler3 and the builder in
k8s.io/apiserver/pkg/endpoints/openapi): an index of group-versions with a content hash, and per
group-version a document with ``components.schemas`` (upstream definitions, with
``x-kubernetes-group-version-kind`` lists, patch merge keys/strategies, list types and the
descriptions ``kubectl explain`` prints) and ``paths`` whose ``patch`` operations carry the gvk
object and the ``fieldValidation`` parameter, which is what makes ``kubectl apply`` leave validation
to the server (cli-runtime query_param_verifier_v3.go).

Built-in schemas come from upstream's own definitions shipped by the ``kubernetes-validate`` package
(:mod:`kubetwin.api.schema`), converted to OpenAPI v3 form: ``$ref`` to ``#/components/schemas/``,
a ``$ref`` with siblings wrapped in ``allOf`` as upstream does, nullable type lists collapsed,
IntOrString / Quantity as upstream writes them. Hand-written here, from the code that reads them: the
kubetwin.io kinds and the Vertical Pod Autoscaler's CRDs (autoscaling.k8s.io/v1, which
``kubernetes-validate`` does not ship), named as kube-apiserver names CRD definitions
(``io.kubetwin.v1alpha1.NodeGroup``, ``io.k8s.autoscaling.v1.VerticalPodAutoscaler``) and published,
as for CRDs, without strategic merge patch.

:func:`unknown_fields` walks an object against the same schemas for ``fieldValidation=Strict``
(k8s.io/apimachinery json strict decoding: ``unknown field "spec.foo"``).
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

from kubetwin.api import schema as sch
from kubetwin.api.kinds import KindInfo, all_served

Obj = dict[str, Any]
OPENAPI_VERSION = "3.0.0"
INFO = {"title": "Kubernetes", "version": "v1.32.0"}
COMPONENTS = "#/components/schemas/"
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
KUBETWIN = "io.kubetwin."

# Upstream's v3 spelling of the special scalar types.
_SPECIAL: dict[str, Obj] = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {
        "description": "IntOrString is a type that can hold an int32 or a string.  When used in JSON or YAML "
        "marshalling and unmarshalling, it produces or consumes the inner type.  This allows you to have, for "
        "example, a JSON field that can accept a name or number.",
        "type": "string",
        "format": "int-or-string",
    },
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {
        "description": "Quantity is a fixed-point representation of a number. It provides convenient "
        "marshaling/unmarshaling in JSON and YAML, in addition to String() and AsInt64() accessors.",
        "type": "string",
    },
}

# Advertise strategic merge patch in the PATCH request bodies of built-in kinds: our schemas are the
# complete upstream ones, so kubectl may compute client-side-apply patches from them.
ADVERTISE_SMP = True


# -- conversion of upstream definitions ---------------------------------------------------------


def _convert(node: Any, refs: set[str]) -> Any:
    if isinstance(node, list):
        return [_convert(v, refs) for v in node]
    if not isinstance(node, dict):
        return node
    out: Obj = {}
    ref_target = None
    for k, v in node.items():
        if k == "$ref" and isinstance(v, str):
            ref_target = v.rsplit("/", 1)[-1]
            refs.add(ref_target)
            continue
        if k == "type" and isinstance(v, list):
            types = [t for t in v if t != "null"]
            if len(types) == 1:
                out["type"] = types[0]
            elif types:
                out["type"] = types[0]
            continue
        if k == "properties" and isinstance(v, dict):
            props = {}
            for name, sub in v.items():
                conv = _convert(sub, refs)
                if name in ("apiVersion", "kind") and isinstance(conv, dict):
                    conv.pop("enum", None)
                props[name] = conv
            out["properties"] = props
            continue
        out[k] = _convert(v, refs)
    if ref_target is not None:
        ref = {"$ref": COMPONENTS + ref_target}
        if out:
            out["allOf"] = [ref]
            return out
        return ref
    return out


def _definition(name: str, refs: set[str]) -> Obj:
    if name in _SPECIAL:
        return dict(_SPECIAL[name])
    d = sch.definitions().get(name)
    if d is None:
        return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return _convert(d, refs)


def _closure(roots: list[str]) -> dict[str, Obj]:
    schemas: dict[str, Obj] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in schemas:
            continue
        refs: set[str] = set()
        schemas[name] = _definition(name, refs)
        todo.extend(r for r in refs if r not in schemas)
    return dict(sorted(schemas.items()))


# -- hand-written kinds: kubetwin.io and the VPA's CRDs -----------------------------------------
#
# Written from the code that reads these objects (api/validation.py, api/defaults.py, the consumers
# named in each description) so that ``fieldValidation=Strict`` knows every field and ``kubectl
# explain`` documents it. tests/server/test_openapi_drift.py fails when a kind has no schema or an
# example manifest uses a field the schema lacks.


def _ref(name: str, description: str = "") -> Obj:
    out: Obj = {"allOf": [{"$ref": COMPONENTS + name}]}
    if description:
        out["description"] = description
    return out


def _s(description: str, type_: str = "string", **extra: Any) -> Obj:
    return {"description": description, "type": type_, **extra}


def _int(description: str, fmt: str = "int32", **extra: Any) -> Obj:
    return {"description": description, "type": "integer", "format": fmt, **extra}


def _num(description: str, **extra: Any) -> Obj:
    return {"description": description, "type": "number", "format": "double", **extra}


def _bool(description: str) -> Obj:
    return {"description": description, "type": "boolean"}


def _obj(description: str, properties: Obj, required: list[str] | None = None, **extra: Any) -> Obj:
    out: Obj = {"description": description, "type": "object", "properties": properties}
    if required:
        out["required"] = required
    out.update(extra)
    return out


def _open(description: str, properties: Obj | None = None) -> Obj:
    out: Obj = {"description": description, "type": "object", "x-kubernetes-preserve-unknown-fields": True}
    if properties:
        out["properties"] = properties
    return out


def _array(description: str, items: Obj, **extra: Any) -> Obj:
    return {"description": description, "type": "array", "items": items, **extra}


def _map(description: str, values: Obj | None = None) -> Obj:
    return {"description": description, "type": "object", "additionalProperties": values or {"type": "string"}}


def _quantity(description: str) -> Obj:
    return _ref("io.k8s.apimachinery.pkg.api.resource.Quantity", description)


def _dur(description: str) -> Obj:
    return _s(f"{description} {_DURATION}")


_DURATION = "A Go duration (30s, 15m, 2h, 1h30m) or a number of seconds."
_CONDITIONS = {
    "description": "Latest observations of the object's state.",
    "type": "array",
    "items": _ref(META + "Condition"),
    "x-kubernetes-list-map-keys": ["type"],
    "x-kubernetes-list-type": "map",
}
_API_VERSION = ("APIVersion defines the versioned schema of this representation of an object. Servers should "
                "convert recognized schemas to the latest internal value, and may reject unrecognized values.")
_KIND = ("Kind is a string value representing the REST resource this object represents. Servers may infer this "
         "from the endpoint the client submits requests to. Cannot be updated. In CamelCase.")  # fmt: skip


def _kind_schema(group: str, version: str, kind: str, description: str, spec: Obj, status: Obj | None,
                 required: list[str] | None = None) -> Obj:  # fmt: skip
    props: Obj = {
        "apiVersion": _s(_API_VERSION),
        "kind": _s(_KIND),
        "metadata": _ref(META + "ObjectMeta", "Standard object's metadata."),
        "spec": spec,
    }
    if status is not None:
        props["status"] = status
    out: Obj = {"description": description, "type": "object", "properties": props}
    if required:
        out["required"] = required
    out["x-kubernetes-group-version-kind"] = [{"group": group, "version": version, "kind": kind}]
    return out


def _traffic(description: str, rate: str, rate_doc: str) -> Obj:
    """A LoadProfile ``spec.traffic`` (``rate="rps"``) or an ExternalMetricSeries ``spec.values``
    (``rate="value"``): kubelet/loadprofile.py parse_traffic, metrics/pipeline.py series_shape."""
    return _obj(description + " Exactly one of constant, steps, ramp, diurnal, trace.", {
        "constant": _obj("The same " + rate_doc + " all the time.", {rate: _num(rate_doc.capitalize() + ".")},
                         [rate]),
        "steps": _array(f"Changes of the {rate_doc} at given times from the start of the run; {rate} is 0 before "
                        "the first step and each step holds until the next.",
                        _obj("One step.", {"at": _dur("When the step starts, from the start of the run."),
                                           rate: _num(rate_doc.capitalize() + " from then on.")}, ["at", rate]),
                        **{"x-kubernetes-list-type": "atomic"}),
        "ramp": _obj(f"A linear change of the {rate_doc}, held at `to` afterwards.", {
            "from": _num(f"Starting {rate_doc}."),
            "to": _num(f"Final {rate_doc}."),
            "over": _dur("How long the ramp takes."),
            "at": _dur("When the ramp starts (default 0s); `from` holds until then."),
        }, ["from", "to", "over"]),
        "diurnal": _obj(f"A daily sine wave of the {rate_doc} between base and peak.", {
            "base": _num(f"Lowest {rate_doc}, half a period from the peak."),
            "peak": _num(f"Highest {rate_doc}; must be at least base."),
            "peakAt": _s('UTC clock time of the peak: "14:00" or "14:00:30".'),
            "period": _dur("Length of one cycle (default 24h)."),
        }, ["base", "peak", "peakAt"]),
        "trace": _obj("A recorded time series, linearly interpolated between points and held at both ends.", {
            "csv": _s("Inline CSV text (lines of `time,value`, an optional header line naming the columns) or a "
                      "file path, which `kubetwin run` inlines relative to the manifest's directory. Times are "
                      "Go durations or seconds from the start of the run."),
            "column": {**_s("The column holding the values: a header name or a 0-based index (default: the "
                            "second column).", format="int-or-string"), "x-kubernetes-int-or-string": True},
        }, ["csv"]),
    })  # fmt: skip


def _kubelet_config() -> Obj:
    """NodeGroup ``spec.kubelet``: the KubeletConfiguration fields api/kubeletconfig.py understands;
    other real KubeletConfiguration fields are accepted and ignored, so the object stays open."""
    res = _map("Resource name (cpu, memory, ephemeral-storage, pid) to quantity.")
    signals = _map("Eviction signal (memory.available, nodefs.available, nodefs.inodesFree, imagefs.available, "
                   "imagefs.inodesFree, pid.available, ...) to a quantity or percentage (\"100Mi\", \"10%\").")
    return _open("KubeletConfiguration (kubelet.config.k8s.io/v1beta1) fields for the group's kubelets. With "
                 "reservedPreset, fields left unset here are filled by the preset. Fields of KubeletConfiguration "
                 "not listed are accepted and ignored; near-miss spellings of listed ones are rejected.", {
        "maxPods": _int("Pods per node (status.capacity.pods). Default: the networking mode's maximum "
                        "(110 with overlay)."),
        "podsPerCore": _int("Caps pods per node at vCPU x podsPerCore; 0 (default) disables the cap."),
        "kubeReserved": {**res, "description": "Resources reserved for Kubernetes system daemons (kubelet, "
                         "container runtime); subtracted from capacity in status.allocatable."},
        "systemReserved": {**res, "description": "Resources reserved for OS system daemons; subtracted from "
                           "capacity in status.allocatable."},
        "evictionHard": {**signals, "description": "Hard eviction thresholds: the kubelet evicts pods at once when "
                         "a signal crosses one. Setting any key replaces the whole default map (memory.available "
                         "100Mi, nodefs.available 10%, nodefs.inodesFree 5%, imagefs.available 15%) unless "
                         "mergeDefaultEvictionSettings is true. memory.available also reduces allocatable."},
        "evictionSoft": {**signals, "description": "Soft eviction thresholds: evict only after the signal stays "
                         "past the threshold for its evictionSoftGracePeriod."},
        "evictionSoftGracePeriod": _map("Eviction signal to how long a soft threshold must hold before eviction "
                                        "(a Go duration, e.g. 1m30s)."),
        "evictionMaxPodGracePeriod": _int("Largest termination grace period, in seconds, given to pods evicted "
                                          "by a soft threshold."),
        "evictionMinimumReclaim": _map("Eviction signal to the minimum amount the kubelet reclaims beyond the "
                                       "threshold once it starts evicting."),
        "evictionPressureTransitionPeriod": _s("How long the kubelet waits before leaving a pressure condition "
                                               "(default 5m0s)."),
        "evictionMonitoringPeriod": _s("kubetwin: how often the eviction manager checks the signals (default 10s;"
                                       " a constant in the real kubelet)."),
        "mergeDefaultEvictionSettings": _bool("Merge the default evictionHard map into a user-set one for the "
                                              "keys it leaves unset."),
        "enforceNodeAllocatable": _array("Levels at which node allocatable is enforced (default [pods]).",
                                         {"type": "string"}),
        "podPidsLimit": _int("Maximum process IDs per pod; -1 (default) for no limit.", "int64"),
        "cpuManagerPolicy": _s("CPU manager policy: none (default) or static.", enum=["none", "static"]),
        "imageGCHighThresholdPercent": _int("Disk usage percentage that always triggers image garbage "
                                            "collection (default 85)."),
        "imageGCLowThresholdPercent": _int("Disk usage percentage image garbage collection frees down to "
                                           "(default 80)."),
    })  # fmt: skip


def _nodegroup(g: str, v: str) -> Obj:
    """cloud/nodegroup.py GroupSpec and NodeGroupController._set_status; api/validation.py
    validate_nodegroup; api/defaults.py default_nodegroup."""
    spec = _obj("The desired group: instance type, size bounds, capacity type, zones and node settings.", {
        "instanceType": _s("EC2 instance type of every node in the group, from the built-in AWS catalog "
                           "(e.g. m5.large, c6i.xlarge). An unknown type sets the Ready condition to False with "
                           "reason UnknownInstanceType."),
        "minSize": _int("Smallest number of nodes (default 0)."),
        "maxSize": _int("Largest number of nodes (default max(minSize, 1)); the cluster autoscaler scales "
                        "between minSize and maxSize."),
        "desiredSize": _int("Number of nodes wanted, clamped to minSize..maxSize. Defaults to minSize. The "
                            "cluster autoscaler and the scale subresource set it."),
        "capacityType": _s("Purchase option of the instances: on-demand (default) or spot. Spot nodes boot "
                           "slower and are labelled karpenter.sh/capacity-type=spot.", enum=["on-demand", "spot"]),
        "spotPrice": _num("Spot price in USD per instance-hour (default: 35% of the on-demand price). Used only "
                          "with capacityType spot; must not be negative."),
        "zones": _array("Availability zones to spread nodes over, least-populated first (default us-east-1a, "
                        "us-east-1b, us-east-1c). Their region names the nodes.", {"type": "string"}),
        "labels": _map("Labels added to every node of the group."),
        "taints": _array("Taints registered on every node of the group.", _ref("io.k8s.api.core.v1.Taint")),
        "kubelet": _kubelet_config(),
        "reservedPreset": _s("Fills kubeReserved (and for eks the AMI's evictionHard) where kubelet leaves them "
                             "unset: none (default), eks (the EKS AMI's formulas, memory from the max pods of the "
                             "networking mode) or gke (GKE's node-allocatable tiers).", enum=["none", "eks", "gke"]),
        "networking": _obj("The pod network, which bounds pods per node.", {
            "mode": _s("aws-vpc-cni (default): the VPC CNI in secondary-IP mode, max pods = ENIs x (IPv4 per ENI "
                       "- 1) + 2 as in eni-max-pods.txt; aws-vpc-cni-prefix: prefix delegation (/28 per slot on "
                       "Nitro instances, capped at 110, or 250 above 30 vCPU); overlay: no per-node IP limit, the "
                       "kubelet's maxPods (110). An explicit kubelet.maxPods always wins.",
                       enum=["aws-vpc-cni", "aws-vpc-cni-prefix", "overlay"]),
        }),
        "bootSeconds": _num("Seconds from launch until the node reports Ready (default 60 on-demand, 70 spot). "
                            "Nodes created at virtual time 0 are Ready at once."),
    }, ["instanceType"])  # fmt: skip
    status = _obj("Observed state of the group, written by the NodeGroup controller.", {
        "observedGeneration": _int("The metadata.generation the status reflects.", "int64"),
        "replicas": _int("Number of nodes that exist (not being deleted)."),
        "readyReplicas": _int("Number of those nodes that are Ready."),
        "desiredSize": _int("Number of nodes the group converges to (spec.desiredSize clamped to the bounds)."),
        "instanceType": _s("Instance type in use."),
        "selector": _s("Label selector of the group's nodes (kubetwin.io/nodegroup=<name>), for the scale "
                       "subresource."),
        "capacityType": _s("Purchase option in use: on-demand or spot."),
        "pricePerHour": _num("USD per instance-hour: the catalog's on-demand price, or the spot price."),
        "costUSD": _num("What the group's instances have cost so far, billed per second from launch to "
                        "termination, in USD."),
        "conditions": {**_CONDITIONS, "description": "Ready: True (AllNodesReady) when every desired node exists "
                       "and is Ready; False with NodesNotReady, UnknownInstanceType, InvalidSpec or "
                       "InvalidKubeletConfig otherwise."},
    })  # fmt: skip
    return _kind_schema(g, v, "NodeGroup", "NodeGroup is a group of simulated cloud instances of one type, like "
                        "an EKS managed node group or a kops InstanceGroup: the NodeGroup controller keeps "
                        "spec.desiredSize Nodes.", spec, status)  # fmt: skip


def _loadprofile(g: str, v: str) -> Obj:
    """kubelet/loadprofile.py (traffic, perPod), metrics/pipeline.py (metrics); api/validation.py
    validate_loadprofile."""
    resources = {"cpu": _quantity("CPU (cores or millicores, e.g. 50m)."),
                 "memory": _quantity("Memory (bytes, e.g. 200Mi).")}  # fmt: skip
    per_pod = _obj("What the traffic costs each pod. Traffic is split evenly over the Ready pods the selector "
                   "picks.", {
        "baseline": _obj("Usage with no traffic.", resources),
        "cpuPerRequest": _quantity("CPU-seconds per request: 2m at 100 requests/s is 200m."),
        "memoryPerRps": _quantity("Working set added per request/s."),
        "memoryLeakPerHour": _quantity("Memory growth per hour since the container (re)started."),
        "startup": _obj("Extra CPU demand while the container starts.", {
            "cpu": _quantity("CPU demand is at least this much during the startup window."),
            "duration": _dur("Length of the startup window (default 60s)."),
        }, ["cpu"]),
    })  # fmt: skip
    metric = _obj("A custom per-pod metric (custom.metrics.k8s.io pods/<name>), also aggregated as object "
                  "metrics over services, deployments and ingresses.", {
        "name": _s("Metric name, unique in the profile; may not contain '/' or '%'."),
        "type": _s("requestsPerSecond (default): the pod's share of the traffic, averaged over the scrape window; "
                   "latency: seconds, base / (1 - CPU utilization) capped at max; errorRate: failed requests/s, "
                   "requests/s x (ratio + the fraction of CPU demand not granted).",
                   enum=["requestsPerSecond", "latency", "errorRate"]),
        "base": _dur("latency: the latency of an idle pod (default 100ms)."),
        "max": _dur("latency: the cap, reported by throttled or saturated pods (default 20 x base)."),
        "ratio": _num("errorRate: the fraction of requests a healthy pod fails, 0 to 1 (default 0)."),
        "labels": _map("Labels of the metric's series, matched by an HPA's metric selector."),
    }, ["name"])  # fmt: skip
    spec = _obj("Traffic over time for the pods a selector picks, and what it costs them.", {
        "selector": _ref(META + "LabelSelector", "The workload's pods (in the profile's namespace)."),
        "traffic": _traffic("Requests per second over time.", "rps", "requests per second"),
        "perPod": per_pod,
        "metrics": _array("Custom metrics the pods expose, derived from the traffic and their CPU usage; read "
                          "by the HPA through the metrics pipeline.", metric,
                          **{"x-kubernetes-list-map-keys": ["name"], "x-kubernetes-list-type": "map"}),
    }, ["selector", "traffic"])  # fmt: skip
    return _kind_schema(g, v, "LoadProfile", "LoadProfile is traffic over time for a workload and what it costs "
                        "its pods; the kubelets' usage engine turns it into CPU and memory usage.", spec,
                        _open("Observed state.", {"conditions": _CONDITIONS}))  # fmt: skip


def _scenario(g: str, v: str) -> Obj:
    """scenario/runtime.py ScenarioSettings.from_object; api/validation.py validate_scenario."""
    spec = _obj("How a run goes: its length, seed and what to record.", {
        "duration": _dur("Virtual time to run for (kubetwin run --duration overrides it)."),
        "seed": _int("Seed of the random number generator; same seed, same run (kubetwin run --seed overrides "
                     "it).", "int64"),
        "sampleInterval": _dur("How often the recorder samples the cluster (default duration / 360, at least "
                               "10s)."),
        "metrics": _obj("The metrics pipeline.", {
            "resolution": _dur("Scrape interval of the resource and custom metrics, like metrics-server's "
                               "--metric-resolution (default 15s); must be greater than 0."),
        }),
    }, ["duration"])  # fmt: skip
    return _kind_schema(g, v, "Scenario", "Scenario sets a run's duration, seed and recording; one per run.", spec,
                        _open("Observed state.", {"conditions": _CONDITIONS}))  # fmt: skip


def _external_metric_series(g: str, v: str) -> Obj:
    """metrics/pipeline.py external_values, series_shape; api/validation.py
    validate_external_metric_series; api/defaults.py default_external_metric_series."""
    spec = _obj("Values over time of one external metric series.", {
        "metricName": _s("Name of the external metric (external.metrics.k8s.io); may not contain '/' or '%'."),
        "labels": _map("Labels of the series (default none), matched by an HPA's External metric selector."),
        "values": _traffic("The metric's value over time, evaluated at each scrape.", "value", "value"),
    }, ["metricName", "values"])  # fmt: skip
    return _kind_schema(g, v, "ExternalMetricSeries", "ExternalMetricSeries gives an external metric's values "
                        "over time (e.g. a queue depth), served by external.metrics.k8s.io in the series' "
                        "namespace.", spec, _open("Observed state.", {"conditions": _CONDITIONS}))  # fmt: skip


def _fault(g: str, v: str) -> Obj:
    spec = _open("A scheduled event: spot interruption, node failure, pod error rate, memory leak.", {
        "type": _s("What happens."),
        "at": _dur("When it happens, from the start of the run."),
        "target": _open("What it hits (kind/name or a selector)."),
    })  # fmt: skip
    return _kind_schema(g, v, "Fault", "Fault is a scheduled failure injected into the twin.", spec,
                        _open("Observed state.", {"conditions": _CONDITIONS}))  # fmt: skip


# (spec field, description) of the ClusterAutoscaler flags in autoscaler/config.py, by type.
_CA_DURATIONS = {
    "scanInterval": "How often the cluster is reevaluated for scale up or down (--scan-interval, default 10s).",
    "scaleDownUnneededTime": "How long a node must be unneeded before it may be scaled down "
                             "(--scale-down-unneeded-time, default 10m).",
    "scaleDownUnreadyTime": "How long an unready node must be unneeded before it may be scaled down "
                            "(--scale-down-unready-time, default 20m).",
    "scaleDownDelayAfterAdd": "How long after a scale-up scale-down evaluation resumes "
                              "(--scale-down-delay-after-add, default 10m).",
    "scaleDownDelayAfterDelete": "How long after a node deletion scale-down evaluation resumes "
                                 "(--scale-down-delay-after-delete, default: the scan interval).",
    "scaleDownDelayAfterFailure": "How long after a failed scale-down scale-down evaluation resumes "
                                  "(--scale-down-delay-after-failure, default 3m).",
    "maxNodeProvisionTime": "How long a requested node may take to register before the scale-up counts as "
                            "timed out and the group backs off (--max-node-provision-time, default 15m).",
    "maxNodeStartupTime": "How long a registered node may take to become Ready (--max-node-startup-time, "
                          "default 15m).",
    "maxPodEvictionTime": "How long eviction of a pod is retried before the drain gives up "
                          "(--max-pod-eviction-time, default 2m).",
    "newPodScaleUpDelay": "Pods younger than this are not yet considered for scale-up "
                          "(--new-pod-scale-up-delay, default 0s).",
    "initialNodeGroupBackoffDuration": "First backoff of a node group after a failed scale-up "
                                       "(--initial-node-group-backoff-duration, default 5m).",
    "maxNodeGroupBackoffDuration": "Longest backoff of a node group; backoffs double up to it "
                                   "(--max-node-group-backoff-duration, default 30m).",
    "nodeGroupBackoffResetTimeout": "How long after the last failure a node group's backoff resets "
                                    "(--node-group-backoff-reset-timeout, default 3h).",
    "nodeDeleteDelayAfterTaint": "How long to wait between tainting a node ToBeDeletedByClusterAutoscaler and "
                                 "deleting it (--node-delete-delay-after-taint, default 5s).",
    "unremovableNodeRecheckTimeout": "How long a node found unremovable by the scale-down simulation (no place "
                                     "for its pods, a pod that blocks draining) is left out of it "
                                     "(--unremovable-node-recheck-timeout, default 5m).",
}
_CA_INTS = {
    "maxGracefulTerminationSec": "Longest termination grace period, in seconds, given to pods evicted during "
                                 "scale-down (--max-graceful-termination-sec, default 600).",
    "maxNodesTotal": "Most nodes in all node groups together; 0 (default) for no limit (--max-nodes-total).",
    "maxNodesPerScaleup": "Most nodes one scale-up may add; caps the binpacking estimate "
                          "(--max-nodes-per-scaleup, default 1000).",
    "maxEmptyBulkDelete": "Most empty nodes deleted at once (--max-empty-bulk-delete, default 10).",
    "maxScaleDownParallelism": "Most nodes, empty or drained, deleted in parallel "
                               "(--max-scale-down-parallelism, default 10).",
    "maxDrainParallelism": "Most non-empty nodes drained in parallel (--max-drain-parallelism, default 1).",
    "expendablePodsPriorityCutoff": "Pods with a priority below this are expendable: they never cause a "
                                    "scale-up and are killed without consideration in scale-down "
                                    "(--expendable-pods-priority-cutoff, default -10).",
}
_CA_BOOLS = {
    "enabled": "kubetwin: run the autoscaler (default true); false pauses it without deleting the object.",
    "scaleDownEnabled": "Whether to scale down at all (--scale-down-enabled, default true).",
    "skipNodesWithLocalStorage": "Never remove nodes running pods with local storage (emptyDir or hostPath "
                                 "volumes) (--skip-nodes-with-local-storage, default true).",
    "skipNodesWithSystemPods": "Never remove nodes running kube-system pods other than DaemonSet and mirror pods "
                               "(--skip-nodes-with-system-pods, default true).",
    "balanceSimilarNodeGroups": "Spread each scale-up over the node groups similar to the chosen one (same "
                                "capacity, allocatable and free resources within the difference ratios, same "
                                "labels but zone, hostname and provider ones) that take the same pods, smallest "
                                "group first (--balance-similar-node-groups, default false).",
    "ignoreDaemonsetsUtilization": "Leave DaemonSet pods out of a node's utilization for scale-down "
                                   "(--ignore-daemonsets-utilization, default false).",
    "ignoreMirrorPodsUtilization": "Leave mirror (static) pods out of a node's utilization for scale-down "
                                   "(--ignore-mirror-pods-utilization, default false).",
}


_CA_FLOATS = {
    "maxAllocatableDifferenceRatio": "Largest relative difference in allocatable resources between similar node "
                                     "groups (--max-allocatable-difference-ratio, default 0.05).",
    "maxFreeDifferenceRatio": "Largest relative difference in free resources (allocatable minus the DaemonSet "
                              "pods' requests) between similar node groups (--max-free-difference-ratio, default "
                              "0.05).",
    "memoryDifferenceRatio": "Largest relative difference in memory capacity between similar node groups "
                             "(--memory-difference-ratio, default 0.015).",
}
_CA_MIN_MAX = {
    "coresTotal": "\"min:max\" cores in the cluster: scale-ups stop short of the max, scale-downs never take it "
                  "below the min (--cores-total, default 0:320000).",
    "memoryTotal": "\"min:max\" GiB of memory in the cluster: scale-ups stop short of the max, scale-downs never "
                   "take it below the min (--memory-total, default 0:6400000).",
}


def _clusterautoscaler(g: str, v: str) -> Obj:
    """autoscaler/config.py Options.from_spec (every spec field; unknown ones are rejected by the
    autoscaler's admission plugin); api/defaults.py default_clusterautoscaler."""
    props: Obj = {k: _dur(d) for k, d in _CA_DURATIONS.items()}
    props.update({k: _int(d) for k, d in _CA_INTS.items()})
    props.update({k: _bool(d) for k, d in _CA_BOOLS.items()})
    props.update({k: _num(d) for k, d in _CA_FLOATS.items()})
    props.update({k: _s(d, pattern=r"^[+-]?[0-9]+:[+-]?[0-9]+$") for k, d in _CA_MIN_MAX.items()})
    props["balancingIgnoreLabel"] = _array(
        "Label keys ignored when comparing node groups for balanceSimilarNodeGroups, on top of the built-in ones "
        "(hostname, zone, region, eks.amazonaws.com/nodegroup, kubetwin.io/nodegroup, ...) "
        "(--balancing-ignore-label, repeatable).", _s("A label key."))
    props["scaleDownUtilizationThreshold"] = _num(
        "Node utilization (the larger of the CPU and memory requests over allocatable) below which a node may be "
        "scaled down, 0 to 1 (--scale-down-utilization-threshold, default 0.5).")
    props["expander"] = _s(
        "Comma-separated chain of expanders choosing the node group to scale up, each narrowing the previous "
        "one's choice: least-waste (default), random, most-pods, least-nodes, price, priority (priorities from "
        "the ConfigMap kube-system/cluster-autoscaler-priority-expander) (--expander).")
    spec = _obj("The cluster autoscaler's flags, camelCased (--scan-interval is scanInterval). An empty spec "
                "means every upstream default.", dict(sorted(props.items())))
    status = _open("Unused: the autoscaler reports in the ConfigMap kube-system/cluster-autoscaler-status and in "
                   "events.")
    return _kind_schema(g, v, "ClusterAutoscaler", "ClusterAutoscaler turns on the cluster autoscaler and sets "
                        "its flags. Cluster-scoped, one per cluster, named default. It scales NodeGroups between "
                        "minSize and maxSize through spec.desiredSize.", spec, status)  # fmt: skip


# -- autoscaling.k8s.io/v1: the Vertical Pod Autoscaler's CRDs (kubernetes/autoscaler
# vertical-pod-autoscaler/deploy/vpa-v1-crd-gen.yaml, the v1 version, as of VPA 1.4 plus the InPlace
# update mode validation knows about). Descriptions are kubetwin's own words for the same fields.

_RESOURCE_VALUE = {
    "anyOf": [{"type": "integer"}, {"type": "string"}],
    "pattern": r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)"
               r"|(\.[0-9]+))))?$",
    "x-kubernetes-int-or-string": True,
}  # fmt: skip


def _resource_list(description: str) -> Obj:
    return {"description": description, "type": "object", "additionalProperties": dict(_RESOURCE_VALUE)}


def _vpa(g: str, v: str) -> Obj:
    """controllers/vpa (recommender, updater, admission, util); api/validation.py validate_vpa."""
    target_ref = _obj(
        "The workload owning the pods to autoscale (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, "
        "CronJob, or any controller with a scale subresource). Only its pod selector is used; the VPA never "
        "changes its replica count. A target that cannot be read sets the ConfigUnsupported condition.", {
            "apiVersion": _s("API version of the referent."),
            "kind": _s("Kind of the referent."),
            "name": _s("Name of the referent, in the VPA's namespace."),
        }, ["kind", "name"], **{"x-kubernetes-map-type": "atomic"})  # fmt: skip
    eviction_requirement = _obj("A condition that must hold for the updater to evict a pod.", {
        "changeRequirement": _s("How the new target must relate to the pod's current requests.",
                                enum=["TargetHigherThanRequests", "TargetLowerThanRequests"]),
        "resources": _array("Resources the requirement applies to; it holds when at least one of them meets "
                            "changeRequirement.", {"type": "string"}),
    }, ["changeRequirement", "resources"])  # fmt: skip
    update_policy = _obj("How recommendations are applied to pods. Unset fields take their defaults.", {
        "updateMode": _s("When the VPA applies recommendations. Off: only computes them. Initial: sets "
                         "resources when pods are created, never changes running pods. Recreate: also evicts "
                         "running pods whose requests are far from the recommendation, so they are recreated "
                         "with it. Auto (the default): currently the same as Recreate. InPlaceOrRecreate and "
                         "InPlace need the VPA's in-place feature gates, which kubetwin does not enable.",
                         enum=["Off", "Initial", "Recreate", "InPlaceOrRecreate", "InPlace", "Auto"]),
        "minReplicas": _int("Fewest live replicas the updater leaves when evicting (PDBs still apply); must be "
                            "positive. Overrides the updater's --min-replicas flag (default 2)."),
        "evictionRequirements": _array("Conditions that must all hold before the updater evicts a pod.",
                                       eviction_requirement),
    })  # fmt: skip
    container_policy = _obj("How recommendations are computed for one container.", {
        "containerName": _s('Name of the container, or "*" for the default policy of containers without one of '
                            "their own."),
        "mode": _s("Whether the container is autoscaled: Auto (default) or Off (no recommendation).",
                   enum=["Auto", "Off"]),
        "minAllowed": _resource_list("Lowest resources recommended for the container (default: no minimum)."),
        "maxAllowed": _resource_list("Highest resources recommended for the container (default: no maximum)."),
        "controlledResources": _array("Resources recommendations are computed (and applied) for: cpu, memory. "
                                      "Default both.", {"type": "string"}),
        "controlledValues": _s("Which values are controlled: RequestsAndLimits (default; limits scale with the "
                               "requests, keeping their ratio) or RequestsOnly.",
                               enum=["RequestsAndLimits", "RequestsOnly"]),
    })  # fmt: skip
    resource_policy = _obj("Constraints on the recommendations, per container. Without one every container of "
                           "the pods is autoscaled without bounds; a container is left alone only with mode Off.", {
        "containerPolicies": _array("Per-container resource policies.", container_policy),
    })  # fmt: skip
    spec = _obj("Desired behaviour of the autoscaler.", {
        "targetRef": target_ref,
        "updatePolicy": update_policy,
        "resourcePolicy": resource_policy,
        "recommenders": _array("The recommender producing recommendations for this object: empty for the "
                               "default recommender, or exactly one.",
                               _obj("A recommender by name.", {"name": _s("Name of the recommender.")}, ["name"])),
    }, ["targetRef"])  # fmt: skip
    recommendation = _obj("Resources recommended for one container, honouring its container policy. Containers "
                          "with mode Off get none.", {
        "containerName": _s("Name of the container."),
        "target": _resource_list("Recommended resources, capped to minAllowed and maxAllowed."),
        "lowerBound": _resource_list("Lowest resources worth running with; less is likely to hurt performance "
                                     "or availability."),
        "upperBound": _resource_list("Highest resources worth giving; more is likely wasted."),
        "uncappedTarget": _resource_list("The target from usage alone, before the container policy's bounds; "
                                         "for information only."),
    }, ["target"])  # fmt: skip
    condition = _obj("A condition of the VPA.", {
        "type": _s("Type of the condition: RecommendationProvided, NoPodsMatched, ConfigUnsupported, "
                   "LowConfidence, FetchingHistory."),
        "status": _s("Status of the condition: True, False or Unknown."),
        "lastTransitionTime": _s("When the condition last changed status.", format="date-time"),
        "reason": _s("Machine-readable reason for the last transition."),
        "message": _s("Human-readable details of the last transition."),
    }, ["type", "status"])  # fmt: skip
    status = _obj("Current state of the autoscaler, written by the recommender.", {
        "recommendation": _obj("The latest recommendation for the controlled pods.", {
            "containerRecommendations": _array("Per-container recommendations.", recommendation),
        }),
        "conditions": _array("Whether the autoscaler can do its work, and why not.", condition),
    })  # fmt: skip
    return _kind_schema(g, v, "VerticalPodAutoscaler", "VerticalPodAutoscaler sets the CPU and memory requests of "
                        "a workload's pods from their historical and current usage.", spec, status,
                        ["spec"])  # fmt: skip


def _vpa_checkpoint(g: str, v: str) -> Obj:
    histogram = _obj("A saved usage histogram.", {
        "bucketWeights": _open("Bucket index to bucket weight."),
        "referenceTimestamp": _s("Time the weights' decay is relative to.", format="date-time", nullable=True),
        "totalWeight": _num("Sum of the samples' weights, the denominator of bucketWeights."),
    })  # fmt: skip
    spec = _obj("What is checkpointed.", {
        "vpaObjectName": _s("Name of the VerticalPodAutoscaler the checkpoint belongs to."),
        "containerName": _s("Name of the container the checkpoint is for."),
    })  # fmt: skip
    status = _obj("The checkpointed state.", {
        "lastUpdateTime": _s("When the checkpoint was last written.", format="date-time", nullable=True),
        "version": _s("Format version of the saved data."),
        "cpuHistogram": {**histogram, "description": "Histogram of the container's CPU usage."},
        "memoryHistogram": {**histogram, "description": "Histogram of the container's memory peaks."},
        "firstSampleStart": _s("Time of the first sample in the histograms.", format="date-time", nullable=True),
        "lastSampleStart": _s("Time of the last sample in the histograms.", format="date-time", nullable=True),
        "totalSamplesCount": _int("Number of samples in the histograms.", "int64"),
    })  # fmt: skip
    return _kind_schema(g, v, "VerticalPodAutoscalerCheckpoint", "VerticalPodAutoscalerCheckpoint saves a VPA "
                        "recommender's state for one container so a restarted recommender can resume. kubetwin's "
                        "recommender writes one per VPA and container name every run and restores its "
                        "histograms from them when it starts.", spec, status)  # fmt: skip


def _crd_name(group: str, version: str, kind: str) -> str:
    """The definition name kube-apiserver publishes for a CRD kind: the reversed group, the version
    and the kind (``kubetwin.io`` -> ``io.kubetwin.v1alpha1.NodeGroup``)."""
    return ".".join([*reversed(group.split(".")), version, kind])


@functools.cache
def _hand_schemas() -> dict[str, Obj]:
    """Every hand-written root schema by definition name."""
    out: dict[str, Obj] = {}
    for group, version, builders in (
        ("kubetwin.io", "v1alpha1", (_nodegroup, _loadprofile, _scenario, _external_metric_series, _fault,
                                     _clusterautoscaler)),
        ("autoscaling.k8s.io", "v1", (_vpa, _vpa_checkpoint)),
    ):  # fmt: skip
        for build in builders:
            s = build(group, version)
            kind = s["x-kubernetes-group-version-kind"][0]["kind"]
            out[_crd_name(group, version, kind)] = s
    return out


# -- documents ----------------------------------------------------------------------------------


def _gv_key(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _served() -> dict[tuple[str, str], list[KindInfo]]:
    out: dict[tuple[str, str], list[KindInfo]] = {}
    for k in all_served():
        out.setdefault((k.group, k.version), []).append(k)
    return out


def _schema_name(info: KindInfo) -> str:
    hand = _crd_name(info.group, info.version, info.kind)
    if hand in _hand_schemas():
        return hand
    return sch.definition_name(info.api_version, info.kind) or f"{KUBETWIN}unknown.{info.kind}"


def _param(name: str, description: str, in_: str = "query", type_: str = "string") -> Obj:
    p: Obj = {"name": name, "in": in_, "description": description, "schema": {"type": type_, "uniqueItems": True}}
    if in_ == "path":
        p["required"] = True
    return p


_P_NAME = _param("name", "name of the object", "path")
_P_NAMESPACE = _param("namespace", "object name and auth scope, such as for teams and projects", "path")
_P_DRYRUN = _param("dryRun", "When present, indicates that modifications should not be persisted. Valid values: "
                   "All")  # fmt: skip
_P_FIELD_MANAGER = _param("fieldManager", "fieldManager is a name associated with the actor or entity that is "
                          "making these changes.")  # fmt: skip
_P_FIELD_VALIDATION = _param(
    "fieldValidation",
    "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing "
    "unknown or duplicate fields. Valid values are: - Ignore - Warn (default) - Strict",
)
_P_FORCE = _param("force", "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting "
                  "fields owned by other people. Force flag must be unset for non-apply patch requests.",
                  type_="boolean")  # fmt: skip
_P_PRETTY = _param("pretty", "If 'true', then the output is pretty printed.")


def _ok(schema_ref: str, code: str = "200") -> Obj:
    content = {"schema": {"$ref": COMPONENTS + schema_ref}}
    return {code: {"description": "OK", "content": {"application/json": content, "application/yaml": content}},
            "401": {"description": "Unauthorized"}}  # fmt: skip


def _operation(op_id: str, action: str, gvk: Obj, schema_ref: str, params: list[Obj], body: list[str] | None,
               description: str) -> Obj:  # fmt: skip
    op: Obj = {
        "description": description,
        "operationId": op_id,
        "parameters": params,
        "responses": _ok(schema_ref),
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
    }
    if body:
        content = {"schema": {"$ref": COMPONENTS + (META + "Patch" if action == "patch" else schema_ref)}}
        op["requestBody"] = {"content": {t: content for t in body}, "required": True}
    return op


def _paths(info: KindInfo, schema_ref: str) -> dict[str, Obj]:
    gvk = {"group": info.group, "version": info.version, "kind": info.kind}
    prefix = f"/apis/{info.group}/{info.version}" if info.group else f"/api/{info.version}"
    collection = f"{prefix}/namespaces/{{namespace}}/{info.plural}" if info.namespaced else f"{prefix}/{info.plural}"
    item = collection + "/{name}"
    scope = [_P_NAMESPACE] if info.namespaced else []
    camel = info.kind
    ns = "Namespaced" if info.namespaced else ""
    patch_types = ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]
    # Custom resources take no strategic merge patch upstream; only built-in kinds advertise it.
    if ADVERTISE_SMP and _crd_name(info.group, info.version, info.kind) not in _hand_schemas():
        patch_types.insert(2, "application/strategic-merge-patch+json")
    write = [_P_DRYRUN, _P_FIELD_MANAGER, _P_FIELD_VALIDATION]
    paths: dict[str, Obj] = {
        collection: {
            "get": _operation(f"list{ns}{camel}", "list", gvk, schema_ref, [], None, f"list or watch objects of kind "
                              f"{info.kind}"),
            "post": _operation(f"create{ns}{camel}", "post", gvk, schema_ref, list(write), ["*/*"],
                               f"create a {info.kind}"),
            "parameters": [*scope, _P_PRETTY],
        },
        item: {
            "get": _operation(f"read{ns}{camel}", "get", gvk, schema_ref, [], None, f"read the specified {info.kind}"),
            "put": _operation(f"replace{ns}{camel}", "put", gvk, schema_ref, list(write), ["*/*"],
                              f"replace the specified {info.kind}"),
            "patch": _operation(f"patch{ns}{camel}", "patch", gvk, schema_ref, [*write, _P_FORCE], patch_types,
                                f"partially update the specified {info.kind}"),
            "delete": _operation(f"delete{ns}{camel}", "delete", gvk, META + "Status", [_P_DRYRUN], None,
                                 f"delete a {info.kind}"),
            "parameters": [_P_NAME, *scope, _P_PRETTY],
        },
    }  # fmt: skip
    if info.status_subresource:
        paths[item + "/status"] = {
            "get": _operation(f"read{ns}{camel}Status", "get", gvk, schema_ref, [], None,
                              f"read status of the specified {info.kind}"),
            "put": _operation(f"replace{ns}{camel}Status", "put", gvk, schema_ref, list(write), ["*/*"],
                              f"replace status of the specified {info.kind}"),
            "patch": _operation(f"patch{ns}{camel}Status", "patch", gvk, schema_ref, [*write, _P_FORCE], patch_types,
                                f"partially update status of the specified {info.kind}"),
            "parameters": [_P_NAME, *scope, _P_PRETTY],
        }  # fmt: skip
    if info.scale_subresource:
        sgvk = {"group": "autoscaling", "version": "v1", "kind": "Scale"}
        scale = "io.k8s.api.autoscaling.v1.Scale"
        paths[item + "/scale"] = {
            "get": _operation(f"read{ns}{camel}Scale", "get", sgvk, scale, [], None,
                              f"read scale of the specified {info.kind}"),
            "put": _operation(f"replace{ns}{camel}Scale", "put", sgvk, scale, list(write), ["*/*"],
                              f"replace scale of the specified {info.kind}"),
            "patch": _operation(f"patch{ns}{camel}Scale", "patch", sgvk, scale, [*write, _P_FORCE], patch_types,
                                f"partially update scale of the specified {info.kind}"),
            "parameters": [_P_NAME, *scope, _P_PRETTY],
        }  # fmt: skip
    return paths


@functools.cache
def _document_json(group: str, version: str) -> str | None:
    kinds = _served().get((group, version))
    if not kinds:
        return None
    paths: dict[str, Obj] = {}
    roots = [META + "Status", META + "Patch", META + "DeleteOptions"]
    hand: dict[str, Obj] = {}
    for info in kinds:
        name = _schema_name(info)
        if name in _hand_schemas():
            hand[name] = _hand_schemas()[name]
            refs: set[str] = set()
            _convert(hand[name], refs)  # the upstream definitions it points at
            roots.extend(sorted(refs))
        else:
            roots.append(name)
        if info.scale_subresource:
            roots.append("io.k8s.api.autoscaling.v1.Scale")
        paths.update(_paths(info, name))
    schemas = _closure(roots)
    schemas.update(hand)
    if META + "Patch" in schemas and not schemas[META + "Patch"]:
        schemas[META + "Patch"] = {"description": "Patch is provided to give a concrete name and type to the "
                                   "Kubernetes PATCH request body.", "type": "object"}  # fmt: skip
    doc = {
        "openapi": OPENAPI_VERSION,
        "info": INFO,
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.items()))},
    }
    return json.dumps(doc, separators=(",", ":"))


def openapi_v3_document(group: str, version: str) -> dict | None:
    """The OpenAPI v3 document of one served group-version (``""``/``v1`` for the core group)."""
    text = _document_json(group, version)
    return json.loads(text) if text is not None else None


def document_hash(group: str, version: str) -> str | None:
    """The ``hash`` query value of a group-version: SHA-512 of its document, upper-case hex, as upstream."""
    text = _document_json(group, version)
    if text is None:
        return None
    return hashlib.sha512(text.encode()).hexdigest().upper()


def openapi_v3_index() -> dict:
    """``GET /openapi/v3``: every served group-version with a ``serverRelativeURL`` carrying its hash."""
    paths: dict[str, Obj] = {}
    for group, version in sorted(_served()):
        key = _gv_key(group, version)
        paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={document_hash(group, version)}"}
    return {"paths": paths}


# -- strict field validation --------------------------------------------------------------------


@functools.cache
def _hand_by_kind() -> dict[tuple[str, str], Obj]:
    """Hand-written root schemas by (apiVersion, kind)."""
    out: dict[tuple[str, str], Obj] = {}
    for s in _hand_schemas().values():
        for gvk in s["x-kubernetes-group-version-kind"]:
            out[(f"{gvk['group']}/{gvk['version']}", gvk["kind"])] = s
    return out


def _lookup(node: Any) -> Any:
    """Resolve a node of either spelling (upstream ``#/$defs`` or our ``#/components/schemas``)."""
    for _ in range(32):
        if not isinstance(node, dict):
            return None
        r = node.get("$ref")
        if isinstance(r, str):
            name = r.rsplit("/", 1)[-1]
            node = sch.definitions().get(name) or _hand_schemas().get(name)
            continue
        all_of = node.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], dict) and "properties" not in node:
            merged = dict(node)
            merged.pop("allOf")
            target = _lookup(all_of[0])
            if isinstance(target, dict):
                return {**target, **{k: v for k, v in merged.items() if k.startswith("x-")}}
            return None
        return node
    return None


def _walk(value: Any, node: Any, path: str, out: list[str], drop: list[tuple[dict, str]] | None = None) -> None:
    node = _lookup(node)
    if node is None or node.get("x-kubernetes-preserve-unknown-fields") and "properties" not in node:
        return
    if isinstance(value, dict):
        props = node.get("properties")
        addl = node.get("additionalProperties")
        if isinstance(props, dict):
            for k, v in value.items():
                sub = f"{path}.{k}" if path else k
                if k in props:
                    _walk(v, props[k], sub, out, drop)
                elif not node.get("x-kubernetes-preserve-unknown-fields") and not isinstance(addl, dict):
                    out.append(sub)
                    if drop is not None:
                        drop.append((value, k))
        elif isinstance(addl, dict):
            for k, v in value.items():
                _walk(v, addl, f"{path}.{k}" if path else k, out, drop)
    elif isinstance(value, list):
        item = node.get("items")
        if isinstance(item, dict):
            for i, v in enumerate(value):
                _walk(v, item, f"{path}[{i}]", out, drop)


def unknown_fields(obj: dict) -> list[str]:
    """Paths of fields the object's schema does not declare (``spec.foo``, ``spec.containers[0].bar``).

    Unknown kinds and the open parts of kubetwin.io schemas (``x-kubernetes-preserve-unknown-fields``)
    report nothing. The server turns the list into upstream's message:
    ``strict decoding error: unknown field "spec.foo", unknown field "spec.bar"``.
    """
    root = _schema_root(obj)
    if root is None:
        return []
    out: list[str] = []
    _walk(obj, root, "", out)
    return out


def prune_unknown_fields(obj: dict) -> list[str]:
    """Drop, in place, the fields ``unknown_fields`` reports, as kube-apiserver's decoding into its
    types (and structural pruning for custom resources) does under fieldValidation Warn or Ignore;
    returns their paths."""
    root = _schema_root(obj)
    if root is None:
        return []
    out: list[str] = []
    drop: list[tuple[dict, str]] = []
    _walk(obj, root, "", out, drop)
    for parent, key in drop:
        parent.pop(key, None)
    return out


def _schema_root(obj: Any) -> Any:
    """The schema of ``obj``'s apiVersion/kind (the hand-written ones first); None when unknown."""
    if not isinstance(obj, dict):
        return None
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return None
    root = _hand_by_kind().get((api_version, kind))
    return root if root is not None else sch.root_for(obj)


def strict_error_message(paths: list[str]) -> str:
    """Upstream's ``fieldValidation=Strict`` failure text for ``paths``."""
    return "strict decoding error: " + ", ".join(f'unknown field "{p}"' for p in paths)
