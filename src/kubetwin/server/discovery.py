"""Discovery documents (k8s.io/apiserver/pkg/endpoints/discovery: legacy APIVersions /
APIGroupList / APIResourceList, and aggregated discovery apidiscovery.k8s.io v2 and v2beta1).

Everything is derived from ``api.kinds`` (every served version: HorizontalPodAutoscaler is listed
under autoscaling/v2, the preferred version, and autoscaling/v1) plus the few groups the server answers itself
(metrics.k8s.io for ``kubectl top``, authorization.k8s.io for ``kubectl auth can-i``). kubectl
recognises aggregated discovery only by the response Content-Type, so ``negotiate`` reads the
Accept list in order and returns the version to answer with (or None for legacy).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubetwin import KUBERNETES_VERSION
from kubetwin.api import kinds

AGGREGATED_CT = "application/json;g=apidiscovery.k8s.io;v={v};as=APIGroupDiscoveryList"
SUB_VERBS = ["get", "patch", "update"]


@dataclass(frozen=True)
class Sub:
    name: str
    group: str
    version: str
    kind: str
    verbs: tuple[str, ...]


@dataclass(frozen=True)
class Res:
    """One served resource (top level), with its subresources."""

    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    verbs: tuple[str, ...]
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[Sub, ...] = ()


def _subresources(k: kinds.KindInfo) -> tuple[Sub, ...]:
    subs: list[Sub] = []
    if k.kind == "Namespace":
        subs.append(Sub("finalize", "", "v1", "Namespace", ("update",)))
    if k.kind == "Pod":
        subs += [
            Sub("binding", "", "v1", "Binding", ("create",)),
            Sub("eviction", "policy", "v1", "Eviction", ("create",)),
            Sub("log", "", "v1", "Pod", ("get",)),
        ]
    if k.scale_subresource:
        subs.append(Sub("scale", "autoscaling", "v1", "Scale", tuple(SUB_VERBS)))
    if k.status_subresource:
        subs.append(Sub("status", k.group, k.version, k.kind, tuple(SUB_VERBS)))
    return tuple(subs)


def _build() -> list[Res]:
    out = [
        Res(
            k.group,
            k.version,
            k.plural,
            k.singular_name,
            k.kind,
            k.namespaced,
            tuple(k.verbs),
            tuple(k.short_names),
            tuple(k.categories),
            _subresources(k),
        )
        for k in kinds.all_served()
    ]
    out += [
        Res("metrics.k8s.io", "v1beta1", "nodes", "", "NodeMetrics", False, ("get", "list")),
        Res("metrics.k8s.io", "v1beta1", "pods", "", "PodMetrics", True, ("get", "list")),
        Res(
            "authorization.k8s.io",
            "v1",
            "selfsubjectaccessreviews",
            "",
            "SelfSubjectAccessReview",
            False,
            ("create",),
        ),
        Res("authorization.k8s.io", "v1", "selfsubjectrulesreviews", "", "SelfSubjectRulesReview", False, ("create",)),
    ]
    return out


RESOURCES: list[Res] = _build()


def group_versions() -> list[tuple[str, str]]:
    """(group, version) in serving order; the core group "" first."""
    seen: list[tuple[str, str]] = []
    for r in RESOURCES:
        gv = (r.group, r.version)
        if gv not in seen:
            seen.append(gv)
    return seen


def resources_of(group: str, version: str) -> list[Res]:
    return [r for r in RESOURCES if r.group == group and r.version == version]


def version_info() -> dict[str, Any]:
    major, minor, *_ = KUBERNETES_VERSION.lstrip("v").split(".")
    return {
        "major": major,
        "minor": minor,
        "gitVersion": KUBERNETES_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23.4",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


# -- legacy ------------------------------------------------------------------------------------
def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group_entry(group: str) -> dict[str, Any]:
    versions = [{"groupVersion": f"{g}/{v}", "version": v} for g, v in group_versions() if g == group]
    return {"name": group, "versions": versions, "preferredVersion": versions[0]}


def api_group_list() -> dict[str, Any]:
    groups: list[str] = []
    for g, _v in group_versions():
        if g and g not in groups:
            groups.append(g)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group_entry(g) for g in groups]}


def api_group(group: str) -> dict[str, Any] | None:
    if not any(g == group for g, _ in group_versions()) or not group:
        return None
    return dict(_group_entry(group), kind="APIGroup", apiVersion="v1")


def api_resource_list(group: str, version: str) -> dict[str, Any] | None:
    res = resources_of(group, version)
    if not res:
        return None
    items: list[dict[str, Any]] = []
    for r in res:
        item: dict[str, Any] = {
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": list(r.verbs),
        }
        if r.short_names:
            item["shortNames"] = list(r.short_names)
        if r.categories:
            item["categories"] = list(r.categories)
        items.append(item)
        for s in r.subresources:
            sub: dict[str, Any] = {
                "name": f"{r.plural}/{s.name}",
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": s.kind,
                "verbs": list(s.verbs),
            }
            if (s.group, s.version) != (group, version):
                sub["group"], sub["version"] = s.group, s.version
            items.append(sub)
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": items}


# -- aggregated --------------------------------------------------------------------------------
def negotiate(accept: str) -> str | None:
    """"v2", "v2beta1" or None (legacy) from an Accept header, honouring its order."""
    for part in accept.split(","):
        params = [p.strip() for p in part.split(";")]
        if params[0] not in ("application/json", "*/*"):
            continue
        kv = dict(p.split("=", 1) for p in params[1:] if "=" in p)
        if kv.get("g") == "apidiscovery.k8s.io" and kv.get("as") == "APIGroupDiscoveryList":
            if kv.get("v") in ("v2", "v2beta1"):
                return kv["v"]
            continue
        if not kv.get("as"):
            return None
    return None


def _aggregated_resource(r: Res) -> dict[str, Any]:
    d: dict[str, Any] = {
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": "Namespaced" if r.namespaced else "Cluster",
        "singularResource": r.singular,
        "verbs": list(r.verbs),
    }
    if r.short_names:
        d["shortNames"] = list(r.short_names)
    if r.categories:
        d["categories"] = list(r.categories)
    if r.subresources:
        d["subresources"] = [
            {
                "subresource": s.name,
                "responseKind": {"group": s.group, "version": s.version, "kind": s.kind},
                "verbs": list(s.verbs),
            }
            for s in r.subresources
        ]
    return d


def aggregated(version: str, core: bool) -> dict[str, Any]:
    """The APIGroupDiscoveryList for ``/api`` (core) or ``/apis``."""
    items: list[dict[str, Any]] = []
    by_group: dict[str, list[str]] = {}
    for g, v in group_versions():
        if (g == "") == core:
            by_group.setdefault(g, []).append(v)
    for g, versions in by_group.items():
        items.append(
            {
                "metadata": {"name": g, "creationTimestamp": None},
                "versions": [
                    {
                        "version": v,
                        "resources": [_aggregated_resource(r) for r in resources_of(g, v)],
                        "freshness": "Current",
                    }
                    for v in versions
                ],
            }
        )
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": f"apidiscovery.k8s.io/{version}",
        "metadata": {},
        "items": items,
    }
