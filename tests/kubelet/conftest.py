"""An in-process stack for kubelet tests: EventLoop + Store + Registry + Client + informers."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from kubetwin.client import Client, InformerFactory  # noqa: E402
from kubetwin.kubelet import KubeletManager  # noqa: E402
from kubetwin.sim import EventLoop, SeededRNG  # noqa: E402
from kubetwin.store import Registry, Store  # noqa: E402


@dataclass
class Stack:
    loop: EventLoop
    client: Client
    informers: InformerFactory
    kubelets: KubeletManager

    def pod(self, name: str, ns: str = "default") -> dict[str, Any]:
        return self.client.get("pods", name, ns)

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        evs = self.client.list("events")
        evs.sort(key=lambda e: int(e["metadata"]["name"].rsplit(".", 1)[1], 16))  # creation order
        return [e for e in evs if name is None or e["involvedObject"]["name"] == name]

    def run_pod(self, pod: dict[str, Any], node: str) -> None:
        self.client.create(pod)
        m = pod["metadata"]
        self.client.bind(m.get("namespace", "default"), m["name"], node)


def make_stack(seed: int = 1, **kw: Any) -> Stack:
    loop = EventLoop()
    rng = SeededRNG(seed)
    reg = Registry(Store(), loop, rng)
    reg.bootstrap()
    client = Client(reg)
    informers = InformerFactory(reg)
    km = KubeletManager(client, informers, rng, **kw)
    km.start()
    return Stack(loop, client, informers, km)


@pytest.fixture
def stack() -> Stack:
    return make_stack()
