"""DefaultPreemption (pkg/scheduler/framework/plugins/defaultpreemption/default_preemption.go and
pkg/scheduler/framework/preemption/preemption.go).

PostFilter for a pod no node can take:
1. eligibility: ``preemptionPolicy: Never`` never preempts; a pod already nominated to a node
   where lower-priority pods are terminating waits for them;
2. potential nodes: those rejected with Unschedulable (UnschedulableAndUnresolvable nodes get
   "Preemption is not helpful for scheduling");
3. dry run from a random offset over at most max(10% of nodes, 100) candidates: remove every
   lower-priority pod, check the pod fits, then reprieve victims in importance order (higher
   priority, then earlier start) — PDB-violating ones first — keeping only those that must go;
4. pick a node: fewest PDB violations, lowest highest-victim priority, smallest priority sum,
   fewest victims, latest start of the highest-priority victims, then the first candidate;
5. delete the victims (event ``Preempted``: "Preempted by pod <uid> on node <node>", condition
   DisruptionTarget), clear lower-priority nominations on that node, nominate the preemptor.
"""

from __future__ import annotations

from typing import Any

from kubetwin.api.errors import ApiError
from kubetwin.api.selectors import label_selector_matcher
from kubetwin.scheduler.framework import (
    Code,
    CycleState,
    NodeInfo,
    NodeStatuses,
    Plugin,
    PodInfo,
    Status,
    unresolvable,
    unschedulable,
)  # fmt: skip

NAME = "DefaultPreemption"
MIN_CANDIDATE_NODES_PERCENTAGE = 10
MIN_CANDIDATE_NODES_ABSOLUTE = 100
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
Obj = dict[str, Any]


def _start_key(p: PodInfo) -> str:
    return p.start or "~"  # no start time sorts as "now" (latest)


def more_important(a: PodInfo, b: PodInfo) -> bool:
    if a.priority != b.priority:
        return a.priority > b.priority
    return _start_key(a) < _start_key(b)


def _importance_key(p: PodInfo) -> tuple[int, str]:
    return (-p.priority, _start_key(p))


class Candidate:
    __slots__ = ("node", "victims", "pdb_violations")

    def __init__(self, node: str, victims: list[PodInfo], pdb_violations: int) -> None:
        self.node = node
        self.victims = victims
        self.pdb_violations = pdb_violations


class DefaultPreemption(Plugin):
    NAME = NAME

    def __init__(self, handle: Any, args: Obj | None = None) -> None:
        super().__init__(handle, args)
        self.min_pct = int(self.args.get("minCandidateNodesPercentage", MIN_CANDIDATE_NODES_PERCENTAGE))
        self.min_abs = int(self.args.get("minCandidateNodesAbsolute", MIN_CANDIDATE_NODES_ABSOLUTE))
        # node name -> (NodeInfo, its generation, lowest priority of its pods or None)
        self._lowest: dict[str, tuple[NodeInfo, int, int | None]] = {}
        # _nothing_to_preempt's last answer: (node statuses, live slots, num_all, potential, message)
        self._nothing: tuple[NodeStatuses, Any, int, int, str] | None = None

    def _lowest_priority(self, ni: NodeInfo) -> int | None:
        """The lowest priority among the node's pods, kept until the node's pods change."""
        hit = self._lowest.get(ni.name)
        if hit is not None and hit[0] is ni and hit[1] == ni.generation:
            return hit[2]
        low = min((p.priority for p in ni.pods.values()), default=None)
        self._lowest[ni.name] = (ni, ni.generation, low)
        return low

    # -- helpers ------------------------------------------------------------------------------
    def _pdbs(self, namespace: str) -> list[Obj]:
        inf = self.handle.informers
        if inf is None:
            return []
        return inf.get("poddisruptionbudgets.policy").list(namespace)

    def split_by_pdb(self, pods: list[PodInfo]) -> tuple[list[PodInfo], list[PodInfo]]:
        """filterPodsWithPDBViolation: (violating, non_violating), order preserved."""
        allowed: dict[tuple[str, str], int] = {}
        violating: list[PodInfo] = []
        ok: list[PodInfo] = []
        for p in pods:
            bad = False
            for pdb in self._pdbs(p.namespace):
                sel = (pdb.get("spec") or {}).get("selector")
                if sel is None or (not sel.get("matchLabels") and not sel.get("matchExpressions")):
                    continue  # a nil or empty selector matches nothing here
                if not label_selector_matcher(sel).matches(p.labels):
                    continue
                status = pdb.get("status") or {}
                if p.name in (status.get("disruptedPods") or {}):
                    continue
                k = (pdb["metadata"].get("namespace", ""), pdb["metadata"]["name"])
                allowed[k] = allowed.get(k, int(status.get("disruptionsAllowed", 0))) - 1
                if allowed[k] < 0:
                    bad = True
            (violating if bad else ok).append(p)
        return violating, ok

    def num_candidates(self, num_nodes: int) -> int:
        n = num_nodes * self.min_pct // 100
        if n < self.min_abs:
            n = self.min_abs
        return min(n, num_nodes)

    def eligible(self, pod: PodInfo) -> tuple[bool, str]:
        spec = pod.pod.get("spec") or {}
        if spec.get("preemptionPolicy") == "Never":
            return False, "not eligible due to preemptionPolicy=Never."
        nominated = (pod.pod.get("status") or {}).get("nominatedNodeName")
        if nominated:
            ni = self.handle.snapshot.get(nominated)
            if ni is not None:
                for p in ni.pods.values():
                    if p.pod["metadata"].get("deletionTimestamp") and p.priority < pod.priority:
                        return False, "not eligible due to a terminating pod on the nominated node."
        return True, ""

    # -- dry run ------------------------------------------------------------------------------
    def select_victims_on_node(
        self, state: CycleState, pod: PodInfo, node: NodeInfo
    ) -> tuple[list[PodInfo], int, Status]:
        low = self._lowest_priority(node)
        if low is None or low >= pod.priority:  # nothing to take away: no copies to make
            return [], 0, unresolvable(NO_VICTIMS)
        potential = [p for p in node.pods.values() if p.priority < pod.priority]
        fw = self.handle
        ni = node.clone()
        st = state.clone()
        for p in potential:
            ni.remove_pod(p)
            fw.remove_pod_from_state(st, pod, p, ni)
        status = fw.run_filter_with_nominated(st, pod, ni)
        if not status.is_success():
            return [], 0, status
        potential.sort(key=_importance_key)
        violating, non_violating = self.split_by_pdb(potential)
        victims: list[PodInfo] = []
        num_violating = 0

        def reprieve(p: PodInfo) -> bool:
            ni.add_pod(p)
            fw.add_pod_to_state(st, pod, p, ni)
            if fw.run_filter_with_nominated(st, pod, ni).is_success():
                return True
            ni.remove_pod(p)
            fw.remove_pod_from_state(st, pod, p, ni)
            victims.append(p)
            return False

        for p in violating:
            if not reprieve(p):
                num_violating += 1
        for p in non_violating:
            reprieve(p)
        victims.sort(key=_importance_key)
        return victims, num_violating, Status()

    def find_candidates(
        self, state: CycleState, pod: PodInfo, potential: list[NodeInfo]
    ) -> tuple[list[Candidate], dict[str, Status]]:
        statuses: dict[str, Status] = {}
        if not potential:
            return [], statuses
        num = self.num_candidates(len(potential))
        rng = self.handle.rng
        offset = rng.randint(0, len(potential) - 1) if rng is not None and len(potential) > 1 else 0
        low = self.handle.snapshot.lowest_priority()
        if low is None or low >= pod.priority:
            # no pod anywhere has a lower priority: every node's dry run would find no victims
            none = unresolvable(NO_VICTIMS)
            return [], {ni.name: none for ni in potential}
        violating: list[Candidate] = []
        non_violating: list[Candidate] = []
        for i in range(len(potential)):
            ni = potential[(offset + i) % len(potential)]
            victims, nviol, st = self.select_victims_on_node(state, pod, ni)
            if st.is_success() and victims:
                c = Candidate(ni.name, victims, nviol)
                (violating if nviol else non_violating).append(c)
                if non_violating and len(non_violating) + len(violating) >= num:
                    break
            elif st.is_success():  # fits without victims: not a preemption candidate
                statuses[ni.name] = unschedulable(NO_VICTIMS)
            else:
                statuses[ni.name] = st
        return non_violating + violating, statuses

    @staticmethod
    def pick_one(candidates: list[Candidate]) -> Candidate:
        """pickOneNodeForPreemption."""
        best = list(candidates)

        def narrow(score: Any) -> None:
            nonlocal best
            vals = [score(c) for c in best]
            top = min(vals)
            best = [c for c, v in zip(best, vals, strict=True) if v == top]

        narrow(lambda c: c.pdb_violations)
        if len(best) > 1:
            narrow(lambda c: c.victims[0].priority if c.victims else -(2**31))
        if len(best) > 1:
            narrow(lambda c: sum(v.priority + 2**31 for v in c.victims))
        if len(best) > 1:
            narrow(lambda c: len(c.victims))
        if len(best) > 1:
            # latest "earliest start time among the highest-priority victims" wins
            def earliest(c: Candidate) -> str:
                hp = c.victims[0].priority
                return min(_start_key(v) for v in c.victims if v.priority == hp)

            latest = max(earliest(c) for c in best)
            best = [c for c in best if earliest(c) == latest]
        return best[0]

    # -- PostFilter ---------------------------------------------------------------------------
    def post_filter(
        self, state: CycleState, pod: PodInfo, node_status: NodeStatuses | dict[int, Status], num_all: int
    ) -> tuple[str | None, Status]:
        ok, msg = self.eligible(pod)
        if not ok:
            return None, unschedulable("preemption: " + msg)
        snap = self.handle.snapshot
        low = snap.lowest_priority()
        if (low is None or low >= pod.priority) and isinstance(node_status, NodeStatuses):
            return None, self._nothing_to_preempt(snap, node_status, num_all)
        potential: list[NodeInfo] = []
        statuses: dict[str, Status] = {}
        not_helpful = unresolvable(NOT_HELPFUL)
        for ni in snap.node_infos():
            st = node_status.get(ni.slot)
            if st is not None and st.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                statuses[ni.name] = not_helpful
            else:
                potential.append(ni)
        candidates, dry = self.find_candidates(state, pod, potential)
        statuses.update(dry)
        if not candidates:
            counts: dict[str, int] = {}
            for st in statuses.values():
                for r in st.reasons:
                    counts[r] = counts.get(r, 0) + 1
            body = ", ".join(sorted(f"{v} {k}" for k, v in counts.items()))
            return None, unschedulable(f"preemption: 0/{num_all} nodes are available: {body}.")
        best = self.pick_one(candidates)
        self.prepare(pod, best)
        return best.node, Status()

    def _nothing_to_preempt(self, snap: Any, node_status: NodeStatuses, num_all: int) -> Status:
        """PostFilter's answer when no pod anywhere has a lower priority than the preemptor: the
        nodes the filters called unresolvable are "not helpful", every other node's dry run would
        find no victims. Counted over the live nodes' slots at once; the same message and the same
        RNG draw (find_candidates' random offset) as the node-by-node path."""
        slots = snap.alive_slots()
        last = self._nothing
        if last is not None and last[0] is node_status and last[1] is slots and last[2] == num_all:
            # pods failing alike share their node statuses (read-only), and the live slots are
            # the same array until a node comes or goes
            n_potential, msg = last[3], last[4]
        else:
            n_not_helpful = int(node_status.unresolvable(slots).sum())
            n_potential = len(slots) - n_not_helpful
            counts = {NOT_HELPFUL: n_not_helpful, NO_VICTIMS: n_potential}
            body = ", ".join(sorted(f"{v} {k}" for k, v in counts.items() if v))
            msg = f"preemption: 0/{num_all} nodes are available: {body}."
            self._nothing = (node_status, slots, num_all, n_potential, msg)
        rng = self.handle.rng
        if rng is not None and n_potential > 1:
            rng.randint(0, n_potential - 1)
        return unschedulable(msg)

    def prepare(self, pod: PodInfo, c: Candidate) -> None:
        client = self.handle.client
        recorder = getattr(self.handle, "recorder", None)
        for v in c.victims:
            if client is None:
                continue
            try:
                cur = client.get("pods", v.name, v.namespace)
                status = cur.setdefault("status", {})
                conds = [x for x in status.get("conditions") or [] if x.get("type") != "DisruptionTarget"]
                conds.append({
                    "type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
                    "message": f"{self.handle.profile.scheduler_name}: preempting to accommodate a higher priority pod",
                    "lastTransitionTime": client.clock.timestamp(),
                })  # fmt: skip
                status["conditions"] = conds
                client.update_status(cur)
                client.delete("pods", v.name, v.namespace)
            except ApiError:
                continue
            if recorder is not None:
                # the preemptor is the event's related object
                recorder.eventf(v.pod, pod.pod, "Normal", "Preempted", "Preempting",
                                f"Preempted by pod {pod.uid} on node {c.node}")
        # Lower-priority pods nominated to this node lose their nomination.
        snap = self.handle.snapshot
        s = snap.slot_of.get(c.node)
        for other in list(snap.nominated.get(s, {}).values()) if s is not None else []:
            if other.priority < pod.priority and other.key != pod.key:
                snap.clear_nomination(other.key)
                clear = getattr(self.handle, "clear_nominated_node_name", None)
                if clear is not None:
                    clear(other)
