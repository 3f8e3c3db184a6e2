"""Base class for reconcilers (DESIGN.md principle 4).

Handlers only enqueue keys. ``reconcile(key)`` reads from listers, writes through the client,
must be idempotent, and returns ``None`` or a delay in seconds after which to look again. An
ApiError (Conflict, NotFound, ...) requeues the key with rate-limited back-off, as a client-go
controller's ``handleErr`` does; any other exception is a bug and propagates.
"""

from __future__ import annotations

from typing import Any

from kubetwin.api.errors import ApiError
from kubetwin.client.client import Client
from kubetwin.client.events import EventRecorder
from kubetwin.client.informer import InformerFactory
from kubetwin.client.workqueue import WorkQueue
from kubetwin.sim import EventLoop

Obj = dict[str, Any]


class Controller:
    name = "controller"
    #: event-loop priority of the controller's queue (lower runs first at the same instant)
    priority = 10

    def __init__(self, client: Client, informers: InformerFactory) -> None:
        self.client = client
        self.informers = informers
        self.loop: EventLoop = client.clock
        self.queue = WorkQueue(self.loop, self._process, self.name, priority=self.priority)
        self.recorder = EventRecorder(client, self.name)
        self.errors = 0

    def start(self) -> None:
        """Register informer handlers; subclasses call super().start() last or not at all."""

    def enqueue(self, obj: Obj) -> None:
        m = obj["metadata"]
        ns = m.get("namespace")
        self.queue.add(f"{ns}/{m['name']}" if ns else m["name"])

    def reconcile(self, key: str) -> float | None:
        raise NotImplementedError

    def _process(self, key: str) -> None:
        try:
            after = self.reconcile(key)
        except ApiError:
            self.errors += 1
            self.queue.add_rate_limited(key)
            return
        self.queue.forget(key)
        if after is not None:
            self.queue.add_after(key, after)
