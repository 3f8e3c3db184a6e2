"""PrioritySort (pkg/scheduler/framework/plugins/queuesort/priority_sort.go): higher priority
first, then the earlier time the pod entered the queue."""

from __future__ import annotations

from kubetwin.scheduler.framework import Plugin, PodInfo

NAME = "PrioritySort"


class PrioritySort(Plugin):
    NAME = NAME

    def less(self, a: PodInfo, b: PodInfo) -> bool:
        return a.priority > b.priority or (a.priority == b.priority and a.timestamp < b.timestamp)

    @staticmethod
    def sort_key(p: PodInfo) -> tuple[int, float]:
        return (-p.priority, p.timestamp)
