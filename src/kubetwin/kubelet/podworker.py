"""One pod's life on a simulated node (pkg/kubelet/pod_workers.go, kuberuntime/kuberuntime_manager.go
``SyncPod``/``doBackOff``, kuberuntime/kuberuntime_container.go, images/image_manager.go,
prober/worker.go).

Every step is a timer on the event loop (no polling), cancelled when the pod goes away:

1. sandbox: a pod IP from the node's podCIDR (host network pods use the node IP); pods that need the
   pod network wait until the node is Ready (``NetworkNotReady``).
2. init containers one by one: image pull, create, start (the start latency), then a run of
   ``kubetwin.io/init-run-duration`` (default 1 s) and exit 0; a sidecar (init container with
   ``restartPolicy: Always``) only has to start.
3. all regular containers start together, each after its own start latency (1-3 s from the seeded
   RNG, or ``kubetwin.io/startup-seconds``). ``started``/``ready`` follow startupProbe/readinessProbe
   (first probe tick at or after ``initialDelaySeconds``, ticks every ``periodSeconds`` from when the
   kubelet took the pod, ``successThreshold`` ticks); without probes a running container is ready.
4. exits: ``kubetwin.io/run-duration`` (a Go duration) with ``kubetwin.io/exit-code`` (default 0);
   pods with restartPolicy Never/OnFailure and no annotation run 60 s and exit 0 -- the twin does
   not execute a Job's command, so it needs a duration; restartPolicy Always containers without the
   annotation run until deleted.
5. restarts (Always, or OnFailure after a non-zero exit) follow the kubelet's container back-off
   (flowcontrol.Backoff with 10 s initial, MaxContainerBackOff 300 s): the first restart is
   immediate, later ones wait 10 s, 20 s, 40 s ... 300 s after the previous exit, the wait shown as
   ``waiting: CrashLoopBackOff`` with a ``BackOff`` event; a container that ran for more than 600 s
   (2 x MaxContainerBackOff) since its last restart starts again from no back-off.
6. graceful deletion: ``Killing`` events, containers stop after min(grace, ``kubetwin.io/shutdown-
   seconds``, default 1 s) (exit 137 when the grace period ran out first), a final status, then the
   kubelet deletes the pod with grace period 0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kubetwin.api.resources import pod_requests
from kubetwin.kubelet.ipam import RangeFull
from kubetwin.kubelet.status import (
    INIT,
    REGULAR,
    RUNNING,
    SIDECAR,
    TERMINATED,
    WAITING,
    Container,
    PodRuntime,
)
from kubetwin.kubelet.util import (
    default_pull_policy,
    format_pod,
    go_duration,
    image_id,
    image_size,
    normalize_image,
)
from kubetwin.sim import Handle, parse_duration

if TYPE_CHECKING:
    from kubetwin.kubelet.kubelet import Kubelet

Obj = dict[str, Any]

ANN_STARTUP = "kubetwin.io/startup-seconds"
ANN_RUN = "kubetwin.io/run-duration"
ANN_EXIT = "kubetwin.io/exit-code"
ANN_SHUTDOWN = "kubetwin.io/shutdown-seconds"
ANN_INIT_RUN = "kubetwin.io/init-run-duration"

PRIORITY = 30
DEFAULT_STARTUP = (1.0, 3.0)
DEFAULT_INIT_RUN = 1.0
DEFAULT_JOB_RUN = 60.0
DEFAULT_SHUTDOWN = 1.0
PULL_FRACTION = 0.8  # of the start latency spent pulling when the image is pulled
RESTART_PULL_SECONDS = 0.5  # imagePullPolicy Always re-checks the registry on every restart
BACKOFF_INITIAL = 10.0  # pkg/kubelet/kubelet.go backOffPeriod
MAX_CONTAINER_BACKOFF = 300.0  # pkg/kubelet/kubelet.go MaxContainerBackOff
SIGKILL_EXIT = 137


def _ann_seconds(ann: dict[str, str], key: str) -> float | None:
    value = ann.get(key)
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError:
        return None


class PodWorker:
    def __init__(self, kubelet: Kubelet, pod: Obj, requests: dict[str, int] | None = None) -> None:
        """``requests``: the pod's (pod_requests), when the kubelet has them already (admission)."""
        self.kl = kubelet
        self.loop = kubelet.loop
        meta = pod["metadata"]
        self.key = f"{meta['namespace']}/{meta['name']}"
        self.uid: str = meta.get("uid", "")
        self.pod = pod
        spec = pod.get("spec") or {}
        self.restart_policy: str = spec.get("restartPolicy") or "Always"
        self.host_network = bool(spec.get("hostNetwork"))
        self.requests = pod_requests(pod) if requests is None else requests
        ann: dict[str, str] = meta.get("annotations") or {}
        self.startup_seconds = _ann_seconds(ann, ANN_STARTUP)
        self.run_seconds = _ann_seconds(ann, ANN_RUN)
        if self.run_seconds is None and self.restart_policy in ("Never", "OnFailure"):
            self.run_seconds = DEFAULT_JOB_RUN
        try:
            self.exit_code = int(ann.get(ANN_EXIT, "0"))
        except ValueError:
            self.exit_code = 1
        shutdown = _ann_seconds(ann, ANN_SHUTDOWN)
        self.shutdown_seconds = DEFAULT_SHUTDOWN if shutdown is None else shutdown
        init_run = _ann_seconds(ann, ANN_INIT_RUN)
        self.init_run_seconds = DEFAULT_INIT_RUN if init_run is None else init_run
        self.specs: dict[str, Obj] = {}
        containers: list[Container] = []
        for c in spec.get("initContainers") or []:
            kind = SIDECAR if c.get("restartPolicy") == "Always" else INIT
            containers.append(Container(c["name"], normalize_image(c.get("image", "")), kind))
            self.specs[c["name"]] = c
        for c in spec.get("containers") or []:
            containers.append(Container(c["name"], normalize_image(c.get("image", "")), REGULAR))
            self.specs[c["name"]] = c
        self.rt = PodRuntime(containers=containers)
        self.by_name = {c.name: c for c in containers}
        self.start_time = self.loop.timestamp()
        self.probe_origin = self.loop.now
        self.timers: dict[str, Handle] = {}
        self.creating: set[str] = set()
        self.backoff: dict[str, tuple[float, float]] = {}  # container -> (period, lastUpdate)
        self.terminating = False
        self.deleted = False
        self.waiting_network = False
        self.model_started = False
        self.model_stopped = False
        self.counted = False  # its requests are in the kubelet's used() sums (admitted, not done)
        # the status the kubelet last wrote for the pod (status.pod_status shares its unchanged
        # conditions while the pod still holds it)
        self.status_written: Obj | None = None

    # -- helpers --------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        """No containers run or will run: the pod does not count against the node any more."""
        return self.rt.terminal

    def _at(self, name: str, delay: float, fn: Callable[[], None]) -> None:
        old = self.timers.pop(name, None)
        if old is not None:
            old.cancel()

        def fire() -> None:
            self.timers.pop(name, None)
            if self.kl.running and not self.deleted:
                fn()

        self.timers[name] = self.loop.call_later(delay, fire, PRIORITY, f"kubelet:{name}")

    def _cancel(self, name: str) -> None:
        h = self.timers.pop(name, None)
        if h is not None:
            h.cancel()

    def cancel_timers(self) -> None:
        for h in self.timers.values():
            h.cancel()
        self.timers.clear()
        self.creating.clear()

    def _event(self, type_: str, reason: str, message: str) -> None:
        self.kl.recorder.event(self.pod, type_, reason, message)

    def _dirty(self) -> None:
        self.kl.request_status(self)

    # -- sandbox --------------------------------------------------------------------------------
    def start(self) -> None:
        """Kubelet admitted the pod: write Pending and start the sandbox."""
        self._dirty()
        self._sandbox()

    def _sandbox(self) -> None:
        self.kl.ip_woken.discard(self)
        if self.rt.sandbox_ready or self.terminating or self.rt.terminal:
            return
        if self.host_network:
            self.rt.pod_ip = self.kl.host_ip
        else:
            if not self.kl.node_ready:
                if not self.waiting_network:
                    self.waiting_network = True
                    self.kl.waiting_network.append(self)
                    self._event("Warning", "NetworkNotReady", self.kl.NETWORK_NOT_READY)
                return
            try:
                self.rt.pod_ip = self.kl.ipam.allocate(self.uid)
            except RangeFull as e:
                if self not in self.kl.waiting_ip:
                    self.kl.waiting_ip.append(self)
                    self._event(
                        "Warning",
                        "FailedCreatePodSandBox",
                        "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for "
                        f'sandbox "{self.kl.rng.hex(64)}": plugin type="host-local" failed (add): {e}',
                    )
                return
        self.waiting_network = False
        self.rt.sandbox_ready = True
        self._dirty()
        self._advance()

    # -- containers -----------------------------------------------------------------------------
    def _advance(self) -> None:
        """Start whatever may start now (computePodActions, in spirit)."""
        if not self.rt.sandbox_ready or self.terminating or self.rt.terminal:
            return
        for c in self.rt.containers:
            if c.kind == REGULAR:
                continue
            if c.kind == INIT and c.state == TERMINATED and c.exit_code == 0:
                continue
            if c.kind == SIDECAR and c.started:
                continue
            if c.state == WAITING and c.last is None and c.name not in self.creating:
                self._start_container(c, latency=self._latency())
            return
        for c in self.rt.containers:
            if c.kind == REGULAR and c.state == WAITING and c.last is None and c.name not in self.creating:
                self._start_container(c, latency=self._latency())

    def _latency(self) -> float:
        if self.startup_seconds is not None:
            return self.startup_seconds
        return self.kl.rng.uniform(*DEFAULT_STARTUP)

    def _start_container(self, c: Container, latency: float, restart: bool = False) -> None:
        spec = self.specs[c.name]
        image = spec.get("image", "")
        policy = spec.get("imagePullPolicy") or default_pull_policy(image)
        present = c.image in self.kl.images
        self.creating.add(c.name)
        if policy == "Always" or (policy == "IfNotPresent" and not present):
            pull = RESTART_PULL_SECONDS if restart else latency * PULL_FRACTION
            latency = max(latency, pull)
            self._event("Normal", "Pulling", f'Pulling image "{image}"')
            took = go_duration(int(pull * 1000) / 1000)
            size = image_size(image)

            def pulled() -> None:
                self.kl.images.add(c.image)
                self._event(
                    "Normal",
                    "Pulled",
                    f'Successfully pulled image "{image}" in {took} ({took} including waiting). '
                    f"Image size: {size} bytes.",
                )

            self._at(f"pull:{c.name}", pull, pulled)
        else:
            self._event("Normal", "Pulled", f'Container image "{image}" already present on machine')
        self._at(f"start:{c.name}", latency, lambda: self._container_started(c))

    def _container_started(self, c: Container) -> None:
        self.creating.discard(c.name)
        now = self.loop.now
        c.state = RUNNING
        c.reason = c.message = ""
        c.container_id = "containerd://" + self.kl.rng.hex(64)
        c.image_id = image_id(self.specs[c.name].get("image", ""))
        c.started_at = now
        c.finished_at = None
        self._event("Normal", "Created", f"Created container: {c.name}")
        self._event("Normal", "Started", f"Started container {c.name}")
        self._arm_running(c)
        if c.kind == REGULAR and not self.model_started:
            self.model_started = True
            self.kl.resource_model.on_pod_started(self.kl, self.pod)
        elif self.model_started:
            self._model_container(c, True)
        self._dirty()
        if c.kind == SIDECAR and c.started:
            self._advance()

    def _arm_running(self, c: Container) -> None:
        """Timers of a running container: probes and its exit."""
        now = self.loop.now
        spec = self.specs[c.name]
        started_at = c.started_at if c.started_at is not None else now
        if c.kind == INIT:
            c.started, c.ready = True, False
            self._at(f"exit:{c.name}", max(0.0, started_at + self.init_run_seconds - now),
                     lambda: self.container_exited(c.name, 0))  # fmt: skip
            return
        if not c.started:
            if spec.get("startupProbe"):
                self._at(f"startup:{c.name}", self._probe_delay(spec["startupProbe"], started_at),
                         lambda: self._startup_passed(c))  # fmt: skip
            else:
                c.started = True
        if c.started and not c.ready:
            self._arm_readiness(c)
        run = self.run_seconds if c.kind == REGULAR else None
        if run is not None:
            self._at(f"exit:{c.name}", max(0.0, started_at + run - now),
                     lambda: self.container_exited(c.name, self.exit_code))  # fmt: skip

    def _probe_delay(self, probe: Obj, since: float) -> float:
        period = float(probe.get("periodSeconds") or 10)
        initial = float(probe.get("initialDelaySeconds") or 0)
        threshold = max(1, int(probe.get("successThreshold") or 1))
        earliest = since + initial
        k = max(0, -int(-(earliest - self.probe_origin) // period))  # ceil
        when = self.probe_origin + k * period + (threshold - 1) * period
        return max(0.0, when - self.loop.now)

    def _arm_readiness(self, c: Container) -> None:
        probe = self.specs[c.name].get("readinessProbe")
        if probe and (c.kind in (REGULAR, SIDECAR)):
            since = c.started_at if c.started_at is not None else self.loop.now
            self._at(f"ready:{c.name}", self._probe_delay(probe, since), lambda: self._ready(c))
        else:
            c.ready = True

    def _startup_passed(self, c: Container) -> None:
        if c.state != RUNNING:
            return
        c.started = True
        self._arm_readiness(c)
        self._dirty()
        if c.kind == SIDECAR:
            self._advance()

    def _ready(self, c: Container) -> None:
        if c.state == RUNNING and c.started:
            c.ready = True
            self._dirty()

    # -- exits and restarts ---------------------------------------------------------------------
    def container_exited(self, name: str, exit_code: int, reason: str = "") -> None:
        c = self.by_name.get(name)
        if c is None or c.state != RUNNING or self.rt.terminal:
            return
        for t in ("exit", "ready", "startup"):
            self._cancel(f"{t}:{name}")
        c.state = TERMINATED
        c.finished_at = self.loop.now
        c.exit_code = exit_code
        c.term_reason = reason or ("Completed" if exit_code == 0 else "Error")
        c.started = False
        c.ready = c.kind == INIT and exit_code == 0
        self._model_container(c, False)
        self._dirty()
        if self.terminating:
            return
        if c.kind == INIT:
            if exit_code == 0:
                self._advance()
            elif self.restart_policy == "Never":
                self._finish()
            else:
                self._restart_or_backoff(c)
            return
        if c.kind == SIDECAR or self.restart_policy == "Always" or (
            self.restart_policy == "OnFailure" and exit_code != 0
        ):
            self._restart_or_backoff(c)
            return
        if all(x.state == TERMINATED for x in self.rt.containers if x.kind == REGULAR):
            self._finish()

    def _restart_or_backoff(self, c: Container) -> None:
        """kuberuntime_manager.go doBackOff with flowcontrol.Backoff semantics."""
        ts = c.finished_at if c.finished_at is not None else self.loop.now
        entry = self.backoff.get(c.name)
        if entry is not None:
            period, last = entry
            expired = ts - last > 2 * MAX_CONTAINER_BACKOFF
            wait = period - (self.loop.now - ts)
            if not expired and wait > 0:
                c.last = c.terminated_state(self.loop)
                c.state = WAITING
                c.reason = "CrashLoopBackOff"
                c.message = (
                    f"back-off {go_duration(period)} restarting failed container={c.name} pod={format_pod(self.pod)}"
                )
                self._event(
                    "Warning", "BackOff", f"Back-off restarting failed container {c.name} in pod {format_pod(self.pod)}"
                )
                self._at(f"backoff:{c.name}", wait, lambda: self._restart(c))
                self._dirty()
                return
        self._restart(c)

    def _restart(self, c: Container) -> None:
        ts = c.finished_at if c.finished_at is not None else self.loop.now
        entry = self.backoff.get(c.name)
        # flowcontrol.Backoff.Next(key, finishedAt): lastUpdate is the restart time, and the entry
        # expires when the container ran for more than 2 x MaxContainerBackOff after it.
        if entry is None or ts - entry[1] > 2 * MAX_CONTAINER_BACKOFF:
            self.backoff[c.name] = (BACKOFF_INITIAL, self.loop.now)
        else:
            self.backoff[c.name] = (min(entry[0] * 2, MAX_CONTAINER_BACKOFF), self.loop.now)
        if c.state == TERMINATED:
            c.last = c.terminated_state(self.loop)
        c.state = WAITING
        c.reason = c.message = ""
        c.restart_count += 1
        self._start_container(c, latency=0.0, restart=True)
        self._dirty()

    def _restarter(self, c: Container) -> Callable[[], None]:
        return lambda: self._restart(c)

    def _finish(self) -> None:
        """All regular containers are done for good: stop sidecars, tear down the sandbox."""
        for c in self.rt.containers:
            if c.kind == SIDECAR and c.state == RUNNING:
                self._event("Normal", "Killing", f"Stopping container {c.name}")
                self._stop(c, 0)
        self._teardown()
        self._dirty()

    def _stop(self, c: Container, exit_code: int) -> None:
        """The kubelet stops a running container as the pod's sandbox goes (every caller tears
        it down next): the resource model hears of it through ``on_pod_stopped`` alone, which
        forgets the pod's containers, not through ``on_container_stopped`` first."""
        c.state = TERMINATED
        c.finished_at = self.loop.now
        c.exit_code = exit_code
        c.term_reason = "Completed" if exit_code == 0 else "Error"
        c.started = c.ready = False

    def _teardown(self) -> None:
        self.rt.terminal = True
        self.kl.uncount(self)
        self.rt.sandbox_ready = False
        self.cancel_timers()
        self.kl.release_ip(self)
        self._model_stop()

    def _model_container(self, c: Container, running: bool) -> None:
        """Tell the resource model a container of a started pod (re)started or stopped."""
        if not self.model_started or self.model_stopped:
            return
        model = self.kl.resource_model
        hook = getattr(model, "on_container_started" if running else "on_container_stopped", None)
        if hook is not None:
            hook(self.kl, self.uid, c.name)

    def _model_stop(self) -> None:
        if self.model_started and not self.model_stopped:
            self.model_stopped = True
            self.kl.resource_model.on_pod_stopped(self.kl, self.uid)

    # -- deletion -------------------------------------------------------------------------------
    def terminate(self, pod: Obj) -> None:
        """The pod has a deletionTimestamp: stop containers, then delete it with grace 0."""
        grace = float(pod["metadata"].get("deletionGracePeriodSeconds") or 0)
        if self.terminating:
            # a shorter grace period shortens the shutdown in progress
            h = self.timers.get("kill")
            if h is not None and h.time > self.loop.now + grace:
                self._at("kill", grace, lambda: self._killed(True))
            return
        self.terminating = True
        for name in list(self.timers):
            self._cancel(name)
        self.creating.clear()
        running = [c for c in self.rt.containers if c.state == RUNNING]
        if not running:
            self._killed(False)
            return
        for c in running:
            self._event("Normal", "Killing", f"Stopping container {c.name}")
        if self.shutdown_seconds <= grace:
            self._at("kill", self.shutdown_seconds, lambda: self._killed(False))
        else:
            self._at("kill", grace, lambda: self._killed(True))

    def _killed(self, sigkill: bool) -> None:
        ran = any(c.state != WAITING or c.last is not None for c in self.rt.containers)
        for c in self.rt.containers:
            if c.state == RUNNING:
                self._stop(c, SIGKILL_EXIT if sigkill else 0)
        self._teardown()
        if ran:
            self.kl.write_status(self)
        self.kl.delete_pod(self)

    # -- kubelet stop/resume --------------------------------------------------------------------
    def freeze(self) -> None:
        self.cancel_timers()

    def thaw(self) -> None:
        """Re-arm timers from the runtime state after Kubelet.resume()."""
        if self.rt.terminal:
            return
        if self.terminating:
            self.terminating = False
            self.terminate(self.pod)
            return
        if not self.rt.sandbox_ready:
            self._sandbox()
            return
        now = self.loop.now
        for c in self.rt.containers:
            if c.state == RUNNING:
                self._arm_running(c)
            elif c.state == WAITING and c.last is not None and c.reason == "CrashLoopBackOff":
                period, _ = self.backoff.get(c.name, (BACKOFF_INITIAL, now))
                ts = c.finished_at if c.finished_at is not None else now
                self._at(f"backoff:{c.name}", max(0.0, ts + period - now), self._restarter(c))
            elif c.state == WAITING and c.last is not None:
                self._start_container(c, latency=0.0, restart=True)
        self._advance()
