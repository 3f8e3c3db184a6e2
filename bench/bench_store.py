"""Store/registry write throughput: creates/s, updates/s and binds/s for N pods.

Run: ``python bench/bench_store.py [N]`` (default 50,000). Prints ops/s for the memory store and,
on a smaller N, for the sqlite store, plus the memory/sqlite ratio. The scheduler benchmark needs
about 8,000 binds/s through the registry. No assertions: numbers are for humans and CI logs.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kubetwin.client import InformerFactory
from kubetwin.sim import EventLoop, SeededRNG
from kubetwin.store import Registry, Store


def _pod(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"pod-{i}", "namespace": "default", "labels": {"app": f"app-{i % 50}"}},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "registry.example/app:1.0",
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                }
            ]
        },
    }


def run(store: Store, n: int) -> dict[str, float]:
    reg = Registry(store, EventLoop(), SeededRNG(1))
    reg.bootstrap()
    # as in a running cluster: a shared pod informer with the scheduler's node index is watching
    pods = InformerFactory(reg).get("pods")
    pods.add_index("node", lambda o: [o["spec"].get("nodeName") or ""])
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    for i in range(n):
        reg.create(_pod(i))
    out["create"] = n / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for i in range(n):
        reg.bind("default", f"pod-{i}", f"node-{i % 1000}")
    out["bind"] = n / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for i in range(n):
        pod = reg.get("pods", f"pod-{i}", "default")
        pod["metadata"]["labels"]["rev"] = "2"
        reg.update(pod)
    out["update"] = n / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for i in range(n):
        pod = reg.get("pods", f"pod-{i}", "default")
        pod["status"]["phase"] = "Running"
        reg.update_status(pod)
    out["update_status"] = n / (time.perf_counter() - t0)
    assert len(pods) == n
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    mem = run(Store(), n)
    print(f"memory store, {n} pods:")
    for k, v in mem.items():
        print(f"  {k:14s} {v:10,.0f} ops/s")
    print(f"  binds/s vs the scheduler's 8,000/s need: {mem['bind'] / 8000:.1f}x")
    n_sql = max(1, n // 10)
    with tempfile.TemporaryDirectory() as d:
        store = Store(path=str(Path(d) / "db.sqlite"))
        sql = run(store, n_sql)
        store.close()
    print(f"sqlite store, {n_sql} pods:")
    for k, v in sql.items():
        print(f"  {k:14s} {v:10,.0f} ops/s   memory/sqlite = {mem[k] / v:5.1f}x")


if __name__ == "__main__":
    main()
