"""The kinds kubetwin serves: group, version, kind, plural, scope, short names, subresources.

This is the single table the store, the client, the server's discovery documents and the scenario
loader read. A *resource* is named the kubectl way: ``pods`` for the core group and
``deployments.apps`` / ``nodegroups.kubetwin.io`` otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

from kubetwin.api.errors import ApiError


@dataclass(frozen=True)
class KindInfo:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    status_subresource: bool = True
    scale_subresource: bool = False
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = (
        "create", "delete", "deletecollection", "get", "list", "patch", "update", "watch",
    )  # fmt: skip
    singular: str = field(default="")
    # Further versions served by conversion from this (stored) one (api.conversion).
    served_versions: tuple[str, ...] = ()
    # Set on the views ``served_as`` makes: the version objects are stored in ("" on the table's own entries).
    storage_version: str = ""

    @property
    def converted(self) -> bool:
        """True for a served version whose objects are converted from the stored version."""
        return bool(self.storage_version) and self.storage_version != self.version

    @property
    def storage_api_version(self) -> str:
        v = self.storage_version or self.version
        return f"{self.group}/{v}" if self.group else v

    # Both are read on every registry call: formatted once per KindInfo (the instance's __dict__
    # holds them; equality and hashing look at the fields only).
    @cached_property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @cached_property
    def resource(self) -> str:
        """kubectl-style qualified resource name (``pods``, ``deployments.apps``)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()


_ALL = ("all",)
KINDS: tuple[KindInfo, ...] = (
    # core/v1
    KindInfo("", "v1", "Namespace", "namespaces", False, ("ns",)),
    KindInfo("", "v1", "Node", "nodes", False, ("no",)),
    KindInfo("", "v1", "Pod", "pods", True, ("po",), categories=_ALL),
    KindInfo("", "v1", "Service", "services", True, ("svc",), categories=_ALL),
    KindInfo("", "v1", "Endpoints", "endpoints", True, ("ep",), status_subresource=False, singular="endpoints"),
    KindInfo("", "v1", "ConfigMap", "configmaps", True, ("cm",), status_subresource=False),
    KindInfo("", "v1", "Secret", "secrets", True, status_subresource=False),
    KindInfo("", "v1", "ServiceAccount", "serviceaccounts", True, ("sa",), status_subresource=False),
    KindInfo("", "v1", "Event", "events", True, ("ev",), status_subresource=False),
    KindInfo("", "v1", "LimitRange", "limitranges", True, ("limits",), status_subresource=False),
    KindInfo("", "v1", "ResourceQuota", "resourcequotas", True, ("quota",)),
    KindInfo("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, ("pvc",)),
    KindInfo("", "v1", "PersistentVolume", "persistentvolumes", False, ("pv",)),
    # apps/v1
    KindInfo("apps", "v1", "Deployment", "deployments", True, ("deploy",), scale_subresource=True, categories=_ALL),
    KindInfo("apps", "v1", "ReplicaSet", "replicasets", True, ("rs",), scale_subresource=True, categories=_ALL),
    KindInfo("apps", "v1", "DaemonSet", "daemonsets", True, ("ds",), categories=_ALL),
    KindInfo("apps", "v1", "StatefulSet", "statefulsets", True, ("sts",), scale_subresource=True, categories=_ALL),
    KindInfo("apps", "v1", "ControllerRevision", "controllerrevisions", True, status_subresource=False),
    # batch/v1
    KindInfo("batch", "v1", "Job", "jobs", True, categories=_ALL),
    KindInfo("batch", "v1", "CronJob", "cronjobs", True, ("cj",), categories=_ALL),
    # policy/v1
    KindInfo("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True, ("pdb",)),
    # scheduling.k8s.io/v1
    KindInfo("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", False, ("pc",), status_subresource=False),
    # autoscaling/v2, also served as autoscaling/v1
    KindInfo(
        "autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", True, ("hpa",), categories=_ALL,
        served_versions=("v1",),
    ),
    # autoscaling.k8s.io/v1 (the Vertical Pod Autoscaler's CRDs)
    KindInfo("autoscaling.k8s.io", "v1", "VerticalPodAutoscaler", "verticalpodautoscalers", True, ("vpa",)),
    KindInfo("autoscaling.k8s.io", "v1", "VerticalPodAutoscalerCheckpoint", "verticalpodautoscalercheckpoints", True,
             ("vpacheckpoint",), status_subresource=False),  # fmt: skip
    # node.k8s.io/v1
    KindInfo("node.k8s.io", "v1", "RuntimeClass", "runtimeclasses", False, status_subresource=False),
    # coordination.k8s.io/v1
    KindInfo("coordination.k8s.io", "v1", "Lease", "leases", True, status_subresource=False),
    # networking.k8s.io/v1
    KindInfo("networking.k8s.io", "v1", "Ingress", "ingresses", True, ("ing",)),
    KindInfo("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True, ("netpol",), status_subresource=False),
    # kubetwin.io/v1alpha1 — kubetwin's own kinds
    KindInfo("kubetwin.io", "v1alpha1", "NodeGroup", "nodegroups", False, ("ng",), scale_subresource=True),
    KindInfo("kubetwin.io", "v1alpha1", "LoadProfile", "loadprofiles", True, ("lp",)),
    KindInfo("kubetwin.io", "v1alpha1", "Scenario", "scenarios", False),
    KindInfo("kubetwin.io", "v1alpha1", "ExternalMetricSeries", "externalmetricseries", True, ("ems",)),
    KindInfo("kubetwin.io", "v1alpha1", "Fault", "faults", True),
    KindInfo("kubetwin.io", "v1alpha1", "ClusterAutoscaler", "clusterautoscalers", False, ("ca",)),
)

_BY_RESOURCE = {k.resource: k for k in KINDS}
_BY_GVK = {(k.api_version, k.kind): k for k in KINDS}
_BY_KIND: dict[str, list[KindInfo]] = {}
for _k in KINDS:
    _BY_KIND.setdefault(_k.kind, []).append(_k)

# Older or alternate versions accepted on input and stored as the preferred version.
# (Every version in a kind's served_versions is accepted too: see the end of this module.)
_ALIASES = {
    ("events.k8s.io/v1", "Event"): ("v1", "Event"),
    ("policy/v1beta1", "PodDisruptionBudget"): ("policy/v1", "PodDisruptionBudget"),
}


def by_resource(resource: str) -> KindInfo:
    """Look up ``pods`` / ``deployments.apps``; also accepts a short name or a bare plural."""
    info = _BY_RESOURCE.get(resource)
    if info is not None:
        return info
    for k in KINDS:
        if resource in k.short_names or resource == k.plural or resource == k.kind.lower():
            return k
    raise ApiError(404, "NotFound", f'the server doesn\'t have a resource type "{resource}"')


def by_gvk(api_version: str, kind: str) -> KindInfo:
    key = _ALIASES.get((api_version, kind), (api_version, kind))
    info = _BY_GVK.get(key)
    if info is None:
        known = _BY_KIND.get(kind)
        hint = f" (served as {known[0].api_version})" if known else ""
        raise ApiError(
            400,
            "BadRequest",
            f'no matches for kind "{kind}" in version "{api_version}"{hint}',
        )
    return info


def for_object(obj: dict) -> KindInfo:
    api_version = obj.get("apiVersion")
    kind = obj.get("kind")
    if not isinstance(api_version, str) or not api_version or not isinstance(kind, str) or not kind:
        raise ApiError(400, "BadRequest", "Object 'Kind' or 'apiVersion' is missing in the object")
    return by_gvk(api_version, kind)


def all_kinds() -> tuple[KindInfo, ...]:
    """One entry per stored kind (the version objects are stored and handed to components in)."""
    return KINDS


def served_as(info: KindInfo, version: str) -> KindInfo:
    """The view of ``info`` served as ``version`` (``info`` itself for its stored version)."""
    if version == info.version:
        return info
    if version not in info.served_versions:
        raise ValueError(f"{info.resource} is not served as {version}")
    return replace(info, version=version, served_versions=(), storage_version=info.version)


_SERVED = tuple(v for k in KINDS for v in (k, *(served_as(k, sv) for sv in k.served_versions)))
_ALIASES.update({(v.api_version, v.kind): (v.storage_api_version, v.kind) for v in _SERVED if v.converted})


def all_served() -> tuple[KindInfo, ...]:
    """Every served (group, version, kind): each stored kind followed by its converted versions,
    the order discovery lists versions in (the stored one is the preferred)."""
    return _SERVED
