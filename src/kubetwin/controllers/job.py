"""Job controller (pkg/controller/job/job_controller.go, indexed_job_utils.go, backoff_utils.go,
tracking_utils.go) and the TTL-after-finished controller (pkg/controller/ttlafterfinished).

- Pods are created from the template with the ``batch.kubernetes.io/job-tracking`` finalizer, the
  job labels (``batch.kubernetes.io/controller-uid``, ``controller-uid``,
  ``batch.kubernetes.io/job-name``, ``job-name``) and, for Indexed jobs, the completion index as
  annotation + label, ``JOB_COMPLETION_INDEX`` env and hostname ``<job>-<index>``.
- Finished pods are counted exactly once through ``status.uncountedTerminatedPods`` (uid recorded,
  finalizer removed, then counted), as upstream's tracking with finalizers. A pod deleted before it
  succeeded counts as failed.
- Parallelism / completions (NonIndexed and Indexed with ``completedIndexes``); pod-failure
  back-off 10 s doubling to 6 min before replacements; ``backoffLimit`` (failed pods, or container
  restarts for restartPolicy OnFailure); ``activeDeadlineSeconds``; ``suspend``.
- 1.32 terminal flow: ``FailureTarget`` / ``SuccessCriteriaMet`` first, then, once no pod is
  terminating, ``Failed`` / ``Complete`` (+ completionTime) with the upstream reasons and messages.
- Events: SuccessfulCreate, SuccessfulDelete, Completed, BackoffLimitExceeded, DeadlineExceeded.
- TTLAfterFinishedController deletes finished jobs ``ttlSecondsAfterFinished`` after the terminal
  condition's lastTransitionTime (propagation Foreground).
"""

from __future__ import annotations

from typing import Any

from kubetwin.api.errors import ApiError
from kubetwin.api.resources import is_pod_ready
from kubetwin.client.controller import Controller
from kubetwin.controllers import _util as u
from kubetwin.controllers._refmanager import claim
from kubetwin.controllers.replicaset import pod_from_template, rank_pods_for_deletion
from kubetwin.store.copy import deep_copy

Obj = dict[str, Any]

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
DEFAULT_BACKOFF = 10.0
MAX_BACKOFF = 360.0
MAX_POD_CREATE_DELETE_PER_SYNC = 500
DEFAULT_BACKOFF_LIMIT = 6

REASON_BACKOFF = "BackoffLimitExceeded"
MSG_BACKOFF = "Job has reached the specified backoff limit"
REASON_DEADLINE = "DeadlineExceeded"
MSG_DEADLINE = "Job was active longer than specified deadline"
REASON_COMPLETIONS = "CompletionsReached"
MSG_COMPLETIONS = "Reached expected number of succeeded pods"


def parse_indexes(s: str | None) -> set[int]:
    out: set[int] = set()
    for part in (s or "").split(","):
        if not part:
            continue
        a, _, b = part.partition("-")
        out.update(range(int(a), int(b or a) + 1))
    return out


def format_indexes(idx: set[int]) -> str:
    """Compressed interval format of status.completedIndexes: ``1,3-5,7``."""
    parts: list[str] = []
    items = sorted(idx)
    i = 0
    while i < len(items):
        j = i
        while j + 1 < len(items) and items[j + 1] == items[j] + 1:
            j += 1
        parts.append(str(items[i]) if i == j else f"{items[i]}-{items[j]}")
        i = j + 1
    return ",".join(parts)


def pod_index(pod: Obj) -> int | None:
    v = ((pod.get("metadata") or {}).get("annotations") or {}).get(COMPLETION_INDEX)
    if v is None:
        v = u.labels_of(pod).get(COMPLETION_INDEX)
    try:
        return int(v) if v is not None else None
    except ValueError:
        return None


def finished_condition(job: Obj) -> Obj | None:
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return c
    return None


def _phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase", ""))


class JobController(Controller):
    name = "job-controller"

    def __init__(self, client: Any, informers: Any) -> None:
        super().__init__(client, informers)
        # backoff record per job key: (failures after last success, last failure time)
        self._backoff: dict[str, tuple[int, float]] = {}

    def start(self) -> None:
        self.job_informer = self.informers.get("jobs.batch")
        self.pod_informer = self.informers.get("pods")
        u.ensure_controller_index(self.pod_informer)
        self.job_informer.add_handler(self._owner_event, lambda o, n: self.enqueue(n), self._owner_event)
        self.pod_informer.add_handler(self._pod_event, self._pod_updated, self._pod_event)
        u.pod_updates_while_owners(self.pod_informer, self.job_informer, self._pod_updated)

    def _owner_event(self, obj: Obj) -> None:
        """A Job added or deleted: enqueued, and pod updates followed only while Jobs exist."""
        self.enqueue(obj)
        u.pod_updates_while_owners(self.pod_informer, self.job_informer, self._pod_updated)

    def _pod_updated(self, _old: Obj, new: Obj) -> None:
        """Called only while Jobs exist (see _owner_event): none, no pod has one to enqueue."""
        self._pod_event(new)

    def _pod_event(self, pod: Obj) -> None:
        for r in pod["metadata"].get("ownerReferences") or []:
            if r.get("controller") is True and r.get("kind") == "Job":
                job = self.job_informer.get(r.get("name", ""), pod["metadata"].get("namespace"))
                if job is not None and job["metadata"].get("uid") == r.get("uid"):
                    self.enqueue(job)

    # -- helpers ----------------------------------------------------------------------------
    def _job_pods(self, job: Obj) -> list[Obj]:
        if (job.get("spec") or {}).get("selector"):
            return claim(self.client, job, u.selector_of(job), u.owned_or_orphan(self.pod_informer, job))
        return list(self.pod_informer.by_index(u.CONTROLLER_UID_INDEX, job["metadata"]["uid"]))

    def _condition(self, type_: str, reason: str, message: str) -> Obj:
        now = self.loop.timestamp()
        return {"type": type_, "status": "True", "lastProbeTime": now, "lastTransitionTime": now,
                "reason": reason, "message": message}  # fmt: skip

    @staticmethod
    def _counts_as_failed(pod: Obj) -> bool:
        if _phase(pod) == "Failed":
            return True
        return bool(pod["metadata"].get("deletionTimestamp")) and _phase(pod) != "Succeeded"

    # -- sync -------------------------------------------------------------------------------
    def reconcile(self, key: str) -> float | None:
        cached = self.job_informer.get_by_key(key)
        if cached is None:
            self._backoff.pop(key, None)
            return None
        job = deep_copy(cached)
        pods = self._job_pods(job)
        status: Obj = job.setdefault("status", {})
        spec = job.get("spec") or {}
        now = self.loop.now
        indexed = spec.get("completionMode") == "Indexed"
        completions = spec.get("completions")
        parallelism = int(spec.get("parallelism", 1) if spec.get("parallelism") is not None else 1)
        backoff_limit = int(spec.get("backoffLimit", DEFAULT_BACKOFF_LIMIT) or 0)
        uid = job["metadata"]["uid"]

        # 1. finished pods still holding the tracking finalizer -> uncounted
        uncounted = status.get("uncountedTerminatedPods") or {}
        unc_s: list[str] = list(uncounted.get("succeeded") or [])
        unc_f: list[str] = list(uncounted.get("failed") or [])
        to_finalize = []
        for p in pods:
            if TRACKING_FINALIZER not in (p["metadata"].get("finalizers") or []):
                continue
            puid = p["metadata"]["uid"]
            if _phase(p) == "Succeeded":
                if puid not in unc_s:
                    unc_s.append(puid)
                to_finalize.append(p)
            elif self._counts_as_failed(p):
                if puid not in unc_f:
                    unc_f.append(puid)
                to_finalize.append(p)
            elif finished_condition(job) is not None:
                to_finalize.append(p)  # orphaned by a finished job: release it
        if to_finalize:
            if unc_s or unc_f:
                status["uncountedTerminatedPods"] = {k: v for k, v in (("succeeded", unc_s), ("failed", unc_f)) if v}
                job = self._write(job)
                status = job["status"]
            for p in to_finalize:
                u.remove_finalizer(self.client, p, TRACKING_FINALIZER)
        # 2. count uncounted pods whose finalizer is gone
        by_uid = {p["metadata"]["uid"]: p for p in self.pod_informer.by_index(u.CONTROLLER_UID_INDEX, uid)}
        new_succeeded = new_failed = 0
        completed = parse_indexes(status.get("completedIndexes"))
        for puid in list(unc_s):
            q = by_uid.get(puid)
            if q is not None and TRACKING_FINALIZER in (q["metadata"].get("finalizers") or []):
                continue
            unc_s.remove(puid)
            if indexed:
                idx = pod_index(q) if q is not None else None
                if idx is not None and (completions is None or idx < int(completions)):
                    completed.add(idx)
            else:
                new_succeeded += 1
        for puid in list(unc_f):
            q = by_uid.get(puid)
            if q is not None and TRACKING_FINALIZER in (q["metadata"].get("finalizers") or []):
                continue
            unc_f.remove(puid)
            new_failed += 1
        status["uncountedTerminatedPods"] = {k: v for k, v in (("succeeded", unc_s), ("failed", unc_f)) if v}
        succeeded = len(completed) if indexed else int(status.get("succeeded", 0) or 0) + new_succeeded
        failed = int(status.get("failed", 0) or 0) + new_failed
        if indexed:
            status["completedIndexes"] = format_indexes(completed)
        status["succeeded"] = succeeded
        status["failed"] = failed
        fails, last = self._backoff.get(key, (0, 0.0))
        if new_succeeded:
            fails = 0
        if new_failed:
            fails, last = fails + new_failed, now
        self._backoff[key] = (fails, last)

        pods = self._job_pods(job)
        active = [p for p in pods if u.is_pod_active(p)]
        terminating = [p for p in pods if u.is_pod_terminating(p)]
        requeue: float | None = None

        if finished_condition(job) is not None:
            status["active"] = 0
            status["ready"] = 0
            status["terminating"] = len(terminating)
            self._write_if_changed(cached, job)
            return None

        suspended = bool(spec.get("suspend"))
        if status.get("startTime") is None and not suspended:
            status["startTime"] = self.loop.timestamp()
        start = u.ts(self.loop, status.get("startTime"))

        target: Obj | None = u.get_condition(status, "FailureTarget")
        success_target: Obj | None = u.get_condition(status, "SuccessCriteriaMet")
        if target is None and success_target is None:
            restarts = sum(u.sum_restarts(p) for p in pods if _phase(p) in ("Running", "Pending"))
            on_failure = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") == "OnFailure"
            past_on_failure = on_failure and (restarts > 0 if backoff_limit == 0 else restarts >= backoff_limit)
            deadline = spec.get("activeDeadlineSeconds")
            if failed > backoff_limit or past_on_failure:
                target = self._condition("FailureTarget", REASON_BACKOFF, MSG_BACKOFF)
            elif deadline is not None and start is not None and not suspended and now - start >= int(deadline):
                target = self._condition("FailureTarget", REASON_DEADLINE, MSG_DEADLINE)
            elif deadline is not None and start is not None and not suspended:
                requeue = start + int(deadline) - now
            if target is not None:
                status.setdefault("conditions", []).append(target)
        if target is not None:
            for p in active:
                self._delete_pod(job, p)
            pods = self._job_pods(job)
            terminating = [p for p in pods if u.is_pod_terminating(p) or u.is_pod_active(p)]
            if not terminating:
                status["conditions"].append(self._condition("Failed", target["reason"], target["message"]))
                self.recorder.warning(job, target["reason"], target["message"])
            self._finish_status(status, [], terminating)
            self._write_if_changed(cached, job)
            return None

        if success_target is None:
            if indexed:
                complete = completions is not None and len(completed) >= int(completions)
            elif completions is None:
                complete = succeeded > 0 and not active
            else:
                complete = succeeded >= int(completions)
            if complete:
                success_target = self._condition("SuccessCriteriaMet", REASON_COMPLETIONS, MSG_COMPLETIONS)
                status.setdefault("conditions", []).append(success_target)
        if success_target is not None:
            for p in active:
                self._delete_pod(job, p)
            pods = self._job_pods(job)
            pending = [p for p in pods if u.is_pod_terminating(p) or u.is_pod_active(p)]
            if not pending:
                status["conditions"].append(self._condition("Complete", REASON_COMPLETIONS, MSG_COMPLETIONS))
                status["completionTime"] = self.loop.timestamp()
                self.recorder.normal(job, "Completed", "Job completed")
            self._finish_status(status, [], pending)
            self._write_if_changed(cached, job)
            return None

        # 3. manage active pods
        if suspended:
            want = 0
        elif completions is None:
            want = len(active) if succeeded > 0 else parallelism
        else:
            want = max(min(int(completions) - succeeded, parallelism), 0)
        if len(active) > want:
            victims = rank_pods_for_deletion(self.loop, active, [0] * len(active), now)[: len(active) - want]
            for p in victims[:MAX_POD_CREATE_DELETE_PER_SYNC]:
                self._delete_pod(job, p)
        elif len(active) < want:
            remaining = 0.0
            if fails > 0:
                delay = min(DEFAULT_BACKOFF * 2 ** (fails - 1), MAX_BACKOFF)
                remaining = delay - (now - last)
            if remaining > 0:
                r = remaining
                requeue = r if requeue is None else min(requeue, r)
            else:
                self._create_pods(job, active, completed, min(want - len(active), MAX_POD_CREATE_DELETE_PER_SYNC))
        self._set_suspended(status, suspended)
        pods = self._job_pods(job)
        self._finish_status(status, [p for p in pods if u.is_pod_active(p)],
                            [p for p in pods if u.is_pod_terminating(p)])  # fmt: skip
        self._write_if_changed(cached, job)
        return requeue

    def _set_suspended(self, status: Obj, suspended: bool) -> None:
        cur = u.get_condition(status, "Suspended")
        now = self.loop.timestamp()
        if suspended and (cur is None or cur.get("status") != "True"):
            u.remove_condition(status, "Suspended")
            status.setdefault("conditions", []).append(
                {"type": "Suspended", "status": "True", "lastProbeTime": now, "lastTransitionTime": now,
                 "reason": "JobSuspended", "message": "Job suspended"})  # fmt: skip
        elif not suspended and cur is not None and cur.get("status") == "True":
            cur.update(status="False", reason="JobResumed", message="Job resumed", lastProbeTime=now,
                       lastTransitionTime=now)  # fmt: skip

    @staticmethod
    def _finish_status(status: Obj, active: list[Obj], terminating: list[Obj]) -> None:
        status["active"] = len(active)
        status["ready"] = sum(1 for p in active if is_pod_ready(p))
        status["terminating"] = len(terminating)

    def _write(self, job: Obj) -> Obj:
        updated = self.client.update_status(job)
        return deep_copy(updated)

    def _write_if_changed(self, cached: Obj, job: Obj) -> None:
        current = self.job_informer.get_by_key(
            f"{job['metadata']['namespace']}/{job['metadata']['name']}"
        ) or cached
        if (current.get("status") or {}) != job.get("status"):
            job["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            self.client.update_status(job)

    def _delete_pod(self, job: Obj, pod: Obj) -> None:
        try:
            self.client.delete("pods", pod["metadata"]["name"], pod["metadata"]["namespace"])
        except ApiError as e:
            if e.code != 404:
                raise
            return
        self.recorder.normal(job, "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}")

    def _create_pods(self, job: Obj, active: list[Obj], completed: set[int], diff: int) -> None:
        spec = job.get("spec") or {}
        template = deep_copy(spec.get("template") or {})
        tmeta = template.setdefault("metadata", {})
        m = job["metadata"]
        tmeta["labels"] = {**(tmeta.get("labels") or {}),
                           "batch.kubernetes.io/controller-uid": m["uid"], "controller-uid": m["uid"],
                           "batch.kubernetes.io/job-name": m["name"], "job-name": m["name"]}  # fmt: skip
        tmeta["finalizers"] = [*(tmeta.get("finalizers") or []), TRACKING_FINALIZER]
        indexes: list[int | None]
        if spec.get("completionMode") == "Indexed":
            busy = {pod_index(p) for p in active}
            total = int(spec.get("completions") or 0)
            free: list[int | None] = [i for i in range(total) if i not in completed and i not in busy]
            indexes = free[:diff]
        else:
            indexes = [None] * diff
        pos = 0
        for batch in u.slow_start_batches(len(indexes)):
            failed = False
            for idx in indexes[pos : pos + batch]:
                t = deep_copy(template)
                gen = f"{m['name']}-"
                if idx is not None:
                    gen = f"{m['name']}-{idx}-"
                    t["metadata"].setdefault("annotations", {})[COMPLETION_INDEX] = str(idx)
                    t["metadata"]["labels"][COMPLETION_INDEX] = str(idx)
                    t["spec"].setdefault("hostname", f"{m['name']}-{idx}")
                    for c in [*(t["spec"].get("initContainers") or []), *(t["spec"].get("containers") or [])]:
                        env = [e for e in c.get("env") or [] if e.get("name") != "JOB_COMPLETION_INDEX"]
                        env.insert(0, {"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
                            "apiVersion": "v1",
                            "fieldPath": f"metadata.labels['{COMPLETION_INDEX}']"}}})  # fmt: skip
                        c["env"] = env
                try:
                    pod = self.client.create(pod_from_template(t, job, gen))
                except ApiError as e:
                    if e.reason == "Forbidden" and "being terminated" in e.message:
                        return
                    self.recorder.warning(job, "FailedCreate", f"Error creating: {e.message}")
                    failed = True
                    continue
                self.recorder.normal(job, "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}")
            pos += batch
            if failed:
                return


class TTLAfterFinishedController(Controller):
    name = "ttl-after-finished-controller"

    def start(self) -> None:
        self.job_informer = self.informers.get("jobs.batch")
        self.job_informer.add_handler(self.enqueue, lambda o, n: self.enqueue(n))

    def reconcile(self, key: str) -> float | None:
        job = self.job_informer.get_by_key(key)
        if job is None or job["metadata"].get("deletionTimestamp"):
            return None
        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        cond = finished_condition(job)
        if ttl is None or cond is None:
            return None
        finished = u.ts(self.loop, cond.get("lastTransitionTime"))
        if finished is None:
            return None
        expire = finished + int(ttl)
        if self.loop.now < expire:
            return expire - self.loop.now
        m = job["metadata"]
        try:
            self.client.delete("jobs.batch", m["name"], m["namespace"], propagation_policy="Foreground",
                               preconditions={"uid": m["uid"]})  # fmt: skip
        except ApiError as e:
            if e.code != 404:
                raise
        return None
