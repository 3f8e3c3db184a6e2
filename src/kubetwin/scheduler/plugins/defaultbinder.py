"""DefaultBinder (pkg/scheduler/framework/plugins/defaultbinder/default_binder.go): POST the
pods/binding subresource."""

from __future__ import annotations

from kubetwin.scheduler.framework import Plugin, PodInfo, Status

NAME = "DefaultBinder"


class DefaultBinder(Plugin):
    NAME = NAME

    def bind(self, pod: PodInfo, node_name: str) -> Status | None:
        # POST pods/binding; the answer is not used, so take the stored pod without copying it.
        self.handle.client.registry.bind(pod.namespace, pod.name, node_name, uid=pod.uid or None, copy=False)
        return None
