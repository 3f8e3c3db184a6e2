"""A fake usage engine implementing the read API the eviction manager (and the metrics server) use:
``node_stats(node)``, ``pod_stats(node)``, ``nodes_needing_attention()``.

Usage is set by the test: ``engine.set_usage("ns/name", web=612 * MI)`` (bytes per container);
pods without an entry use their memory requests. Stats are computed on demand from the pods the
node's kubelet runs (a stopped pod uses nothing), stamped with the current virtual time.
"""

from __future__ import annotations

from typing import Any

from kubetwin.api.quantity import to_int
from kubetwin.api.resources import resource_list
from kubetwin.kubelet import KubeletManager
from kubetwin.kubelet.usage import ContainerStats, NodeStats, PodStats

MI = 1024 * 1024
GI = 1024 * MI


class FakeEngine:
    def __init__(self, km: KubeletManager, system_overhead: int = 0, nodefs_capacity: int = 100 * GI) -> None:
        self.km = km
        self.system_overhead = system_overhead
        self.nodefs_capacity = nodefs_capacity
        self.usage: dict[str, dict[str, int]] = {}
        self.disk: dict[str, int] = {}
        self.pids: dict[str, int] = {}
        self.node_pid_capacity = 4_194_304
        self.nodefs_used: dict[str, int] = {}
        self.attention_calls = 0
        km.engine = self

    def set_usage(self, key: str, **containers: int) -> None:
        self.usage[key] = dict(containers)

    def _pods(self, node: str) -> list[dict[str, Any]]:
        kl = self.km.get(node)
        return [] if kl is None else kl.active_pods()

    def pod_stats(self, node: str) -> list[PodStats]:
        out = []
        for pod in self._pods(node):
            m = pod["metadata"]
            key = f"{m['namespace']}/{m['name']}"
            want = self.usage.get(key)
            cs = []
            for c in pod["spec"].get("containers") or []:
                if want is not None:
                    mem = want.get(c["name"], 0)
                else:
                    mem = resource_list((c.get("resources") or {}).get("requests")).get("memory", 0)
                cs.append(ContainerStats(c["name"], mem, 0, 0, 0.0, 0))
            total = sum(c.memory_working_set_bytes for c in cs)
            out.append(PodStats(m.get("uid", ""), m["namespace"], m["name"], total, cpu_usage_milli=0,
                                ephemeral_storage_bytes=self.disk.get(key, 0), pids=self.pids.get(key, 1),
                                containers=cs))  # fmt: skip
        return out

    def node_stats(self, node: str) -> NodeStats | None:
        kl = self.km.get(node)
        if kl is None or kl.node is None:
            return None
        cap = to_int(kl.node["status"]["capacity"]["memory"])
        pods = self.pod_stats(node)
        ws = min(cap, self.system_overhead + sum(p.memory_working_set_bytes for p in pods))
        used_fs = self.nodefs_used.get(node, 0) + sum(p.ephemeral_storage_bytes for p in pods)
        return NodeStats(cap, ws, cap - ws, self.nodefs_capacity, max(0, self.nodefs_capacity - used_fs),
                         self.node_pid_capacity, sum(p.pids for p in pods), 0, time=self.km.loop.now)  # fmt: skip

    def nodes_needing_attention(self) -> set[str]:
        self.attention_calls += 1
        return set(self.km.kubelets)
