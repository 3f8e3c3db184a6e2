"""The ``cluster-autoscaler-status`` ConfigMap in kube-system (cluster-autoscaler/clusterstate/api
types.go and clusterstate/utils/status.go, the YAML format of 1.30+): ``data.status`` holds

    time, autoscalerStatus (Running),
    clusterWide: {health: {status, nodeCounts, ...}, scaleUp: {status}, scaleDown: {status, candidates}},
    nodeGroups: [{name, health: {status, nodeCounts, cloudProviderTarget, minSize, maxSize},
                  scaleUp: {status (InProgress | NoActivity | Backoff), backoffInfo}, scaleDown: {...}}]

with ``lastProbeTime``/``lastTransitionTime`` on every condition, and the annotation
``cluster-autoscaler.kubernetes.io/last-updated``. The twin writes it only when something other than
the probe times changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

NAMESPACE = "kube-system"
NAME = "cluster-autoscaler-status"
LAST_UPDATED = "cluster-autoscaler.kubernetes.io/last-updated"

HEALTHY = "Healthy"
UNHEALTHY = "Unhealthy"
IN_PROGRESS = "InProgress"
NO_ACTIVITY = "NoActivity"
BACKOFF = "Backoff"
CANDIDATES_PRESENT = "CandidatesPresent"
NO_CANDIDATES = "NoCandidates"
# clusterstate: a node group / the cluster is unhealthy when unready nodes exceed both
MAX_TOTAL_UNREADY_PERCENTAGE = 45.0
OK_TOTAL_UNREADY_COUNT = 3


@dataclass
class Counts:
    ready: int = 0
    unready: int = 0
    not_started: int = 0
    long_unregistered: int = 0
    unregistered: int = 0

    @property
    def registered(self) -> int:
        return self.ready + self.unready + self.not_started

    def add(self, other: Counts) -> None:
        self.ready += other.ready
        self.unready += other.unready
        self.not_started += other.not_started
        self.long_unregistered += other.long_unregistered
        self.unregistered += other.unregistered

    def healthy(self) -> bool:
        total = self.registered
        limit = max(MAX_TOTAL_UNREADY_PERCENTAGE / 100.0 * total, OK_TOTAL_UNREADY_COUNT)
        return self.unready + self.long_unregistered <= limit

    def to_dict(self) -> dict[str, Any]:
        return {
            "registered": {
                "total": self.registered,
                "ready": self.ready,
                "notStarted": self.not_started,
                "unready": {"total": self.unready, "resourceUnready": 0},
            },
            "longUnregistered": self.long_unregistered,
            "unregistered": self.unregistered,
        }


@dataclass
class GroupStatus:
    name: str
    counts: Counts
    target: int
    min_size: int
    max_size: int
    scale_up: str = NO_ACTIVITY
    backoff: tuple[str, str] | None = None  # (errorCode, errorMessage)
    candidates: int = 0


@dataclass
class StatusWriter:
    """Builds the status document, keeping lastTransitionTime per condition across writes."""

    transitions: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    last_body: Any = None

    def _cond(self, where: str, part: str, status: str, now: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        prev = self.transitions.get((where, part))
        since = prev[1] if prev and prev[0] == status else now
        self.transitions[(where, part)] = (status, since)
        out: dict[str, Any] = {"status": status}
        out.update(extra or {})
        out["lastProbeTime"] = now
        out["lastTransitionTime"] = since
        return out

    def document(self, groups: list[GroupStatus], cluster_scale_up: str, now: str) -> dict[str, Any]:
        total = Counts()
        for g in groups:
            total.add(g.counts)
        candidates = sum(g.candidates for g in groups)
        doc: dict[str, Any] = {
            "time": now,
            "autoscalerStatus": "Running",
            "clusterWide": {
                "health": self._cond("cluster", "health", HEALTHY if total.healthy() else UNHEALTHY, now,
                                     {"nodeCounts": total.to_dict()}),
                "scaleUp": self._cond("cluster", "scaleUp", cluster_scale_up, now),
                "scaleDown": self._cond("cluster", "scaleDown", CANDIDATES_PRESENT if candidates else NO_CANDIDATES,
                                        now, {"candidates": candidates} if candidates else None),
            },  # fmt: skip
            "nodeGroups": [],
        }
        for g in groups:
            up_extra: dict[str, Any] = {}
            if g.backoff is not None:
                up_extra["backoffInfo"] = {"errorCode": g.backoff[0], "errorMessage": g.backoff[1]}
            doc["nodeGroups"].append({
                "name": g.name,
                "health": self._cond(g.name, "health", HEALTHY if g.counts.healthy() else UNHEALTHY, now, {
                    "nodeCounts": g.counts.to_dict(),
                    "cloudProviderTarget": g.target,
                    "minSize": g.min_size,
                    "maxSize": g.max_size,
                }),
                "scaleUp": self._cond(g.name, "scaleUp", g.scale_up, now, up_extra),
                "scaleDown": self._cond(g.name, "scaleDown", CANDIDATES_PRESENT if g.candidates else NO_CANDIDATES,
                                        now, {"candidates": g.candidates} if g.candidates else None),
            })  # fmt: skip
        return doc


def _strip_times(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {k: _strip_times(v) for k, v in doc.items() if k not in ("time", "lastProbeTime")}
    if isinstance(doc, list):
        return [_strip_times(v) for v in doc]
    return doc


# libyaml's emitter when PyYAML has it (4x faster; the status is rendered whenever it changes)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def render(doc: dict[str, Any]) -> str:
    """The document as PyYAML's block style writes it (sort_keys=False): written out here when
    every key and value is simple (:func:`_block`: the status's shape), else by PyYAML."""
    out: list[str] = []
    if _block(doc, "", out):
        return "".join(out)
    return yaml.dump(doc, Dumper=_DUMPER, sort_keys=False, default_flow_style=False)


# strings PyYAML writes on one line, plain or in single quotes, whatever the column: no spaces,
# quotes or indicator characters, no trailing ":" (quoted), under 123 characters (a longer key is
# written "? key"); whether quoted is what its resolver says (an implicit bool,
# null, number or timestamp, as plain, is quoted)
_SIMPLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,121}(?<!:)\Z")
_RESOLVER = yaml.resolver.Resolver()
_STR_TAG = "tag:yaml.org,2002:str"
_scalars: dict[str, str] = {}  # string -> how it is written (the statuses, names, keys)


def _scalar(value: Any) -> str | None:
    """How PyYAML writes ``value`` (an int or a :data:`_SIMPLE` string), None for others."""
    if type(value) is int:
        return str(value)
    if type(value) is not str:
        return None
    hit = _scalars.get(value)
    if hit is not None:
        return hit
    if not _SIMPLE.match(value):
        return None
    plain = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False)) == _STR_TAG
    text = value if plain else f"'{value}'"
    if len(_scalars) >= 1024:
        _scalars.clear()  # (times: a new one each write)
    _scalars[value] = text
    return text


def _block(mapping: dict[str, Any], pad: str, out: list[str], first: str | None = None) -> bool:
    """Append ``mapping`` in block style at indentation ``pad`` (``first``: the prefix of its first
    line instead, "- " and the list's indentation for an item); False when some key or value is
    not one :func:`_scalar`, a mapping or a list of mappings writes."""
    lead = pad if first is None else first
    for k, v in mapping.items():
        key = _scalar(k)
        if key is None or type(k) is not str:
            return False
        if type(v) is dict or type(v) is list:
            if not v:
                out.append(f"{lead}{key}: {{}}\n" if type(v) is dict else f"{lead}{key}: []\n")
            else:
                out.append(f"{lead}{key}:\n")
                if not _nested(v, pad, out):
                    return False
        else:
            text = _scalar(v)
            if text is None:
                return False
            out.append(f"{lead}{key}: {text}\n")
        lead = pad
    return True


def _nested(value: dict[str, Any] | list[Any], pad: str, out: list[str]) -> bool:
    """Append a non-empty mapping, or list of mappings, under a key at indentation ``pad``."""
    if type(value) is dict:
        return _block(value, pad + "  ", out)
    return all(type(item) is dict and item and _block(item, pad + "  ", out, pad + "- ") for item in value)


def changed(writer: StatusWriter, doc: dict[str, Any]) -> bool:
    body = _strip_times(doc)
    if body == writer.last_body:
        return False
    writer.last_body = body
    return True
