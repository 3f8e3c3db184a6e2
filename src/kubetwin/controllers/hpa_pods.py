"""The pods of each HorizontalPodAutoscaler's scale target, kept as they change.

At every sync upstream's replica calculator (kubernetes/kubernetes
pkg/controller/podautoscaler/replica_calculator.go) lists the target's pods, sorts each into
ready / unready / missing / ignored (groupPods) and sums their requests (calculateRequests). Here
the pods matching a (namespace, selector) are rows of numpy columns holding what those two
functions read of a pod, updated by the HPA controller's pod handlers as pods change; a sync then
groups and sums every pod at once (:meth:`TargetPods.totals`) against the metrics of the same rows
(:class:`~kubetwin.client.metrics.PodSamples`), with the outcome
:func:`~kubetwin.controllers.hpa_calc.resource_replicas` and
:func:`~kubetwin.controllers.hpa_calc.plain_metric_replicas` compute pod by pod
(:class:`~kubetwin.controllers.hpa_calc.PodTotals`).

Rows whose facts the arrays cannot hold (a request that is missing or does not fit, a timestamp
that does not parse) make :meth:`TargetPods.requests` / :attr:`TargetPods.regular` say so, and the
controller takes the pod-by-pod path, which also produces upstream's error for them.
"""

from __future__ import annotations

from collections.abc import KeysView
from typing import Any

import numpy as np
import numpy.typing as npt

from kubetwin.api.selectors import LabelSelector
from kubetwin.client.metrics import RowKeys
from kubetwin.controllers import hpa_calc as hc

Obj = dict[str, Any]
I64 = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]

_INT64_MAX = 2**63 - 1


def exact_sum(values: I64) -> int:
    """The sum of an int64 array as a Python int (no wrap-around however large the values)."""
    if values.size == 0:
        return 0
    bound = max(-int(values.min()), int(values.max()))
    if bound <= (2**62) // values.size:
        return int(values.sum())
    return sum(values.tolist())


def masked_sum(values: I64, mask: Mask, bound: int | None = None) -> int:
    """``exact_sum(values[mask])`` without gathering the values: the sum of ``values x mask``
    (numpy's int64 sum is exact in any order while no partial sum can wrap, which ``bound``, the
    largest magnitude in ``values``, read from them when not given, rules out; a multiplication by
    the mask and a plain sum are both vectorised, unlike a gather or a ``where=`` reduction); else
    the gathered values' exact sum."""
    if values.size == 0:
        return 0
    if bound is None:
        bound = max(-int(values.min()), int(values.max()))
    if bound <= (2**62) // values.size:
        return int((values * mask).sum())
    return exact_sum(values[mask])


def _fallback_sum(requests: I64, percent: int) -> int:
    """``sum(quo(r * percent, 100))``: Go's truncating division per pod, summed exactly."""
    if requests.size == 0:
        return 0
    bound = max(-int(requests.min()), int(requests.max()))
    if percent < 0 or bound * percent >= 2**62 // requests.size:
        return sum(hc.quo(r * percent, 100) for r in requests.tolist())
    scaled = requests * percent
    return exact_sum(np.sign(scaled) * (np.abs(scaled) // 100))


def _same_requests(old: Obj, new: Obj) -> bool:
    """Whether calculateRequests reads the same of two versions of a pod: the same containers,
    init containers and pod-level resources (most updates share the spec object itself)."""
    a, b = old.get("spec") or {}, new.get("spec") or {}
    return a is b or all(a.get(k) == b.get(k) for k in ("containers", "initContainers", "resources"))


# what a row's columns hold of its pod: (uid, hpa_calc.pod_facts, running and Ready)
_Seen = tuple[Any, Any, bool]


class _Requests:
    """One (container, resource) request column; ``bad`` rows raise in calculateRequests."""

    __slots__ = ("values", "bad", "errors")

    def __init__(self, cap: int) -> None:
        self.values = np.zeros(cap, dtype=np.int64)
        self.bad = np.zeros(cap, dtype=np.bool_)
        self.errors = 0


class _Masks:
    """What :meth:`TargetPods.totals` derives from the rows' columns alone (no metric, no clock),
    for the rows of one version of the columns."""

    __slots__ = ("version", "n", "delay", "other", "pending", "untimed", "never_ready")

    def __init__(self, pods: TargetPods, n: int, delay: float) -> None:
        self.version, self.n, self.delay = pods.version, n, delay
        alive, kind = pods.alive[:n], pods.kind[:n]
        self.other = alive & (kind == hc.OTHER)
        self.pending = alive & (kind == hc.PENDING)
        self.untimed = ~pods.timed[:n]
        # Ready is "False" and never was True: it went False within the initial readiness delay
        self.never_ready = pods.ready_false[:n] & (pods.start[:n] + delay > pods.ltt[:n])


class TargetPods:
    """The pods of ``namespace`` matching ``selector``, by name, as rows.

    Columns per row: alive, groupPods' kind (ignored: being deleted or Failed; pending; other),
    whether the pod has a start time and a Ready condition (``timed``), both times in virtual
    seconds, whether Ready is "False", whether the pod is Running and Ready (getReadyPodsCount),
    and the requests of each (container, resource) a metric asked for."""

    def __init__(self, namespace: str, selector: LabelSelector, parse_time: hc.ParseTime, cap: int = 64) -> None:
        self.namespace = namespace
        self.selector = selector
        self.parse_time = parse_time
        self.rows: dict[str, int] = {}  # pod name -> row
        self.keys = RowKeys()  # row -> pod uid (None: free), what the metrics client joins
        self.pods: list[Obj | None] = []  # row -> pod (request columns added later read it)
        self.seen: list[_Seen | None] = []  # row -> what the columns hold of its pod (None: free)
        self.free: list[int] = []
        self.cap = cap
        self.alive = np.zeros(cap, dtype=np.bool_)
        self.kind = np.zeros(cap, dtype=np.int8)
        self.timed = np.zeros(cap, dtype=np.bool_)
        self.start = np.zeros(cap, dtype=np.float64)
        self.ltt = np.zeros(cap, dtype=np.float64)
        self.ready_false = np.zeros(cap, dtype=np.bool_)
        self.running_ready = np.zeros(cap, dtype=np.bool_)
        self.odd = np.zeros(cap, dtype=np.bool_)  # a time did not parse
        self.odd_count = 0
        self._requests: dict[tuple[str | None, str], _Requests] = {}
        self.version = 0  # moves whenever a column (but a request column) may change
        self._masks: _Masks | None = None  # the last version's, see totals

    # -- rows -----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.rows)

    def names(self) -> KeysView[str]:
        return self.rows.keys()

    @property
    def regular(self) -> bool:
        """Every row's times parsed (the arrays can group every pod)."""
        return self.odd_count == 0

    @property
    def size(self) -> int:
        """Rows in use or freed: the length of the arrays' meaningful part."""
        return len(self.keys)

    @property
    def uids(self) -> list[str | None]:
        """Row -> pod uid (None: a free row)."""
        return self.keys.uids

    def _grow(self) -> None:
        self.version += 1
        self.cap *= 2
        for name in ("alive", "kind", "timed", "start", "ltt", "ready_false", "running_ready", "odd"):
            old = getattr(self, name)
            new = np.zeros(self.cap, dtype=old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)
        for col in self._requests.values():
            for name in ("values", "bad"):
                old = getattr(col, name)
                new = np.zeros(self.cap, dtype=old.dtype)
                new[: len(old)] = old
                setattr(col, name, new)

    def put(self, pod: Obj) -> None:
        """Add or refresh a pod that matches the selector (a refresh keeps the request columns
        when what calculateRequests reads of the pod is unchanged)."""
        meta = pod["metadata"]
        name = meta["name"]
        facts, ready = hc.pod_facts_and_ready(pod)
        seen = (meta.get("uid"), facts, ready)
        row = self.rows.get(name)
        old = None
        if row is not None:
            prev = self.seen[row]
            if prev is not None and prev[0] == seen[0]:
                # the same uid (every status write): the columns stay where the grouping facts
                # and readiness do (most writes), else only those the new facts change are rewritten
                old = self.pods[row]
                self.pods[row] = pod
                if prev != seen:
                    self.seen[row] = seen
                    self._refresh_columns(row, prev, seen)
                if old is not None and not _same_requests(old, pod):
                    self._refill(row, pod)
                return
        self.version += 1
        if row is None:
            if self.free:
                row = self.free.pop()
            else:
                row = len(self.keys)
                if row == self.cap:
                    self._grow()
                self.pods.append(None)
                self.seen.append(None)
            self.rows[name] = row
        else:
            old = self.pods[row]
            if self.odd[row]:
                self.odd[row] = False
                self.odd_count -= 1
        self.keys.set(row, meta.get("uid"))
        self.pods[row] = pod
        self.seen[row] = seen
        self.alive[row] = True
        _, kind, start_text, ltt_text, status = facts
        self.kind[row] = kind
        self.timed[row] = bool(start_text)
        self.ready_false[row] = status == "False"
        self.running_ready[row] = seen[2]
        self._set_times(row, start_text, ltt_text)
        if old is None:
            for (container, resource), col in self._requests.items():
                self._fill(col, row, pod, container, resource)
        elif not _same_requests(old, pod):
            self._refill(row, pod)

    def _refresh_columns(self, row: int, prev: _Seen, seen: _Seen) -> None:
        """Rewrite the columns of ``row`` (alive, holding the same pod) that differ between the
        facts it holds (``prev``) and the pod's new ones (``seen``): what put writes, value for value."""
        self.version += 1
        _, pkind, pstart, pltt, pstatus = prev[1]
        _, kind, start_text, ltt_text, status = seen[1]
        if kind != pkind:
            self.kind[row] = kind
        if bool(start_text) != bool(pstart):
            self.timed[row] = bool(start_text)
        if (status == "False") != (pstatus == "False"):
            self.ready_false[row] = status == "False"
        if seen[2] != prev[2]:
            self.running_ready[row] = seen[2]
        if start_text != pstart or ltt_text != pltt:  # the same texts parse (or fail) the same
            if self.odd[row]:
                self.odd[row] = False
                self.odd_count -= 1
            self._set_times(row, start_text, ltt_text)

    def _set_times(self, row: int, start_text: str, ltt_text: str) -> None:
        """The start and Ready transition times of ``row`` in virtual seconds (0 without a start
        time; an unparsable time marks the row odd, with both at 0)."""
        start = ltt = 0.0
        if start_text:
            try:
                start = self.parse_time(start_text)
                ltt = self.parse_time(ltt_text) if ltt_text else 0.0
            except (ValueError, TypeError):
                start = ltt = 0.0
                self.odd[row] = True
                self.odd_count += 1
        self.start[row] = start
        self.ltt[row] = ltt

    def _refill(self, row: int, pod: Obj) -> None:
        for (container, resource), col in self._requests.items():
            self._unfill(col, row)
            self._fill(col, row, pod, container, resource)

    def remove(self, name: str) -> None:
        row = self.rows.pop(name, None)
        if row is None:
            return
        self._clear(row)
        self.keys.set(row, None)
        self.pods[row] = None
        self.seen[row] = None
        self.free.append(row)

    def _clear(self, row: int) -> None:
        self.version += 1
        if self.odd[row]:
            self.odd_count -= 1
        for col in self._requests.values():
            self._unfill(col, row)
        self.alive[row] = False
        self.kind[row] = 0
        self.timed[row] = False
        self.start[row] = 0.0
        self.ltt[row] = 0.0
        self.ready_false[row] = False
        self.running_ready[row] = False
        self.odd[row] = False

    @staticmethod
    def _unfill(col: _Requests, row: int) -> None:
        if col.bad[row]:
            col.errors -= 1
            col.bad[row] = False
        col.values[row] = 0

    @staticmethod
    def _fill(col: _Requests, row: int, pod: Obj, container: str | None, resource: str) -> None:
        try:
            value = hc.pod_request(pod, container, resource)
        except hc.CalcError:
            value = None
        if value is None or not -_INT64_MAX <= value <= _INT64_MAX:
            col.bad[row] = True
            col.errors += 1
        else:
            col.values[row] = value

    # -- what a sync reads ----------------------------------------------------------------------
    def requests(self, container: str | None, resource: str) -> I64 | None:
        """calculateRequests per row (0 for free rows); None when some pod's request is missing
        (or its container is): the pod-by-pod path says which, as upstream does."""
        key = (container, resource)
        col = self._requests.get(key)
        if col is None:
            col = self._requests[key] = _Requests(self.cap)
            for row, pod in enumerate(self.pods):
                if pod is not None:
                    self._fill(col, row, pod, container, resource)
        if col.errors:
            return None
        return col.values[: self.size]

    def ready_count(self) -> int:
        """getReadyPodsCount: Running pods whose Ready condition is True."""
        if not self.rows:
            raise hc.CalcError("no pods returned by selector while calculating replica count")
        return int(np.count_nonzero(self.running_ready[: self.size]))

    def totals(
        self,
        has: Mask,
        values: I64,
        resource: str,
        now: float,
        config: hc.CalcConfig,
        timestamp: float,
        window: float,
        requests: I64 | None = None,
        fallback: int = 100,
    ) -> hc.PodTotals:
        """groupPods over every row at once, given each row's metric (``has``, ``values``, all
        stamped ``timestamp`` / ``window``), and the sums the replica count needs; with
        ``requests``, also those of a resource utilization (``fallback``: the percentage of its
        request a pod missing metrics is taken to use on a scale-down)."""
        n = self.size
        has, values = has[:n], values[:n]
        m = self._masks
        if m is None or m.version != self.version or m.n != n or m.delay != config.delay_of_initial_readiness_status:
            m = self._masks = _Masks(self, n, config.delay_of_initial_readiness_status)
        sampled = m.other & has
        missing = m.other & ~has
        pending = m.pending
        if resource == "cpu":
            # within the CPU initialization period (hot: the few recently started rows): unready, or
            # no full metric window since the last readiness transition; afterwards only pods that
            # never became ready
            hot = np.flatnonzero(self.start[:n] + config.cpu_initialization_period > now)
            late = m.never_ready
            if hot.size:
                late = late.copy()
                late[hot] = self.ready_false[hot] | (timestamp < self.ltt[hot] + window)
            unready_cpu = sampled & (m.untimed | late)
            ready = sampled & ~unready_cpu
            unready = pending | unready_cpu
        else:
            ready = sampled
            unready = pending
        n_ready = int(np.count_nonzero(ready))
        total = masked_sum(values, ready)
        t = hc.PodTotals(
            ready=n_ready,
            unready=int(np.count_nonzero(unready)),
            missing=int(np.count_nonzero(missing)),
            count=n_ready,  # the metrics are those of these rows: the values kept are the ready pods'
            total=total,
        )
        if requests is None:
            return t
        req = requests[:n]
        bound = max(-int(req.min()), int(req.max())) if n else 0
        missing_req = req[missing]
        return hc.PodTotals(
            ready=t.ready,
            unready=t.unready,
            missing=t.missing,
            count=t.count,
            total=t.total,
            matched=n_ready,
            matched_total=total,
            requested=masked_sum(req, ready, bound),
            missing_requested=exact_sum(missing_req),
            missing_fallback=_fallback_sum(missing_req, fallback),
            unready_requested=masked_sum(req, unready, bound),
        )
