"""CPU cgroup semantics: cpu.shares from requests, CFS quota from limits, and how a busy node
shares its CPU (pkg/kubelet/cm/helpers_linux.go ``MilliCPUToShares``/``MilliCPUToQuota``, the
Linux CFS scheduler's weighted fair share).

- A container never gets more than its limit (CFS quota: ``limit x 100 ms`` per 100 ms period,
  at least 1 ms); demand above it is *throttled*.
- When the containers of a node together want more than the node can give, each gets CPU in
  proportion to its cpu.shares (``max(2, request x 1024 / 1000)``), never more than it wants: a
  water-filling of the node's CPU over min(demand, limit). The gap is CPU *contention* (run-queue
  wait), shown as latency, not as CFS throttling.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

MIN_SHARES = 2
SHARES_PER_CPU = 1024
MILLI_CPU_TO_CPU = 1000
QUOTA_PERIOD_US = 100_000  # cpuCFSQuotaPeriod default 100ms
MIN_QUOTA_PERIOD_US = 1_000

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


def milli_cpu_to_shares(milli: int) -> int:
    if milli <= 0:
        return MIN_SHARES
    return max(MIN_SHARES, milli * SHARES_PER_CPU // MILLI_CPU_TO_CPU)


def milli_cpu_to_quota(milli: int, period_us: int = QUOTA_PERIOD_US) -> int:
    """CFS quota in microseconds per period; 0 means no limit."""
    if milli <= 0:
        return 0
    return max(MIN_QUOTA_PERIOD_US, milli * period_us // MILLI_CPU_TO_CPU)


def effective_limit_milli(limit_milli: int) -> float:
    """The CPU a limit really grants (the quota floor), inf for no limit."""
    if limit_milli <= 0:
        return float("inf")
    return milli_cpu_to_quota(limit_milli) * MILLI_CPU_TO_CPU / QUOTA_PERIOD_US


def shares(request_milli: F64) -> F64:
    """Vectorised milli_cpu_to_shares."""
    return np.maximum(MIN_SHARES, np.floor(request_milli * SHARES_PER_CPU / MILLI_CPU_TO_CPU))


def water_fill(want: F64, weight: F64, group: I64, budget: F64) -> F64:
    """Grant each item min(want, fair share) where groups split ``budget[group]`` by weight.

    Exact weighted max-min fairness: a level ``lam`` per group such that items wanting less than
    ``lam x weight`` get what they want and the others get ``lam x weight``; when the group's
    budget covers everything, everyone gets what they want. Vectorised over all groups at once;
    the loop runs once per saturation round (a handful).
    """
    granted = np.zeros_like(want)
    if want.size == 0:
        return granted
    remaining = budget.astype(np.float64).copy()
    free = want > 0
    n = remaining.size
    while free.any():
        g = group[free]
        w_sum = np.bincount(g, weight[free], minlength=n)
        with np.errstate(divide="ignore", invalid="ignore"):
            level = np.where(w_sum > 0, np.maximum(remaining, 0.0) / w_sum, 0.0)
        fair = level[group] * weight
        sat = free & (want <= fair)
        if not sat.any():
            granted[free] = fair[free]
            break
        granted[sat] = want[sat]
        remaining -= np.bincount(group[sat], want[sat], minlength=n)
        free &= ~sat
    return granted
