"""Load Kubernetes manifests from files and directories, as ``kubectl apply -f DIR -R`` would.

Every ``*.yaml``/``*.yml``/``*.json`` under a path (recursively, sorted by path) is read; files may
hold several YAML documents; ``kind: List`` (and ``*List``) documents are flattened into their
items; empty documents are skipped. Documents are then ordered so that what others depend on is
created first (namespaces, priority classes, node groups and nodes before workloads), keeping file
order within a rank.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SUFFIXES = (".yaml", ".yml", ".json")

# Lower rank is applied first. Unknown kinds go last but before nothing else.
_RANK = {
    "Scenario": 0,
    "Namespace": 1,
    "PriorityClass": 2,
    "RuntimeClass": 2,
    "NodeGroup": 3,
    "Node": 3,
    "ServiceAccount": 4,
    "ConfigMap": 4,
    "Secret": 4,
    "LimitRange": 4,
    "ResourceQuota": 4,
    "PersistentVolume": 4,
    "PersistentVolumeClaim": 5,
    "Service": 5,
    "Endpoints": 5,
    "PodDisruptionBudget": 6,
    "LoadProfile": 6,
    "ExternalMetricSeries": 6,
    "DaemonSet": 7,
    "Deployment": 8,
    "ReplicaSet": 8,
    "StatefulSet": 8,
    "Job": 8,
    "CronJob": 8,
    "Pod": 9,
    "HorizontalPodAutoscaler": 10,
    "Fault": 11,
}
_DEFAULT_RANK = 10


class ManifestError(Exception):
    """A manifest that cannot be read; the message names the file (and document)."""


@dataclass(frozen=True)
class Document:
    obj: dict[str, Any]
    source: str
    index: int  # document number within the file, from 1

    @property
    def where(self) -> str:
        return f"{self.source} (document {self.index})"

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))


def find_files(path: str | Path) -> list[Path]:
    p = Path(path)
    if not p.exists():
        raise ManifestError(f"{path}: no such file or directory")
    if p.is_file():
        return [p]
    files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUFFIXES)
    if not files:
        raise ManifestError(f"{path}: no *.yaml, *.yml or *.json files found")
    return files


def _flatten(obj: Any, source: str, index: int) -> list[Document]:
    if not isinstance(obj, dict):
        raise ManifestError(
            f"{source} (document {index}): expected a mapping with apiVersion and kind, got {type(obj).__name__}"
        )
    kind = obj.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(obj.get("items"), list):
        out: list[Document] = []
        for item in obj["items"]:
            out.extend(_flatten(item, source, index))
        return out
    if not obj.get("apiVersion") or not kind:
        raise ManifestError(f"{source} (document {index}): Object 'Kind' or 'apiVersion' is missing")
    return [Document(obj, source, index)]


def load_file(path: Path) -> list[Document]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ManifestError(f"{path}: cannot read: {e}") from None
    try:
        raw_docs = list(yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ManifestError(f"{path}:{where}: invalid YAML: {problem}") from None
    docs: list[Document] = []
    for i, raw in enumerate(raw_docs, start=1):
        if raw is None:
            continue
        docs.extend(_flatten(raw, str(path), i))
    return docs


def load(path: str | Path) -> list[Document]:
    """All documents under ``path`` in apply order (LoadProfile trace files inlined)."""
    docs: list[Document] = []
    for f in find_files(path):
        docs.extend(inline_files(d) for d in load_file(f))
    return order(docs)


def inline_files(doc: Document) -> Document:
    """A LoadProfile's ``trace.csv`` file path, relative to the manifest's directory, becomes the
    file's content, so the object is complete without the files next to it."""
    if doc.kind != "LoadProfile":
        return doc
    from kubetwin.kubelet.loadprofile import inline_trace_file

    try:
        obj = inline_trace_file(doc.obj, Path(doc.source).parent)
    except ValueError as e:
        raise ManifestError(f"{doc.where}: {e}") from None
    return doc if obj is doc.obj else Document(obj, doc.source, doc.index)


def order(docs: list[Document]) -> list[Document]:
    return sorted(docs, key=lambda d: _RANK.get(d.kind, _DEFAULT_RANK))  # sorted() is stable
