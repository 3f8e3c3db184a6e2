"""Small formatting helpers shared by the kubelet modules.

- ``go_duration``: Go's ``time.Duration.String()`` (``1m20s``, ``5m0s``, ``1.234s``, ``500ms``), which
  the kubelet's messages embed (back-off, image pull times).
- ``format_pod``: pkg/kubelet/util/format/pod.go ``Pod``: ``name_namespace(uid)``.
- ``normalize_image``/``image_id``/``default_pull_policy``: docker reference normalisation as
  containerd reports images to the CRI (github.com/distribution/reference ParseNormalizedNamed:
  ``nginx`` -> ``docker.io/library/nginx:latest``) and the API defaulting of imagePullPolicy
  (pkg/apis/core/v1/defaults.go SetDefaults_Container: ``Always`` for ``:latest`` or no tag).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

_NS = 1_000_000_000


def _fmt_frac(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}.{str(frac).rjust(digits, '0').rstrip('0')}"


def go_duration(seconds: float) -> str:
    ns = round(seconds * _NS)
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1000:
        return f"{sign}{ns}ns"
    if ns < 1_000_000:
        return f"{sign}{_fmt_frac(ns, 1000)}µs"
    if ns < _NS:
        return f"{sign}{_fmt_frac(ns, 1_000_000)}ms"
    hours, rem = divmod(ns, 3600 * _NS)
    minutes, rem = divmod(rem, 60 * _NS)
    out = sign
    if hours:
        out += f"{hours}h"
    if hours or minutes:
        out += f"{minutes}m"
    return out + _fmt_frac(rem, _NS) + "s"


def format_pod(pod: dict[str, Any]) -> str:
    m = pod.get("metadata") or {}
    return f"{m.get('name', '')}_{m.get('namespace', '')}({m.get('uid', '')})"


def _split(image: str) -> tuple[str, str | None, str | None]:
    """(repository, tag, digest)."""
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :], digest or None
    return name, None, digest or None


def _normalize_repo(repo: str) -> str:
    first, sep, _ = repo.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return repo
    if not sep:
        return f"docker.io/library/{repo}"
    return f"docker.io/{repo}"


@lru_cache(maxsize=4096)  # a pure function of the reference: computed once per image
def normalize_image(image: str) -> str:
    repo, tag, digest = _split(image.strip())
    repo = _normalize_repo(repo)
    if digest:
        return f"{repo}@{digest}"
    return f"{repo}:{tag or 'latest'}"


@lru_cache(maxsize=4096)  # a pure function of the reference: computed once per image
def image_id(image: str) -> str:
    """``repo@sha256:<digest>``; the digest is a stable hash of the normalised reference."""
    repo, _, digest = _split(image.strip())
    repo = _normalize_repo(repo)
    if digest:
        return f"{repo}@{digest}"
    return f"{repo}@sha256:{hashlib.sha256(normalize_image(image).encode()).hexdigest()}"


@lru_cache(maxsize=4096)  # a pure function of the reference: computed once per image
def image_size(image: str) -> int:
    """A stable stand-in for the compressed image size (10-250 MB); the twin has no registry."""
    h = int(hashlib.sha256(normalize_image(image).encode()).hexdigest()[:8], 16)
    return 10_000_000 + h % 240_000_000


@lru_cache(maxsize=4096)  # a pure function of the reference: computed once per image
def default_pull_policy(image: str) -> str:
    _, tag, digest = _split(image.strip())
    if digest is None and (tag is None or tag == "latest"):
        return "Always"
    return "IfNotPresent"
