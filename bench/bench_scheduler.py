"""Scheduler throughput: N nodes × M pods through the real store, client, informers and scheduler.

    python bench/bench_scheduler.py [--nodes 5000 --pods 50000] [--quick]

Pods come from a few Deployment-like templates with varied requests; some carry topology spread
constraints and pod anti-affinity. Prints pods/s (wall, scheduling + binding + events), peak RSS
and the ratio to upstream's scheduler_perf floor (680 pods/s).
"""

from __future__ import annotations

import argparse
import resource
import time

from kubetwin.client import Client, InformerFactory
from kubetwin.scheduler import Scheduler
from kubetwin.sim import EventLoop, SeededRNG
from kubetwin.store import Registry, Store

UPSTREAM_FLOOR = 680.0
ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"]


def node(i: int) -> dict:  # type: ignore[type-arg]
    name = f"node-{i:05d}"
    cap = {"cpu": "16", "memory": "64Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                              "topology.kubernetes.io/zone": ZONES[i % 3]}},
        "spec": {},
        "status": {"capacity": cap, "allocatable": cap,
                   "conditions": [{"type": "Ready", "status": "True"}]},
    }  # fmt: skip


TEMPLATES = [
    # (app, cpu, memory, extra spec)
    ("web", "100m", "128Mi", {}),
    ("api", "250m", "512Mi", {}),
    ("worker", "500m", "1Gi", {}),
    ("cache", "200m", "2Gi", {}),
    ("batch", None, None, {}),  # BestEffort
    ("spread", "100m", "256Mi", {"topologySpreadConstraints": [
        {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
         "labelSelector": {"matchLabels": {"app": "spread"}}}]}),
    ("anti", "100m", "128Mi", {"affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                            "labelSelector": {"matchLabels": {"app": "anti"}}}}]}}}),
]  # fmt: skip
WEIGHTS = [30, 20, 15, 10, 10, 10, 5]


def pod(i: int, t: int) -> dict:  # type: ignore[type-arg]
    app, cpu, mem, extra = TEMPLATES[t]
    res = {}
    if cpu:
        res = {"requests": {"cpu": cpu, "memory": mem}}
    spec = {"containers": [{"name": "c", "image": f"{app}:1", "resources": res}], **extra}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"{app}-{i:06d}", "namespace": "default", "labels": {"app": app}},
            "spec": spec}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=5000)
    ap.add_argument("--pods", type=int, default=50000)
    ap.add_argument("--quick", action="store_true", help="500 nodes x 5,000 pods")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.quick:
        args.nodes, args.pods = 500, 5000
    loop = EventLoop()
    rng = SeededRNG(args.seed)
    registry = Registry(Store(), loop, rng)
    registry.bootstrap()
    client = Client(registry)
    informers = InformerFactory(registry)
    sched = Scheduler(client, informers, rng.child("scheduler"))
    sched.start()
    t0 = time.perf_counter()
    for i in range(args.nodes):
        client.create(node(i))
    pick = []
    for t, w in enumerate(WEIGHTS):
        pick += [t] * w
    for i in range(args.pods):
        client.create(pod(i, pick[(i * 7919) % len(pick)]))
    t1 = time.perf_counter()
    loop.run(until=loop.now)
    t2 = time.perf_counter()
    bound = sched.scheduled
    wall = t2 - t1
    rate = bound / wall if wall else float("inf")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"nodes={args.nodes} pods={args.pods} bound={bound} unschedulable={sched.pending()} "
          f"failed_attempts={sched.failed_attempts}")  # fmt: skip
    print(f"setup (create nodes+pods through the registry): {t1 - t0:.2f}s")
    print(f"scheduling+binding: {wall:.2f}s  -> {rate:,.0f} pods/s (wall)")
    print(f"peak RSS: {rss_mb:,.0f} MiB")
    print(f"ratio vs upstream scheduler_perf floor ({UPSTREAM_FLOOR:.0f} pods/s): {rate / UPSTREAM_FLOOR:.1f}x")


if __name__ == "__main__":
    main()
