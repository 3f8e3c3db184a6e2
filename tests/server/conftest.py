"""Fixtures for driving ``kubetwin serve`` over real HTTP.

``served_cluster`` starts a Server on a free port in a background thread with its own asyncio
loop (the same code path as the CLI, minus signals), paused (speed 0) so tests are deterministic:
virtual time moves only through ``advance``. It yields a ``Served`` with the URL, the kubeconfig
path, an ``api()`` JSON helper, a ``watch()`` line reader and a ``kubectl()`` runner that uses a
private HOME and --cache-dir so kubectl's discovery cache is fresh per test.
Reuse it from other server/e2e tests: ``served_cluster_factory(path=..., speed=...)`` builds more.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from kubetwin.server.serve import ServeOptions, Server


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: Any
    raw: bytes


@dataclass
class Served:
    url: str
    kubeconfig: Path
    home: Path
    server: Server
    loop: asyncio.AbstractEventLoop
    _stops: list[Callable[[], None]] = field(default_factory=list)

    @property
    def host_port(self) -> tuple[str, int]:
        u = urlparse(self.url)
        return u.hostname or "127.0.0.1", int(u.port or 80)

    def api(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Response:
        conn = http.client.HTTPConnection(*self.host_port, timeout=30)
        data: bytes | None
        if body is None:
            data = None
        elif isinstance(body, bytes | str):
            data = body.encode() if isinstance(body, str) else body
        else:
            data = json.dumps(body).encode()
        hdrs = {"Authorization": "Bearer test"}
        if data is not None and content_type:
            hdrs["Content-Type"] = content_type
        hdrs.update(headers or {})
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        conn.close()
        try:
            parsed: Any = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, parsed, raw)

    def watch(self, path: str, max_events: int, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Read up to ``max_events`` JSON lines from a watch (stops early when the server closes)."""
        conn = http.client.HTTPConnection(*self.host_port, timeout=30)
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        events = []
        try:
            while len(events) < max_events:
                line = resp.readline()
                if not line:
                    break
                events.append(json.loads(line))
        finally:
            conn.close()
        return events

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the server's loop (the only thread that may touch the store)."""

        async def wrapper() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result(30)

    def advance(self, duration: str) -> dict[str, Any]:
        r = self.api("POST", "/apis/kubetwin.io/v1alpha1/clock/advance", {"duration": duration})
        assert r.status == 200, r.body
        return r.body

    def kubectl(self, *args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, HOME=str(self.home), KUBECONFIG=str(self.kubeconfig))
        proc = subprocess.run(
            ["kubectl", "--cache-dir", str(self.home / "cache"), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc


def start_served(tmp: Path, **options: Any) -> Served:
    opts = ServeOptions(
        address="127.0.0.1",
        port=0,
        kubeconfig=str(tmp / "kubeconfig"),
        speed=options.pop("speed", 0.0),
        quiet=True,
        **options,
    )
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, Any] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            box["server"] = Server(opts)
            loop.run_until_complete(box["server"].start())
        except BaseException as e:  # surface start failures in the test thread
            box["error"] = e
            ready.set()
            return
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="kubetwin-serve", daemon=True)
    thread.start()
    ready.wait(60)
    if "error" in box:
        raise box["error"]
    server: Server = box["server"]
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    served = Served(server.url, tmp / "kubeconfig", home, server, loop)

    def stop() -> None:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()

    served._stops.append(stop)
    return served


@pytest.fixture
def served_cluster_factory(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    made: list[Served] = []

    def make(**options: Any) -> Served:
        sub = tmp_path / f"s{len(made)}"
        sub.mkdir()
        s = start_served(sub, **options)
        made.append(s)
        return s

    yield make
    for s in made:
        for stop in s._stops:
            stop()


@pytest.fixture
def served_cluster(served_cluster_factory: Callable[..., Served]) -> Served:
    """An empty twin (one NodeGroup of 3 x m5.large), paused, with its nodes Ready."""
    s = served_cluster_factory()
    s.advance("30s")
    return s

