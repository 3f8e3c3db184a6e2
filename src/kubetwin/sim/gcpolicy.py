"""Garbage-collector pacing for ``kubetwin serve`` and ``kubetwin run`` (no upstream counterpart: the Go apiserver's GC is
concurrent; CPython's cyclic collector stops the world).

The twin's heap is large and long-lived (every object of the cluster, the informer caches, the
watch history): at 10,000 pods over a million tracked containers, and a full (generation 2)
collection walks all of them, 0.4-1.2 s on the dev machine, stalling whichever request arrives
then (the p99 of mutating requests was 400 ms at 10,000 pods). What survives a full collection is
the cluster's state, not garbage, so ``install`` makes the collector:

- freeze the survivors of every full collection (``gc.freeze``: moved to the permanent generation,
  never scanned again), so a full collection walks only what was promoted since the previous one;
- run full collections after every second generation-1 collection (threshold 1 instead of 10), so
  that promoted set stays small: each object is still scanned by one full collection before it is
  frozen, so the total collector work is unchanged, only cut into short pauses.

Measured in process at 10,000 pods (bring-up, then 240,000 ConfigMap writes): the longest full
collection 1,210 ms -> 2-5 ms typical, 16-27 ms worst over repeated runs (bring-up's own: 870 ms ->
25-35 ms); the same total time.

``install(throughput=True)`` (``kubetwin run``, the benches) collects rarely (every five million
net allocations) and freezes the survivors of every collection, not only of full ones: each object is
walked by at most one collection (see THROUGHPUT_THRESHOLDS for figures).

The price: a frozen object is still freed by reference counting, but one that later becomes part of
an unreachable reference cycle is never reclaimed. The twin's state is acyclic JSON-like data; the
same run held no such object (``gc.unfreeze(); gc.collect()`` afterwards freed 0).
``KUBETWIN_GC=default`` leaves the collector as Python configures it.

``install`` also tunes glibc's allocator (``tune_allocator``): the usage engine, the metrics
pipeline and list/Table responses make many short-lived buffers of 100 KB-10 MB (a 30,000-container
array is 240 KB). With glibc's defaults such a block comes from mmap or from a heap top that is
trimmed back to the OS as soon as more than twice the (dynamic) mmap threshold is free, so every
tick faults the same pages in again: at bench_usage's size 2.1 ms per usage tick, 0.71 ms with the
tuning, and the day's process CPU 57 s -> 53 s at the same peak RSS. The tuning keeps blocks up to
32 MB (glibc's own ceiling for its dynamic threshold) on the heap and trims only past 256 MB free.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import sys
from typing import Any

# (generation 0 allocations, generation 0 collections per generation 1, generation 1 per full)
THRESHOLDS = (700, 10, 1)
# ``kubetwin run`` (throughput, nobody waits on a pause): collect rarely, and freeze what survives
# *every* collection, not only full ones, so each object is walked at most once. Most of what a
# run allocates is short-lived acyclic data freed by reference counting before a collection sees
# it; what survives one is cluster state (objects, caches, watch history). At 1,000 nodes x 30,000
# pods (bench_usage, 3 h): 7.1 s of collector time with THRESHOLDS, 0.5 s with (50,000, 20, 100).
# bench_autoscaling at full size, first 3 h: (50,000, 20, 100) without freezing young survivors
# spent 3.3-3.9 s collecting (gen-1 collections re-walking every gen-0 survivor: 0.3-0.5 s each);
# these 0.6 s. Reference cycles that become garbage after their objects were frozen are never
# reclaimed: 20,000 objects (a few MB) after 6 h there, 2,900 with the old thresholds.
# Generation 0's count is allocations minus deallocations, so a collection comes after the heap
# grew by that many tracked objects: with a short watch window in runs the day's heap grows
# slowly, and at 1,000,000 the first 8 h at full size still collected twice for 1.7-2.2 s (each
# walk of a million fresh survivors is cache-cold); at 5,000,000 not once (peak RSS +29 MiB of
# cyclic garbage held longer, 466 -> 495 MiB).
THROUGHPUT_THRESHOLDS = (5_000_000, 1000, 1000)


# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024
TRIM_THRESHOLD = 256 * 1024 * 1024


def tune_allocator() -> bool:
    """Keep large short-lived blocks on the heap (see the module docstring); True when applied
    (glibc only: elsewhere, or when the C library has no mallopt, nothing changes)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


class GCPacer:
    def __init__(self) -> None:
        self.installed = False
        self.full_collections = 0
        self.allocator_tuned = False
        self._saved: tuple[int, int, int] | None = None
        self._freeze_young = False  # throughput: freeze the survivors of every collection

    def install(self, throughput: bool = False) -> bool:
        """Start pacing (once per process); False when disabled by ``KUBETWIN_GC=default``.
        ``throughput``: rare collections (runs) instead of short frequent ones (serve)."""
        if os.environ.get("KUBETWIN_GC", "") == "default":
            return False
        if not self.installed:
            self._saved = gc.get_threshold()
            self._freeze_young = throughput
            gc.set_threshold(*(THROUGHPUT_THRESHOLDS if throughput else THRESHOLDS))
            gc.callbacks.append(self._callback)
            self.allocator_tuned = tune_allocator()
            self.installed = True
        return True

    def uninstall(self) -> None:
        """Back to Python's defaults; the frozen objects are scanned again from the next collection.
        The allocator stays tuned (glibc has no way back to its dynamic thresholds; harmless)."""
        if self.installed:
            gc.callbacks.remove(self._callback)
            if self._saved is not None:
                gc.set_threshold(*self._saved)
            gc.unfreeze()
            self.installed = False

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase != "stop":
            return
        full = info.get("generation") == 2
        if full:
            self.full_collections += 1
        if full or self._freeze_young:
            gc.freeze()


PACER = GCPacer()
