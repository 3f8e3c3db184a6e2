"""``kubetwin serve``: build a Cluster, start its components and serve the Kubernetes API over
HTTP(S) on one asyncio loop (DESIGN principle 9) until SIGINT/SIGTERM.

``Server`` is the embeddable piece (tests start it on a free port inside their own loop);
``run`` is what the CLI calls.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from kubetwin.api import errors
from kubetwin.scenario import loader
from kubetwin.scenario.runtime import DEFAULT_NODEGROUP, Cluster
from kubetwin.server import kubeconfig, metrics, tls
from kubetwin.server.app import ServerState, make_app
from kubetwin.server.clock import ClockDriver
from kubetwin.sim import gcpolicy
from kubetwin.sim.loop import parse_epoch

SHUTDOWN_TIMEOUT = 2.0


class ServeError(Exception):
    """A problem with the user's input or environment; the message is one line."""


@dataclass
class ServeOptions:
    path: str | None = None
    address: str = "127.0.0.1"
    port: int = 6443
    kubeconfig: str | None = "kubetwin.kubeconfig"
    speed: float = 1.0
    data_dir: str | None = None
    tls: bool = False
    seed: int = 1
    quiet: bool = False
    # the instant virtual time 0 stands for: "now" (the CLI's default, so kubectl's client-side
    # ages such as describe's event ages read right at speed 1) or an RFC 3339 time
    start_time: str = "2026-01-01T00:00:00Z"


def load_manifests(path: str) -> list[loader.Document]:
    try:
        docs = loader.load(path)
    except loader.ManifestError as e:
        raise ServeError(str(e)) from None
    return [d for d in docs if d.kind != "Scenario"]


def usage_engine(cluster: Cluster) -> Any:
    """The kubelets' shared UsageEngine (on the KubeletManager), or None when usage is off."""
    for component in cluster.components:
        engine = getattr(component, "usage", None)
        if engine is not None:
            return engine
    return None


class Server:
    def __init__(self, options: ServeOptions) -> None:
        self.options = options
        if options.speed < 0:
            raise ServeError("--speed must be >= 0")
        docs = load_manifests(options.path) if options.path else None
        try:
            epoch = parse_epoch(options.start_time)
        except ValueError as e:
            raise ServeError(str(e)) from None
        self.cluster = Cluster.for_serve(options.data_dir, options.seed, epoch)
        self.driver = ClockDriver(
            self.cluster.loop, options.speed, self.cluster.store if options.data_dir else None
        )
        self.apply_failures: list[str] = []
        self.cluster.start()
        if docs is not None:
            for f in self.cluster.apply((d.where, d.obj) for d in docs):
                if "already exists" not in f.message or not self.cluster.restored:
                    self.apply_failures.append(f"{f.where}: {f.message}")
        elif not self.cluster.restored:
            try:
                self.cluster.client.create(DEFAULT_NODEGROUP)
            except errors.ApiError as e:  # pragma: no cover - the default is valid
                self.apply_failures.append(e.message)
        self.state = ServerState(self.cluster, self.driver)
        engine = usage_engine(self.cluster)
        if engine is not None:
            self.state.usage_provider, self.state.node_usage = metrics.engine_usage(engine)
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.port = options.port
        self.ca_pem: bytes | None = None

    async def start(self) -> None:
        opts = self.options
        ssl_ctx = None
        if opts.tls:
            cert_dir = Path(opts.data_dir) if opts.data_dir else Path(opts.kubeconfig or ".").resolve().parent
            certs = tls.generate(cert_dir / "pki")
            ssl_ctx, self.ca_pem = certs.ssl_context(), certs.ca_pem
        app = make_app(self.state)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
        await self._runner.setup()
        site = web.TCPSite(self._runner, opts.address, opts.port, ssl_context=ssl_ctx, reuse_address=True)
        try:
            await site.start()
        except OSError as e:
            await self._runner.cleanup()
            raise ServeError(f"cannot listen on {opts.address}:{opts.port}: {e.strerror}") from None
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]
        host = opts.address if opts.address not in ("0.0.0.0", "::", "") else "127.0.0.1"
        self.url = f"{'https' if opts.tls else 'http'}://{host}:{self.port}"
        self.state.server_address = f"{host}:{self.port}"
        if opts.kubeconfig:
            kubeconfig.write(Path(opts.kubeconfig), self.url, self.ca_pem)
        self.driver.start()

    async def stop(self) -> None:
        await self.driver.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.cluster.close()


async def _main(options: ServeOptions) -> int:
    gcpolicy.PACER.install()  # before the cluster is built: its heap is never walked in one long pause
    server = Server(options)
    for line in server.apply_failures:
        print(f"warning: not applied: {line}", file=sys.stderr)
    await server.start()
    kc = Path(options.kubeconfig).resolve() if options.kubeconfig else None
    export = f"  export KUBECONFIG={kc}" if kc else ""
    print(f"kubetwin serving Kubernetes {_version()} at {server.url} (speed {options.speed:g}x){export}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()
    if not options.quiet:
        print("kubetwin: stopped", file=sys.stderr)
    return 0


def _version() -> str:
    from kubetwin import KUBERNETES_VERSION

    return KUBERNETES_VERSION


def run(options: ServeOptions) -> int:
    try:
        return asyncio.run(_main(options))
    except ServeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
