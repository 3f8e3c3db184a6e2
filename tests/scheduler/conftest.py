"""An in-process stack with the real scheduler for scheduler tests."""

from __future__ import annotations

from typing import Any

import pytest

from kubetwin.client import Client, InformerFactory
from kubetwin.scheduler import Profile, Scheduler
from kubetwin.sim import EventLoop, SeededRNG
from kubetwin.store import Registry, Store

Obj = dict[str, Any]


class SchedStack:
    def __init__(self, seed: int = 1, profile: Profile | None = None, percentage: int = 0) -> None:
        self.loop = EventLoop()
        self.registry = Registry(Store(), self.loop, SeededRNG(seed))
        self.registry.bootstrap()
        self.client = Client(self.registry)
        self.informers = InformerFactory(self.registry)
        self.scheduler = Scheduler(self.client, self.informers, SeededRNG(seed).child("scheduler"), profile, percentage)
        self.scheduler.start()

    def create(self, *objs: Obj) -> None:
        for o in objs:
            self.client.create(o)

    def settle(self, seconds: float = 0.0) -> None:
        self.loop.run(until=self.loop.now + seconds)

    def pod(self, name: str, ns: str = "default") -> Obj:
        return self.client.get("pods", name, ns)

    def node_of(self, name: str, ns: str = "default") -> str | None:
        return (self.pod(name, ns).get("spec") or {}).get("nodeName")

    def events(self, reason: str | None = None, name: str | None = None) -> list[Obj]:
        out = []
        for ns in ("default", "kube-system", "team"):
            try:
                out += self.client.list("events", ns)
            except Exception:  # noqa: BLE001
                pass
        return [e for e in out if (reason is None or e["reason"] == reason)
                and (name is None or e["involvedObject"]["name"] == name)]  # fmt: skip

    def condition(self, name: str) -> Obj | None:
        conds = (self.pod(name).get("status") or {}).get("conditions") or []
        return next((c for c in conds if c["type"] == "PodScheduled"), None)

    def kill(self, name: str, ns: str = "default") -> None:
        """Stand-in for the kubelet finishing a graceful deletion."""
        self.client.delete("pods", name, ns, grace_period_seconds=0)


@pytest.fixture
def stack() -> SchedStack:
    return SchedStack()
