"""Synthetic container logs for ``pods/log`` (pkg/registry/core/pod/rest/log.go serves the
kubelet's log; a twin has no processes, so lines are generated from the container's image and
run time: one startup block then a line every LINE_INTERVAL virtual seconds, deterministic per
pod uid). Error messages are upstream's (pkg/kubelet/kubelet_pods.go validateContainerLogStatus,
pkg/registry/core/pod/strategy.go LogLocation)."""

from __future__ import annotations

import hashlib
from typing import Any

from kubetwin.api import errors
from kubetwin.sim import EventLoop

LINE_INTERVAL = 15.0
MAX_LINES = 5000
_PATHS = ["/", "/healthz", "/api/items", "/api/cart", "/static/app.js", "/api/orders", "/metrics"]


def _pick(seed: str, i: int, n: int) -> int:
    return int.from_bytes(hashlib.blake2b(f"{seed}/{i}".encode(), digest_size=4).digest(), "big") % n


def pod_log(
    pod: dict[str, Any],
    container: str | None,
    tail: int | None,
    clock: EventLoop,
    timestamps: bool = False,
    previous: bool = False,
) -> str:
    meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    name = meta["name"]
    names = [c.get("name", "") for c in spec.get("containers") or []]
    all_names = names + [c.get("name", "") for c in spec.get("initContainers") or []]
    if container is None:
        if len(names) != 1:
            raise errors.bad_request(
                f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"
            )
        container = names[0]
    if container not in all_names:
        raise errors.bad_request(f"container {container} is not valid for pod {name}")
    cs = next(
        (
            s
            for s in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or [])
            if s.get("name") == container
        ),
        None,
    )
    state = (cs or {}).get("state") or {}
    if previous:
        last = (cs or {}).get("lastState") or {}
        if not last.get("terminated"):
            raise errors.bad_request(
                f'previous terminated container "{container}" in pod "{name}" not found'
            )
        state = last
    started_at = (state.get("running") or state.get("terminated") or {}).get("startedAt")
    if not started_at:
        reason = (state.get("waiting") or {}).get("reason") or "ContainerCreating"
        raise errors.bad_request(f'container "{container}" in pod "{name}" is waiting to start: {reason}')
    start = clock.parse_timestamp(started_at)
    finished = (state.get("terminated") or {}).get("finishedAt")
    end = clock.parse_timestamp(finished) if finished else clock.now
    image = next(
        (c.get("image", "") for c in (spec.get("containers") or []) + (spec.get("initContainers") or []) if c.get("name") == container),
        "",
    )
    seed = f"{meta.get('uid', name)}/{container}"
    lines: list[tuple[float, str]] = [(start, f"starting {container} ({image})"), (start, "listening on :8080")]
    n = min(int(max(0.0, end - start) // LINE_INTERVAL), MAX_LINES)
    first = max(1, n - (tail or n) + 1) if tail is not None else 1
    for i in range(first, n + 1):
        at = start + i * LINE_INTERVAL
        path = _PATHS[_pick(seed, i, len(_PATHS))]
        ms = 1 + _pick(seed, -i, 250)
        code = 200 if _pick(seed, i * 7, 50) else 500
        lines.append((at, f'10.0.{_pick(seed, i, 255)}.{_pick(seed, i + 1, 255)} "GET {path} HTTP/1.1" {code} {ms}ms'))
    if tail is not None:
        lines = lines[-tail:] if tail > 0 else []
    out = [(f"{clock.micro_timestamp(at)} " if timestamps else "") + text for at, text in lines]
    return "".join(line + "\n" for line in out)
