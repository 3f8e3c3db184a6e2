"""Scheduler throughput: N nodes × M pods through the real store, client, informers and scheduler.

    python bench/bench_scheduler.py [--nodes 5000 --pods 50000] [--quick] [--gc-freeze]

Pods come from a few Deployment-like templates with varied requests; some carry topology spread
constraints and pod anti-affinity. Prints pods/s (wall and process CPU time; scheduling + binding
write + ``Scheduled`` event), peak RSS and the ratio to upstream's scheduler_perf floor (680 pods/s).
``--gc-freeze`` freezes the setup heap (gc.freeze) so full collections stop rescanning it.

Measured on the 2-core dev machine (Python 3.11; other sessions were running, so ±20 %):

    size                    before (ae9b39e)              after
    500 × 5,000 (--quick)   3,777 pods/s, 92 MiB RSS      6,202 pods/s, 87 MiB RSS
    5,000 × 50,000          1,952 pods/s, 554 MiB RSS     4,759 pods/s, 486-517 MiB RSS

The issue's target (8,000 pods/s at 5,000 × 50,000) is not reached. Per pod at 5,000 nodes, with
GC disabled (~5,800 pods/s): decision ~112 µs (PreFilter 14, Filter over 5,000 slots 33, PreScore +
Score over the 500 slots numFeasibleNodesToFind keeps 47, selectHost and cycle glue ~18), assume
~10 µs, bind + informer fan-out ~16 µs, ``Scheduled`` Event create ~26 µs; the cyclic GC adds
~15 % on top (full collections rescanning the 55k stored objects). What is left is numpy call
overhead (about 1 µs a call, ~60 calls a cycle) and Python glue, not per-node work.
"""

from __future__ import annotations

import argparse
import gc
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
    ap.add_argument("--gc-freeze", action="store_true", help="gc.freeze() after setup (see the docstring)")
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
    if args.gc_freeze:
        gc.freeze()  # the setup heap is never garbage: keep full collections from rescanning it
    t1 = time.perf_counter()
    c1 = time.process_time()
    loop.run(until=loop.now)
    t2 = time.perf_counter()
    c2 = time.process_time()
    bound = sched.scheduled
    wall = t2 - t1
    rate = bound / wall if wall else float("inf")
    cpu = c2 - c1
    cpu_rate = bound / cpu if cpu else float("inf")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"nodes={args.nodes} pods={args.pods} bound={bound} unschedulable={sched.pending()} "
          f"failed_attempts={sched.failed_attempts}")  # fmt: skip
    print(f"setup (create nodes+pods through the registry): {t1 - t0:.2f}s")
    print(f"scheduling+binding: {wall:.2f}s  -> {rate:,.0f} pods/s (wall)")
    print(f"scheduling+binding: {cpu:.2f}s CPU -> {cpu_rate:,.0f} pods/s (process CPU time; steadier on a busy machine)")
    print(f"peak RSS: {rss_mb:,.0f} MiB")
    print(f"ratio vs upstream scheduler_perf floor ({UPSTREAM_FLOOR:.0f} pods/s): {rate / UPSTREAM_FLOOR:.1f}x")


if __name__ == "__main__":
    main()
