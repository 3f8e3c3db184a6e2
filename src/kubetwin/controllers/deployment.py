"""Deployment controller (pkg/controller/deployment: deployment_controller.go, sync.go, rolling.go,
recreate.go, progress.go; util/deployment_util.go).

- ReplicaSets are claimed by selector and named ``<deployment>-<pod-template-hash>``; the hash is
  FNV-32a over the pod template (+ ``status.collisionCount``), rendered with SafeEncodeString
  (deterministic; upstream hashes a Go struct dump, so values differ from a real cluster's).
- RollingUpdate: maxSurge rounds up, maxUnavailable rounds down (both 0 => maxUnavailable 1);
  scale the new RS up to ``replicas + maxSurge`` total, then old RSs down (unhealthy first) while
  keeping ``replicas - maxUnavailable`` available. Recreate: old RSs to 0, wait until no old pod
  runs, then the new RS to full size.
- Scaling mid-rollout distributes the difference proportionally (``max-replicas`` annotation),
  leftovers to the largest RS, as ``scale()``; paused deployments only scale and clean up.
- Annotations ``deployment.kubernetes.io/revision`` (+ ``revision-history``) on RSs and the
  Deployment, ``desired-replicas`` and ``max-replicas`` on RSs; ``revisionHistoryLimit`` deletes
  the oldest fully scaled-down RSs.
- Status: replicas, updatedReplicas, readyReplicas, availableReplicas, unavailableReplicas,
  observedGeneration, collisionCount, conditions Available (MinimumReplicasAvailable /
  MinimumReplicasUnavailable), Progressing (NewReplicaSetCreated, FoundNewReplicaSet,
  ReplicaSetUpdated, NewReplicaSetAvailable, ProgressDeadlineExceeded, DeploymentPaused,
  DeploymentResumed) and ReplicaFailure copied from the RSs; requeues for the progress deadline.
- Events ``ScalingReplicaSet``: "Scaled up replica set web-abc to 3 from 0".

A rolling sync that ends settled (the rollout complete: Progressing ``NewReplicaSetAvailable`` with
every replica updated, or no progress deadline; no ReplicaFailure; nothing for the history limit
to clean up) is remembered with what it read; a later sync that finds those reads as they were
(the Deployment's spec, annotations and generation; the namespace's ReplicaSets) and the status
it computed in place would compute that status again and write, schedule and record nothing: it
returns at once (see ``DeploymentController._settled``). Most syncs are such: the one the
Deployment's own status write enqueues, once its ReplicaSets are settled. Where those reads have
moved only in ReplicaSet statuses (written by status writes alone) and no old ReplicaSet has
replicas, the steps before syncRolloutStatus, which read no ReplicaSet status, would again do
nothing: only that status sync runs (see ``DeploymentController._sync_statuses``). Most of the
other syncs are such: a pod became ready, and its ReplicaSet wrote its counts.
"""

from __future__ import annotations

from typing import Any

from kubetwin.api.errors import ApiError
from kubetwin.client.controller import Controller
from kubetwin.controllers import _util as u
from kubetwin.controllers._refmanager import claim
from kubetwin.store.copy import deep_copy

Obj = dict[str, Any]

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_SKIP_ANNOTATIONS = {LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO}
MAX_REV_HISTORY_LENGTH_IN_CHARS = 2000
_TEMPLATE_EQ_ENTRIES = 4096  # template pairs remembered by _same_template before starting afresh
MAX_INT32 = 2**31 - 1

# condition reasons (deployment_util.go)
NEW_RS_REASON = "NewReplicaSetCreated"
FOUND_NEW_RS_REASON = "FoundNewReplicaSet"
RS_UPDATED_REASON = "ReplicaSetUpdated"
NEW_RS_AVAILABLE_REASON = "NewReplicaSetAvailable"
TIMED_OUT_REASON = "ProgressDeadlineExceeded"
FAILED_RS_CREATE_REASON = "ReplicaSetCreateError"
PAUSED_REASON = "DeploymentPaused"
RESUMED_REASON = "DeploymentResumed"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"


# -- pure helpers -----------------------------------------------------------------------------
def replicas_of(obj: Obj) -> int:
    v = (obj.get("spec") or {}).get("replicas")
    return 1 if v is None else int(v)


def _spec_replicas(rs: Obj | None) -> int:
    if rs is None:
        return 0
    v = (rs.get("spec") or {}).get("replicas")
    return 1 if v is None else int(v)


def _st(rs: Obj | None, field: str) -> int:
    if rs is None:
        return 0
    return int((rs.get("status") or {}).get(field, 0) or 0)


def strategy(d: Obj) -> tuple[str, Any, Any]:
    s = (d.get("spec") or {}).get("strategy") or {}
    t = s.get("type") or "RollingUpdate"
    if t != "RollingUpdate":
        return t, 0, 0
    ru = s.get("rollingUpdate") or {}
    return t, ru.get("maxSurge", "25%"), ru.get("maxUnavailable", "25%")


def resolve_fenceposts(max_surge: Any, max_unavailable: Any, desired: int) -> tuple[int, int]:
    """deploymentutil.ResolveFenceposts: surge rounds up, unavailable down; never both zero."""
    surge = u.scaled_value(max_surge, desired, True)
    unavailable = u.scaled_value(max_unavailable, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(d: Obj) -> int:
    t, s, un = strategy(d)
    if t != "RollingUpdate":
        return 0
    return resolve_fenceposts(s, un, replicas_of(d))[0]


# max_unavailable per Deployment spec (u.by_object): a sync's working copy shares the informer's
# spec, which is never changed in place, so the strategy is parsed once per spec version rather
# than at every status computation.
_unavailable_by_spec: dict[int, tuple[Obj, int]] = {}


def max_unavailable(d: Obj) -> int:
    """deploymentutil.MaxUnavailable."""
    return u.by_object(_unavailable_by_spec, d.get("spec"), lambda: _resolve_max_unavailable(d))


def _resolve_max_unavailable(d: Obj) -> int:
    t, s, un = strategy(d)
    replicas = replicas_of(d)
    if t != "RollingUpdate" or replicas == 0:
        return 0
    return min(resolve_fenceposts(s, un, replicas)[1], replicas)


def pod_template_hash(template: Obj, collision_count: int | None) -> str:
    return u.compute_hash(template, collision_count)


def _template_without_hash(template: Obj) -> Obj:
    """``template`` without the pod-template-hash label (and without a metadata or labels map that
    leaves empty), for comparison only: the result shares everything else with ``template``."""
    t = template or {}
    meta = t.get("metadata")
    if "metadata" not in t:
        return t
    if not meta:
        return {k: v for k, v in t.items() if k != "metadata"}
    lbls = meta.get("labels")
    if not lbls or u.POD_TEMPLATE_HASH not in lbls:
        return t
    rest = {k: v for k, v in lbls.items() if k != u.POD_TEMPLATE_HASH}
    new_meta = {k: v for k, v in meta.items() if k != "labels"}
    if rest:
        new_meta["labels"] = rest
    out = {k: v for k, v in t.items() if k != "metadata"}
    if new_meta:
        out["metadata"] = new_meta
    return out


def equal_ignore_hash(a: Obj, b: Obj) -> bool:
    return _template_without_hash(a) == _template_without_hash(b)


def revision_of(rs: Obj) -> int:
    v = ((rs.get("metadata") or {}).get("annotations") or {}).get(REVISION, "")
    try:
        return int(v)
    except ValueError:
        return 0


def has_progress_deadline(d: Obj) -> bool:
    v = (d.get("spec") or {}).get("progressDeadlineSeconds", 600)
    return v is not None and int(v) != MAX_INT32


def progress_deadline(d: Obj) -> int:
    return int((d.get("spec") or {}).get("progressDeadlineSeconds", 600))


def _new_condition(type_: str, status: str, reason: str, message: str, now: str) -> Obj:
    return {"type": type_, "status": status, "lastUpdateTime": now, "lastTransitionTime": now,
            "reason": reason, "message": message}  # fmt: skip


def set_deployment_condition(status: Obj, cond: Obj) -> None:
    """deploymentutil.SetDeploymentCondition."""
    cur = u.get_condition(status, cond["type"])
    if cur is not None and cur.get("status") == cond["status"] and cur.get("reason") == cond["reason"]:
        return
    if cur is not None and cur.get("status") == cond["status"]:
        cond = dict(cond, lastTransitionTime=cur.get("lastTransitionTime"))
    conds = [c for c in status.get("conditions") or [] if c.get("type") != cond["type"]]
    conds.append(cond)
    status["conditions"] = conds


def deployment_complete(d: Obj, status: Obj) -> bool:
    r = replicas_of(d)
    return (
        int(status.get("updatedReplicas", 0)) == r
        and int(status.get("replicas", 0)) == r
        and int(status.get("availableReplicas", 0)) == r
        and int(status.get("observedGeneration", 0)) >= int(d["metadata"].get("generation", 1))
    )


def _working_copy(d: Obj) -> Obj:
    """The copy of a cached Deployment a sync works on: it sets the top level's, metadata's and
    status's own fields (and replaces conditions and annotations whole, never changing a condition
    or an annotation in place) but never the spec: below those three levels everything is shared
    with the cache (read-only)."""
    out = dict(d)
    out["metadata"] = dict(d["metadata"])
    if "status" in d:
        out["status"] = dict(d["status"])
    return out


def _active(rss: list[Obj]) -> list[Obj]:
    return [rs for rs in rss if rs is not None and _spec_replicas(rs) > 0]


def _status_moved(old: Any, new: Obj) -> bool:
    """Whether the cached ReplicaSet ``new`` is ``old`` (a kept read: an object, or someone else's
    ownerReferences list) after status writes alone: every field but the status, and every
    metadata field but the resourceVersion, the very object ``old`` has (a status write shares
    them with the version it replaces: Registry._merge_update)."""
    if not isinstance(old, dict) or len(old) - ("status" in old) != len(new) - ("status" in new):
        return False
    om, nm = old["metadata"], new["metadata"]
    return (
        all(k in old and old[k] is v for k, v in new.items() if k != "status" and k != "metadata")
        and len(om) == len(nm)
        and all(k in om and om[k] is v for k, v in nm.items() if k != "resourceVersion")
    )


class DeploymentController(Controller):
    name = "deployment-controller"
    _rate_limited = False
    # this sync's _get_all_rss answer: (deployment, ReplicaSets, store revision, new RS, old RSs)
    _kept_rss: tuple[Obj, list[Obj], int, Obj, list[Obj]] | None = None
    # (id, id) of an (RS template, Deployment template) pair -> (both objects, equal_ignore_hash)
    _template_eq: dict[tuple[int, int], tuple[Obj, Obj, bool]]

    def start(self) -> None:
        self.d_informer = self.informers.get("deployments.apps")
        self.rs_informer = self.informers.get("replicasets.apps")
        self.pod_informer = self.informers.get("pods")
        self._store = self.client.registry.store
        self._template_eq = {}
        # queue key -> (what its last settled rolling sync read, the status it left, its old and
        # new ReplicaSets when no old one had replicas, else None): see _settled and _sync_statuses
        self._synced: dict[str, tuple[tuple[Any, ...], Obj, tuple[list[Obj], Obj] | None]] = {}
        # by queue key (checked against spec.selector at each read: a later namesake is parsed anew)
        self._selectors = u.SelectorMemo()
        self.d_informer.add_handler(self.enqueue, lambda o, n: self.enqueue(n), self.enqueue)
        self.rs_informer.add_handler(self._rs_changed, lambda o, n: self._rs_updated(o, n), self._rs_changed)
        self.pod_informer.add_handler(None, None, self._pod_deleted)

    # -- handlers ---------------------------------------------------------------------------
    def _owner_of(self, obj: Obj, kind: str, informer: Any) -> Obj | None:
        for r in obj["metadata"].get("ownerReferences") or []:
            if r.get("controller") is True and r.get("kind") == kind:
                o: Obj | None = informer.get(r.get("name", ""), obj["metadata"].get("namespace"))
                if o is not None and o["metadata"].get("uid") == r.get("uid"):
                    return o
        return None

    def _rs_changed(self, rs: Obj) -> None:
        d = self._owner_of(rs, "Deployment", self.d_informer)
        if d is not None:
            self.enqueue(d)
        elif u.controller_uid(rs) is None:
            lbls = u.labels_of(rs)
            for d in self.d_informer.list(rs["metadata"].get("namespace") or None):
                if u.selector_of(d).matches(lbls):
                    self.enqueue(d)

    def _rs_updated(self, old: Obj, new: Obj) -> None:
        if u.controller_uid(old) != u.controller_uid(new):
            self._rs_changed(old)
        self._rs_changed(new)

    def _pod_deleted(self, pod: Obj) -> None:
        rs = self._owner_of(pod, "ReplicaSet", self.rs_informer)
        if rs is None:
            return
        d = self._owner_of(rs, "Deployment", self.d_informer)
        if d is not None and strategy(d)[0] == "Recreate":
            self.enqueue(d)

    # -- sync -------------------------------------------------------------------------------
    def _process(self, key: str) -> None:
        """Controller._process, except that a rate-limited progress re-check (requeueStuckDeployment's
        enqueueRateLimited) keeps its back-off: the key is not forgotten, so a Deployment close to its
        deadline is looked at after 5 ms, 10 ms, 20 ms, ... rather than every 5 ms."""
        try:
            after = self.reconcile(key)
        except ApiError:
            self.errors += 1
            self.queue.add_rate_limited(key)
            return
        if self._rate_limited:
            self.queue.add_rate_limited(key)
            return
        self.queue.forget(key)
        if after is not None:
            self.queue.add_after(key, after)

    def reconcile(self, key: str) -> float | None:
        self._rate_limited = False
        self._kept_rss = None
        self._rollout: tuple[list[Obj], Obj] | None = None
        cached = self.d_informer.get_by_key(key)
        if cached is None:
            self._synced.pop(key, None)
            return None
        memo = self._synced.get(key)
        if memo is not None and (cached.get("status") or {}) == memo[1]:
            now = self._reads_again(memo[0], cached)
            if now is memo[0]:
                return None  # a settled sync with the same reads: see _settled
            if now is not None and memo[2] is not None:
                return self._sync_statuses(key, cached, now, memo[2])
        reads = self._reads(cached)
        d = _working_copy(cached)
        self._requeue: float | None = None
        sel = (d.get("spec") or {}).get("selector")
        if not sel or (not sel.get("matchLabels") and not sel.get("matchExpressions")):
            self.recorder.warning(
                d, "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required."
            )
            status = d.get("status") or {}
            if int(status.get("observedGeneration", 0)) < int(d["metadata"].get("generation", 1)):
                status["observedGeneration"] = int(d["metadata"].get("generation", 1))
                d["status"] = status
                self.client.update_status(d)
            return None
        ns = d["metadata"].get("namespace", "")
        rs_list = claim(self.client, d, self._selectors.get(key, d), self.rs_informer.list(ns))
        if d["metadata"].get("deletionTimestamp"):
            new_rs, old_rss = self._get_all_rss(d, rs_list, False)
            self._sync_status(d, [*old_rss, new_rs], new_rs)
            return self._requeue
        d = self._check_paused_conditions(d)
        spec = d.get("spec") or {}
        if spec.get("paused"):
            self._sync(d, rs_list)
            return self._requeue
        if self._is_scaling_event(d, rs_list):
            self._sync(d, rs_list)
            return self._requeue
        if strategy(d)[0] == "Recreate":
            self._rollout_recreate(d, rs_list)
        else:
            self._rollout_rolling(d, rs_list)
            if self._requeue is None and not self._rate_limited and self._settled(d, rs_list):
                self._synced[key] = (reads, d.get("status") or {}, self._rollout)
        return self._requeue

    def _sync_statuses(
        self, key: str, cached: Obj, reads: tuple[Any, ...], rollout: tuple[list[Obj], Obj]
    ) -> float | None:
        """A rolling sync after a settled one whose reads have since moved only in ReplicaSet
        statuses (``rollout``: that sync's old ReplicaSets, none with replicas, and its new one).
        Before syncRolloutStatus a rolling sync reads no ReplicaSet status (claim, the paused
        check, the scaling-event check, the new ReplicaSet's annotations and its scale read
        metadata and spec; old ReplicaSets without replicas are left alone; the history limit
        cleans nothing while settled), so those steps do again what they did then: nothing (a
        write of theirs would have moved more than statuses). Only syncRolloutStatus runs, over
        the same ReplicaSets read again (``reads``: what ``_reads(cached)`` finds). Most syncs of a
        settled Deployment are such: a pod of its ReplicaSet became ready, and the ReplicaSet wrote
        its counts."""
        d = _working_copy(cached)
        self._requeue = None
        old_rss, new_rs = rollout
        all_rss = [*old_rss, new_rs]
        self._sync_rollout_status(d, self._fresh(all_rss), self._fresh_one(new_rs))
        if self._requeue is None and not self._rate_limited and self._settled(d, all_rss):
            self._synced[key] = (reads, d.get("status") or {}, rollout)
        return self._requeue

    def _reads(self, d: Obj) -> tuple[Any, ...]:
        """What a rolling sync of the cached Deployment ``d`` reads besides its status: its spec,
        annotations, generation, uid and deletion, and of each ReplicaSet of its namespace the
        whole object where claim keeps or could adopt it (it is the Deployment's or an orphan),
        else only its ownerReferences (claim passes over it)."""
        m = d["metadata"]
        uid = m.get("uid")
        rss = tuple(
            rs if (c := u.controller_uid(rs)) is None or c == uid else rs["metadata"].get("ownerReferences")
            for rs in self.rs_informer.list(m.get("namespace", ""))
        )  # fmt: skip
        return (d.get("spec"), m.get("annotations"), m.get("generation"), uid, m.get("deletionTimestamp"), rss)

    def _reads_again(self, reads: tuple[Any, ...], d: Obj) -> tuple[Any, ...] | None:
        """``reads`` itself where ``_reads(d)`` would find what it holds (the same objects,
        generation, uid and deletion), without building it: a kept ReplicaSet is the very object
        now, a kept ownerReferences list the very list of the ReplicaSet now (which is then
        someone else's, as it was). Cached objects are never changed in place, so the same object
        reads the same. Where kept ReplicaSets are later versions that only status writes made
        (see :func:`_status_moved`: claim classes them as it did), what ``_reads(d)`` finds, built
        from ``reads``; else None."""
        spec, ann, gen, uid, deleting, kept = reads
        m = d["metadata"]
        if not (spec is d.get("spec") and ann is m.get("annotations") and gen == m.get("generation")
                and uid == m.get("uid") and deleting == m.get("deletionTimestamp")):  # fmt: skip
            return None
        rss = self.rs_informer.list(m.get("namespace", ""))
        if len(rss) != len(kept):
            return None
        now: list[Any] | None = None  # the kept reads as _reads(d) finds them, once one moved
        for i, (x, rs) in enumerate(zip(kept, rss, strict=True)):
            if x is rs or x is rs["metadata"].get("ownerReferences"):
                continue
            if not _status_moved(x, rs):
                return None
            if now is None:
                now = list(kept)
            now[i] = rs
        return reads if now is None else (spec, ann, gen, uid, deleting, tuple(now))

    def _settled(self, d: Obj, rs_list: list[Obj]) -> bool:
        """Whether a rolling sync from ``d``'s status (the one this sync leaves) with the same reads
        writes, schedules and records nothing, whatever the time: the rollout is complete by
        progress.go's own test (so no progress check and no requeue; without a progress deadline
        there are neither), no ReplicaFailure condition (copied with the time when its
        ReplicaSet's has none) and the history limit leaves every old ReplicaSet alone. (From the
        status it computed, the same ReplicaSets give the same counts, conditions and steps.)"""
        status = d.get("status") or {}
        if u.get_condition(status, "ReplicaFailure") is not None:
            return False
        limit = (d.get("spec") or {}).get("revisionHistoryLimit", 10)
        if limit is not None and len(rs_list) - 1 > int(limit):
            return False
        if not has_progress_deadline(d):
            return True
        cond = u.get_condition(status, "Progressing")
        return (
            cond is not None and cond.get("reason") == NEW_RS_AVAILABLE_REASON
            and status.get("replicas") == status.get("updatedReplicas")
        )  # fmt: skip

    def _write_status(self, d: Obj) -> Obj:
        # handed over (owned): the store keeps the status (a copy of its top level: the sync may
        # go on setting d's fields, but replaces conditions whole and never changes one in place)
        # and the annotations (replaced whole, never changed in place); no other copies
        obj = dict(d)
        if "status" in d:
            obj["status"] = dict(d["status"])
        updated = self.client.update_status(obj, owned=True)
        d["metadata"]["resourceVersion"] = updated["metadata"]["resourceVersion"]
        return d

    def _check_paused_conditions(self, d: Obj) -> Obj:
        if not has_progress_deadline(d):
            return d
        status = d.setdefault("status", {})
        cond = u.get_condition(status, "Progressing")
        if cond is not None and cond.get("reason") == TIMED_OUT_REASON:
            return d
        paused_exists = cond is not None and cond.get("reason") == PAUSED_REASON
        now = self.loop.timestamp()
        if (d.get("spec") or {}).get("paused") and not paused_exists:
            set_deployment_condition(
                status, _new_condition("Progressing", "Unknown", PAUSED_REASON, "Deployment is paused", now)
            )
        elif not (d.get("spec") or {}).get("paused") and paused_exists:
            set_deployment_condition(
                status, _new_condition("Progressing", "Unknown", RESUMED_REASON, "Deployment is resumed", now)
            )
        else:
            return d
        return self._write_status(d)

    def _is_scaling_event(self, d: Obj, rs_list: list[Obj]) -> bool:
        new_rs, old_rss = self._get_all_rss(d, rs_list, False)
        for rs in _active([*old_rss, new_rs] if new_rs is not None else old_rss):
            v = ((rs["metadata"].get("annotations") or {}).get(DESIRED_REPLICAS))
            if v is None:
                continue
            try:
                if int(v) != replicas_of(d):
                    return True
            except ValueError:
                continue
        return False

    # -- replica sets -----------------------------------------------------------------------
    def _sorted(self, rss: list[Obj]) -> list[Obj]:
        return sorted(rss, key=lambda rs: u.sort_key_created(self.loop, rs))

    def _find_new_rs(self, d: Obj, rs_list: list[Obj]) -> Obj | None:
        template = (d.get("spec") or {}).get("template") or {}
        for rs in self._sorted(rs_list):
            if self._same_template((rs.get("spec") or {}).get("template") or {}, template):
                return rs
        return None

    def _same_template(self, rs_template: Obj, template: Obj) -> bool:
        """equal_ignore_hash, remembered for the pair of template objects: cached objects are never
        changed in place, and status writes keep the spec (hence the template) object, so most
        syncs compare the same two objects as the last one did."""
        key = (id(rs_template), id(template))
        hit = self._template_eq.get(key)
        if hit is not None and hit[0] is rs_template and hit[1] is template:
            return hit[2]
        same = equal_ignore_hash(rs_template, template)
        if len(self._template_eq) >= _TEMPLATE_EQ_ENTRIES:
            self._template_eq.clear()
        self._template_eq[key] = (rs_template, template, same)
        return same

    def _get_all_rss(self, d: Obj, rs_list: list[Obj], create: bool) -> tuple[Obj | None, list[Obj]]:
        """getAllReplicaSetsAndSyncRevision. A sync asks twice (the scaling-event check, then its
        strategy): when the first call found the new ReplicaSet and wrote nothing, and nothing was
        written since, the second takes the same steps to the same answer, which is reused."""
        rv = self._store.resource_version
        kept = self._kept_rss
        if kept is not None and kept[0] is d and kept[1] is rs_list and kept[2] == rv:
            return kept[3], list(kept[4])
        existing = self._find_new_rs(d, rs_list)
        old = [rs for rs in rs_list if existing is None or rs["metadata"]["uid"] != existing["metadata"]["uid"]]
        new_rs = self._get_new_rs(d, rs_list, old, existing, create)
        if new_rs is not None and self._store.resource_version == rv:
            self._kept_rss = (d, rs_list, rv, new_rs, list(old))
        return new_rs, old

    def _set_new_rs_annotations(self, d: Obj, rs: Obj, new_revision: str, exists: bool) -> bool:
        """deploymentutil.SetNewReplicaSetAnnotations."""
        meta = rs["metadata"]
        ann = dict(meta.get("annotations") or {})
        changed = False
        for k, v in (d["metadata"].get("annotations") or {}).items():
            if k in _SKIP_ANNOTATIONS or ann.get(k) == v:
                continue
            ann[k] = v
            changed = True
        old_revision = ann.get(REVISION)
        had = old_revision is not None
        try:
            old_int = int(old_revision) if old_revision else 0
        except ValueError:
            meta["annotations"] = ann
            return changed
        new_int = int(new_revision)
        if old_int < new_int:
            ann[REVISION] = new_revision
            changed = True
        if had and old_int < new_int and old_revision:
            hist = ann.get(REVISION_HISTORY, "")
            olds = hist.split(",")
            if not olds[0]:
                ann[REVISION_HISTORY] = old_revision
            else:
                total = len(hist) + len(old_revision) + 1
                start = 0
                while total > MAX_REV_HISTORY_LENGTH_IN_CHARS and start < len(olds):
                    total -= len(olds[start]) + 1
                    start += 1
                if total <= MAX_REV_HISTORY_LENGTH_IN_CHARS:
                    ann[REVISION_HISTORY] = ",".join([*olds[start:], old_revision])
        if not exists:
            r = replicas_of(d)
            ann[DESIRED_REPLICAS] = str(r)
            ann[MAX_REPLICAS] = str(r + max_surge(d))
            changed = True
        meta["annotations"] = ann
        return changed

    def _set_deployment_revision(self, d: Obj, revision: str) -> None:
        ann = d["metadata"].get("annotations") or {}
        if ann.get(REVISION) == revision:
            return
        fresh = self.client.get("deployments.apps", d["metadata"]["name"], d["metadata"]["namespace"])
        fresh["metadata"].setdefault("annotations", {})[REVISION] = revision
        # Upstream (sync.go getNewReplicaSet) writes the revision through UpdateStatus, whose
        # strategy keeps annotations: the Deployment's generation stays put.
        updated = self.client.update_status(fresh)
        d["metadata"]["annotations"] = updated["metadata"].get("annotations")
        d["metadata"]["resourceVersion"] = updated["metadata"]["resourceVersion"]

    def _get_new_rs(
        self, d: Obj, rs_list: list[Obj], old_rss: list[Obj], existing: Obj | None, create: bool
    ) -> Obj | None:
        max_old = max((revision_of(rs) for rs in old_rss), default=0)
        new_revision = str(max_old + 1)
        status = d.setdefault("status", {})
        if existing is not None:
            # _set_new_rs_annotations replaces metadata.annotations: a copy of the top and of
            # metadata is enough until the spec changes too (most syncs write nothing here)
            rs_copy = {**existing, "metadata": dict(existing["metadata"])}
            changed = self._set_new_rs_annotations(d, rs_copy, new_revision, True)
            min_ready = int((d.get("spec") or {}).get("minReadySeconds", 0) or 0)
            if changed or int(rs_copy["spec"].get("minReadySeconds", 0) or 0) != min_ready:
                rs_copy = {**deep_copy({**existing, "metadata": {}}), "metadata": deep_copy(rs_copy["metadata"])}
                rs_copy["spec"]["minReadySeconds"] = min_ready
                return self.client.update(rs_copy)
            self._set_deployment_revision(d, (rs_copy["metadata"].get("annotations") or {}).get(REVISION, ""))
            if has_progress_deadline(d) and u.get_condition(status, "Progressing") is None:
                msg = f'Found new replica set "{rs_copy["metadata"]["name"]}"'
                set_deployment_condition(
                    status, _new_condition("Progressing", "True", FOUND_NEW_RS_REASON, msg, self.loop.timestamp())
                )
                self._write_status(d)
            return rs_copy
        if not create:
            return None
        spec = d.get("spec") or {}
        template = deep_copy(spec.get("template") or {})
        collision = status.get("collisionCount")
        h = pod_template_hash(template, collision)
        tmeta = template.setdefault("metadata", {})
        tmeta["labels"] = {**(tmeta.get("labels") or {}), u.POD_TEMPLATE_HASH: h}
        selector = deep_copy(spec.get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), u.POD_TEMPLATE_HASH: h}
        name = f"{d['metadata']['name']}-{h}"
        new_rs: Obj = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": d["metadata"]["namespace"],
                         "ownerReferences": [u.owner_ref(d)], "labels": dict(tmeta["labels"])},
            "spec": {"replicas": 0, "minReadySeconds": int(spec.get("minReadySeconds", 0) or 0),
                     "selector": selector, "template": template},
        }  # fmt: skip
        new_count = self._new_rs_new_replicas(d, [*old_rss, new_rs], new_rs)
        new_rs["spec"]["replicas"] = new_count
        self._set_new_rs_annotations(d, new_rs, new_revision, False)
        already = False
        try:
            created = self.client.create(new_rs)
        except ApiError as e:
            if e.reason == "AlreadyExists":
                already = True
                rs = self.rs_informer.get(name, d["metadata"]["namespace"])
                if rs is not None and u.owner_is(rs, d["metadata"]["uid"]) and equal_ignore_hash(
                    (rs.get("spec") or {}).get("template") or {}, spec.get("template") or {}
                ):
                    created = rs
                else:
                    status["collisionCount"] = int(status.get("collisionCount", 0) or 0) + 1
                    self._write_status(d)
                    raise
            elif e.reason == "Forbidden" and "being terminated" in e.message:
                raise
            else:
                msg = f'Failed to create new replica set "{name}": {e.message}'
                if has_progress_deadline(d):
                    set_deployment_condition(
                        status,
                        _new_condition("Progressing", "False", FAILED_RS_CREATE_REASON, msg, self.loop.timestamp()),
                    )
                    self._write_status(d)
                self.recorder.warning(d, FAILED_RS_CREATE_REASON, msg)
                raise
        if not already and new_count > 0:
            self.recorder.normal(
                d, "ScalingReplicaSet", f"Scaled up replica set {created['metadata']['name']} to {new_count} from 0"
            )
        self._set_deployment_revision(d, new_revision)
        if not already and has_progress_deadline(d):
            msg = f'Created new replica set "{created["metadata"]["name"]}"'
            set_deployment_condition(
                status, _new_condition("Progressing", "True", NEW_RS_REASON, msg, self.loop.timestamp())
            )
            self._write_status(d)
        return created

    def _new_rs_new_replicas(self, d: Obj, all_rss: list[Obj], new_rs: Obj) -> int:
        t, s, _ = strategy(d)
        replicas = replicas_of(d)
        if t == "RollingUpdate":
            surge = u.scaled_value(s, replicas, True)
            current = sum(_spec_replicas(rs) for rs in all_rss)
            max_total = replicas + surge
            if current >= max_total:
                return _spec_replicas(new_rs)
            up = min(max_total - current, replicas - _spec_replicas(new_rs))
            return _spec_replicas(new_rs) + up
        return replicas

    # -- scaling ----------------------------------------------------------------------------
    def _scale_rs(self, rs: Obj, new_scale: int, d: Obj, operation: str) -> tuple[bool, Obj]:
        size_update = _spec_replicas(rs) != new_scale
        r = replicas_of(d)
        desired, maxr = str(r), str(r + max_surge(d))
        ann = rs["metadata"].get("annotations") or {}
        ann_update = ann.get(DESIRED_REPLICAS) != desired or ann.get(MAX_REPLICAS) != maxr
        if not (size_update or ann_update):
            return False, rs
        old_scale = _spec_replicas(rs)
        rs_copy = deep_copy(rs)
        rs_copy["spec"]["replicas"] = new_scale
        rs_copy["metadata"]["annotations"] = {**ann, DESIRED_REPLICAS: desired, MAX_REPLICAS: maxr}
        updated = self.client.update(rs_copy)
        if size_update:
            self.recorder.normal(
                d,
                "ScalingReplicaSet",
                f"Scaled {operation} replica set {updated['metadata']['name']} to {new_scale} from {old_scale}",
            )
        return size_update, updated

    def _scale_and_record(self, rs: Obj, new_scale: int, d: Obj) -> tuple[bool, Obj]:
        if _spec_replicas(rs) == new_scale:
            return False, rs
        op = "up" if _spec_replicas(rs) < new_scale else "down"
        return self._scale_rs(rs, new_scale, d, op)

    def _scale(self, d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> None:
        replicas = replicas_of(d)
        # FindActiveOrLatest
        if new_rs is not None or old_rss:
            olds_newest_first = sorted(old_rss, key=lambda rs: u.sort_key_created(self.loop, rs), reverse=True)
            active = _active([*olds_newest_first, *([new_rs] if new_rs is not None else [])])
            target: Obj | None = None
            if not active:
                target = new_rs if new_rs is not None else olds_newest_first[0]
            elif len(active) == 1:
                target = active[0]
            if target is not None:
                if _spec_replicas(target) != replicas:
                    self._scale_and_record(target, replicas, d)
                return
        if new_rs is not None and self._is_saturated(d, new_rs):
            for old in _active(old_rss):
                self._scale_and_record(old, 0, d)
            return
        if strategy(d)[0] != "RollingUpdate":
            return
        all_rss = _active([*old_rss, *([new_rs] if new_rs is not None else [])])
        total = sum(_spec_replicas(rs) for rs in all_rss)
        allowed = replicas + max_surge(d) if replicas > 0 else 0
        to_add = allowed - total
        if to_add > 0:
            # ReplicaSetsBySizeNewer: larger first, newer first among equals
            all_rss.sort(
                key=lambda rs: (-_spec_replicas(rs), -u.created(self.loop, rs), _neg_str(rs["metadata"]["name"]))
            )
            op = "up"
        elif to_add < 0:
            all_rss.sort(key=lambda rs: (-_spec_replicas(rs), *u.sort_key_created(self.loop, rs)))
            op = "down"
        else:
            op = ""
        added = 0
        sizes: dict[str, int] = {}
        for rs in all_rss:
            if to_add != 0:
                prop = self._proportion(rs, d, to_add, added)
                sizes[rs["metadata"]["name"]] = _spec_replicas(rs) + prop
                added += prop
            else:
                sizes[rs["metadata"]["name"]] = _spec_replicas(rs)
        for i, rs in enumerate(all_rss):
            n = rs["metadata"]["name"]
            if i == 0 and to_add != 0:
                sizes[n] = max(sizes[n] + (to_add - added), 0)
            self._scale_rs(rs, sizes[n], d, op)

    def _is_saturated(self, d: Obj, rs: Obj) -> bool:
        v = (rs["metadata"].get("annotations") or {}).get(DESIRED_REPLICAS)
        try:
            desired = int(v) if v is not None else None
        except ValueError:
            return False
        r = replicas_of(d)
        return desired == r and _spec_replicas(rs) == r and _st(rs, "availableReplicas") == r

    def _proportion(self, rs: Obj, d: Obj, to_add: int, added: int) -> int:
        """deploymentutil.GetProportion."""
        if _spec_replicas(rs) == 0 or to_add == 0 or to_add == added:
            return 0
        fraction = self._fraction(rs, d)
        allowed = to_add - added
        return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)

    def _fraction(self, rs: Obj, d: Obj) -> int:
        if replicas_of(d) == 0:
            return -_spec_replicas(rs)
        d_max = replicas_of(d) + max_surge(d)
        v = (rs["metadata"].get("annotations") or {}).get(MAX_REPLICAS)
        try:
            before = int(v) if v is not None else 0
        except ValueError:
            before = 0
        if before == 0:
            before = int((d.get("status") or {}).get("replicas", 0) or 0)
            if before == 0:
                return 0
        return u.round_half_away(_spec_replicas(rs) * d_max / before) - _spec_replicas(rs)

    # -- sync / cleanup / status ------------------------------------------------------------
    def _sync(self, d: Obj, rs_list: list[Obj]) -> None:
        new_rs, old_rss = self._get_all_rss(d, rs_list, False)
        self._scale(d, new_rs, old_rss)
        if (d.get("spec") or {}).get("paused"):
            self._cleanup(d, self._fresh(old_rss))
        new_rs, old_rss = self._fresh_one(new_rs), self._fresh(old_rss)
        self._sync_status(d, [*old_rss, *([new_rs] if new_rs is not None else [])], new_rs)

    def _fresh(self, rss: list[Obj]) -> list[Obj]:
        out = []
        for rs in rss:
            f = self._fresh_one(rs)
            if f is not None:
                out.append(f)
        return out

    def _fresh_one(self, rs: Obj | None) -> Obj | None:
        if rs is None:
            return None
        cur: Obj | None = self.rs_informer.get(rs["metadata"]["name"], rs["metadata"]["namespace"])
        if cur is None or cur["metadata"].get("uid") != rs["metadata"].get("uid"):
            return None
        return cur

    def _cleanup(self, d: Obj, old_rss: list[Obj]) -> None:
        limit = (d.get("spec") or {}).get("revisionHistoryLimit", 10)
        if limit is None:
            return
        cleanable = [rs for rs in old_rss if not rs["metadata"].get("deletionTimestamp")]
        diff = len(cleanable) - int(limit)
        if diff <= 0:
            return
        cleanable.sort(key=lambda rs: (revision_of(rs), *u.sort_key_created(self.loop, rs)))
        for rs in cleanable[:diff]:
            if (_st(rs, "replicas") != 0 or _spec_replicas(rs) != 0
                    or int(rs["metadata"].get("generation", 1)) > _st(rs, "observedGeneration")):  # fmt: skip
                continue
            try:
                self.client.delete("replicasets.apps", rs["metadata"]["name"], rs["metadata"]["namespace"],
                                   preconditions={"uid": rs["metadata"]["uid"]})  # fmt: skip
            except ApiError as e:
                if e.code != 404:
                    raise

    def _calculate_status(self, d: Obj, all_rss: list[Obj], new_rs: Obj | None) -> Obj:
        available = sum(_st(rs, "availableReplicas") for rs in all_rss)
        total = sum(_spec_replicas(rs) for rs in all_rss)
        old = d.get("status") or {}
        status: Obj = {
            "observedGeneration": int(d["metadata"].get("generation", 1)),
            "replicas": sum(_st(rs, "replicas") for rs in all_rss),
            "updatedReplicas": _st(new_rs, "replicas"),
            "readyReplicas": sum(_st(rs, "readyReplicas") for rs in all_rss),
            "availableReplicas": available,
            "unavailableReplicas": max(total - available, 0),
        }
        if old.get("collisionCount") is not None:
            status["collisionCount"] = old["collisionCount"]
        status["conditions"] = [dict(c) for c in old.get("conditions") or []]
        now = self.loop.timestamp()
        if available >= replicas_of(d) - max_unavailable(d):
            cond = _new_condition("Available", "True", MIN_AVAILABLE, "Deployment has minimum availability.", now)
        else:
            cond = _new_condition(
                "Available", "False", MIN_UNAVAILABLE, "Deployment does not have minimum availability.", now
            )
        set_deployment_condition(status, cond)
        return status

    def _sync_status(self, d: Obj, all_rss: list[Obj | None], new_rs: Obj | None) -> None:
        rss = [rs for rs in all_rss if rs is not None]
        status = self._calculate_status(d, rss, new_rs)
        if status != (d.get("status") or {}):
            d["status"] = status
            self._write_status(d)

    def _sync_rollout_status(self, d: Obj, all_rss: list[Obj], new_rs: Obj | None) -> None:
        """progress.go syncRolloutStatus."""
        new_status = self._calculate_status(d, all_rss, new_rs)
        if not has_progress_deadline(d):
            u.remove_condition(new_status, "Progressing")
        old_status = d.get("status") or {}
        cur = u.get_condition(old_status, "Progressing")
        complete = (
            new_status["replicas"] == new_status["updatedReplicas"]
            and cur is not None and cur.get("reason") == NEW_RS_AVAILABLE_REASON
        )  # fmt: skip
        now = self.loop.timestamp()
        rs_name = new_rs["metadata"]["name"] if new_rs is not None else None
        if has_progress_deadline(d) and not complete:
            if deployment_complete(d, new_status):
                msg = (f'ReplicaSet "{rs_name}" has successfully progressed.' if rs_name
                       else f'Deployment "{d["metadata"]["name"]}" has successfully progressed.')  # fmt: skip
                set_deployment_condition(
                    new_status, _new_condition("Progressing", "True", NEW_RS_AVAILABLE_REASON, msg, now)
                )
            elif self._progressing(old_status, new_status):
                msg = (f'ReplicaSet "{rs_name}" is progressing.' if rs_name
                       else f'Deployment "{d["metadata"]["name"]}" is progressing.')  # fmt: skip
                cond = _new_condition("Progressing", "True", RS_UPDATED_REASON, msg, now)
                if cur is not None:
                    if cur.get("status") == "True":
                        cond["lastTransitionTime"] = cur.get("lastTransitionTime")
                    u.remove_condition(new_status, "Progressing")
                set_deployment_condition(new_status, cond)
            elif self._timed_out(d, new_status):
                msg = (f'ReplicaSet "{rs_name}" has timed out progressing.' if rs_name
                       else f'Deployment "{d["metadata"]["name"]}" has timed out progressing.')  # fmt: skip
                set_deployment_condition(new_status, _new_condition("Progressing", "False", TIMED_OUT_REASON, msg, now))
        failure = None
        for rs in [new_rs, *[x for x in all_rss if x is not new_rs]]:
            if rs is None:
                continue
            c = u.get_condition(rs.get("status"), "ReplicaFailure")
            if c is not None:
                failure = _new_condition("ReplicaFailure", c.get("status", "True"), c.get("reason", ""),
                                         c.get("message", ""), c.get("lastTransitionTime") or now)  # fmt: skip
                break
        if failure is not None:
            set_deployment_condition(new_status, failure)
        else:
            u.remove_condition(new_status, "ReplicaFailure")
        new_status.setdefault("conditions", [])
        if new_status == old_status:
            self._requeue_stuck(d, new_status)
            return
        d["status"] = new_status
        self._write_status(d)

    @staticmethod
    def _progressing(old: Obj, new: Obj) -> bool:
        def g(s: Obj, f: str) -> int:
            return int(s.get(f, 0) or 0)

        old_old = g(old, "replicas") - g(old, "updatedReplicas")
        new_old = g(new, "replicas") - g(new, "updatedReplicas")
        return (
            g(new, "updatedReplicas") > g(old, "updatedReplicas")
            or new_old < old_old
            or g(new, "readyReplicas") > g(old, "readyReplicas")
            or g(new, "availableReplicas") > g(old, "availableReplicas")
        )

    def _timed_out(self, d: Obj, status: Obj) -> bool:
        cond = u.get_condition(status, "Progressing")
        if cond is None or cond.get("reason") == NEW_RS_AVAILABLE_REASON:
            return False
        if cond.get("reason") == TIMED_OUT_REASON:
            return True
        since = u.ts(self.loop, cond.get("lastUpdateTime"))
        return since is not None and since + progress_deadline(d) < self.loop.now

    def _requeue_stuck(self, d: Obj, new_status: Obj) -> None:
        cur = u.get_condition(d.get("status"), "Progressing")
        if not has_progress_deadline(d) or cur is None:
            return
        if deployment_complete(d, new_status) or cur.get("reason") == TIMED_OUT_REASON:
            return
        # Only the progress deadline can change the Progressing condition with time, and a
        # NewReplicaSetAvailable condition never times out (DeploymentTimedOut), so a re-check
        # could only ever find what the ReplicaSet and Pod events already enqueue for.
        if cur.get("reason") == NEW_RS_AVAILABLE_REASON:
            return
        since = u.ts(self.loop, cur.get("lastUpdateTime"))
        if since is None:
            return
        after = since + progress_deadline(d) - self.loop.now
        if after >= 1:
            self._requeue = after + 1
        else:
            # upstream: enqueueRateLimited. The key is not forgotten after this sync (see
            # _process), so the back-off grows (5 ms, 10 ms, ...) instead of restarting at 5 ms.
            self._rate_limited = True

    # -- strategies -------------------------------------------------------------------------
    def _rollout_rolling(self, d: Obj, rs_list: list[Obj]) -> None:
        new_rs, old_rss = self._get_all_rss(d, rs_list, True)
        assert new_rs is not None
        all_rss = [*old_rss, new_rs]
        if self._reconcile_new_rs(all_rss, new_rs, d):
            self._sync_rollout_status(d, self._fresh(all_rss), self._fresh_one(new_rs))
            return
        new_rs = self._fresh_one(new_rs) or new_rs
        if self._reconcile_old_rss([*old_rss, new_rs], _active(old_rss), new_rs, d):
            self._sync_rollout_status(d, self._fresh([*old_rss, new_rs]), self._fresh_one(new_rs))
            return
        if deployment_complete(d, d.get("status") or {}):
            self._cleanup(d, self._fresh(old_rss))
        if not _active(old_rss):  # what _sync_statuses may take up from (see there)
            self._rollout = (old_rss, new_rs)
        self._sync_rollout_status(d, self._fresh([*old_rss, new_rs]), self._fresh_one(new_rs))

    def _reconcile_new_rs(self, all_rss: list[Obj], new_rs: Obj, d: Obj) -> bool:
        r = replicas_of(d)
        if _spec_replicas(new_rs) == r:
            return False
        if _spec_replicas(new_rs) > r:
            return self._scale_and_record(new_rs, r, d)[0]
        count = self._new_rs_new_replicas(d, all_rss, new_rs)
        return self._scale_and_record(new_rs, count, d)[0]

    def _reconcile_old_rss(self, all_rss: list[Obj], old_rss: list[Obj], new_rs: Obj, d: Obj) -> bool:
        old_count = sum(_spec_replicas(rs) for rs in old_rss)
        if old_count == 0:
            return False
        all_count = sum(_spec_replicas(rs) for rs in all_rss)
        min_available = replicas_of(d) - max_unavailable(d)
        new_unavailable = _spec_replicas(new_rs) - _st(new_rs, "availableReplicas")
        max_scaled_down = all_count - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        old_rss, cleanup = self._cleanup_unhealthy(old_rss, d, max_scaled_down)
        scaled = self._scale_down_old_for_rolling([*old_rss, new_rs], old_rss, d)
        return cleanup + scaled > 0

    def _cleanup_unhealthy(self, old_rss: list[Obj], d: Obj, max_cleanup: int) -> tuple[list[Obj], int]:
        old_rss = self._sorted(old_rss)
        total = 0
        for i, rs in enumerate(old_rss):
            if total >= max_cleanup:
                break
            spec_r = _spec_replicas(rs)
            avail = _st(rs, "availableReplicas")
            if spec_r == 0 or spec_r == avail:
                continue
            down = min(max_cleanup - total, spec_r - avail)
            _, old_rss[i] = self._scale_and_record(rs, spec_r - down, d)
            total += down
        return old_rss, total

    def _scale_down_old_for_rolling(self, all_rss: list[Obj], old_rss: list[Obj], d: Obj) -> int:
        min_available = replicas_of(d) - max_unavailable(d)
        available = sum(_st(rs, "availableReplicas") for rs in all_rss)
        if available <= min_available:
            return 0
        total = 0
        want = available - min_available
        for rs in self._sorted(old_rss):
            if total >= want:
                break
            if _spec_replicas(rs) == 0:
                continue
            down = min(_spec_replicas(rs), want - total)
            self._scale_and_record(rs, _spec_replicas(rs) - down, d)
            total += down
        return total

    def _rollout_recreate(self, d: Obj, rs_list: list[Obj]) -> None:
        new_rs, old_rss = self._get_all_rss(d, rs_list, False)
        all_rss = [*old_rss, *([new_rs] if new_rs is not None else [])]
        scaled = False
        for rs in _active(old_rss):
            if _spec_replicas(rs) != 0:
                self._scale_and_record(rs, 0, d)
                scaled = True
        if scaled:
            self._sync_rollout_status(d, self._fresh(all_rss), self._fresh_one(new_rs))
            return
        if self._old_pods_running(d, new_rs, old_rss):
            self._sync_rollout_status(d, self._fresh(all_rss), self._fresh_one(new_rs))
            return
        if new_rs is None:
            new_rs, old_rss = self._get_all_rss(d, rs_list, True)
            assert new_rs is not None
            all_rss = [*old_rss, new_rs]
        self._scale_and_record(new_rs, replicas_of(d), d)
        if deployment_complete(d, d.get("status") or {}):
            self._cleanup(d, self._fresh(old_rss))
        self._sync_rollout_status(d, self._fresh(all_rss), self._fresh_one(new_rs))

    def _old_pods_running(self, d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> bool:
        if sum(_st(rs, "replicas") for rs in old_rss) > 0:
            return True
        old_uids = {rs["metadata"]["uid"] for rs in old_rss}
        if new_rs is not None:
            old_uids.discard(new_rs["metadata"]["uid"])
        sel = u.selector_of(d)
        for pod in self.pod_informer.list(d["metadata"]["namespace"]):
            if u.controller_uid(pod) in old_uids and sel.matches(u.labels_of(pod)):
                if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                    return True
        return False


def _neg_str(s: str) -> tuple[int, ...]:
    """A key that sorts strings in reverse order (for "newer first" ties)."""
    return tuple(-ord(c) for c in s) + (1,)
