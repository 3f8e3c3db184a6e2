"""The diurnal-hpa-ca example scaled up: HPA + VPA + cluster autoscaler over a day.

    python bench/bench_autoscaling.py [--web-peak 20000 --worker-peak 10000 --hours 24]
                                      [--quick] [--max-wall 600] [--profile [--profile-out F]]
                                      [--dump FILE]

The manifests are examples/diurnal-hpa-ca/'s (same HPAs, VPA, PDBs, ClusterAutoscaler, seed),
resized so the peak of the day is about ``web-peak + worker-peak`` pods on about 1,000 nodes at the
default size (30,000 pods): web pods request 100m / 256Mi (38 per m5.xlarge), workers 350m / 512Mi
(22 per c5.2xlarge); the web traffic peaks at ``50 x web-peak`` requests/s (20x its trough, the HPA's target
is 50 per pod) and the queue at ``10 x worker-peak`` messages; maxReplicas and the groups' maxSize
leave 20% headroom. The whole twin runs (store, informers, controllers incl. HPA/VPA, scheduler,
kubelets and usage engine, metrics pipeline, cluster autoscaler); no recorder or report.

Virtual time runs in 15-minute chunks; after each one the progress line shows wall time, pods and
nodes. The run stops early once ``--max-wall`` seconds have passed (it reports how far it got).
``--dump FILE`` writes what proves that a change left every decision alone: after each chunk, a
running sha256 of every store write so far (type, resource, object as sorted JSON) and one of the
stored objects, then the same two ("decisions") without node leases and resourceVersions, which
stay put when only the number of lease writes changes; at the end every stored Event, HPA and
workload scale. Two runs with the same arguments give identical files; it costs time, so leave it
off when measuring.
Prints virtual seconds per wall second (goal >= 1,440: 24 h in <= 60 s), process CPU seconds
beside wall (a busy 2-core machine inflates wall), peak pods / nodes and peak RSS.

End of session 10 (quiet machine): **24 h in 59.5-59.9 s wall (CPU the same), 1,444-1,452 virtual s
/ wall s: goal 1,440 met** in all three runs, by under 1%; run at the same time as session 9's tree
(296676e) 59.8 s against 65.1 s (-8.1%; an earlier pair, before the second round's four merges,
65.2 against 69.0 s). The margin is smaller than the machine's own drift (296676e took 65-69 s
within half an hour), so a busy or slower machine reads below the goal; compare only runs made
together. Same peak (28,480 pods on 924 nodes), peak RSS 893 MiB; the first hour 6.7 s. Decisions
unchanged: ``--dump`` byte-identical to 296676e's (and so 30a9602's) for ``--quick`` and 3,000 +
1,500 pods over 10 h after every merge. What went (helpers' estimates of the day, each measured
alone): the workload controllers (-1.8%: scale-down ranking on (lead, ready bucket, pod) heap
entries with the same comparisons, settled Deployments whose ReplicaSets moved only in status
synced by their rollout status alone, kept ReplicaSet status checks); Events (-1.5%: the recorders'
creates skip the per-kind lookups and ask NamespaceLifecycle once per namespace, TTL expiries
handed to the store a due at a time, event uids drawn by numpy's Mersenne Twister, the same uids);
the cluster autoscaler (-1.3%: a scale-down candidate's last removal reused when what its moves
read is unchanged, which halves the simulated steps; pods placed on nodes added in a fork leave
with their node); the scheduler (-1%: a pod failing like the last one takes that cycle's PreFilter output and
diagnosis, PodTopologySpread scores per domain); informer delivery (-0.8%: ReplicaSet count entries
moved by part, the VPA recommender called only for restart counts, a namespace index of keys); the
kubelet (-0.5%: heartbeats skip the kubelets' node handler, a teardown tells the usage model once).
Tried and not kept: compiling the package with Cython (pure-Python mode, no source change: --quick
15-25% slower, Python 3.11's specialising interpreter beats Cython's generic attribute and call
paths on this dict-heavy code), Python 3.13 (not faster: 0-15% slower than 3.11 on --quick),
jemalloc and tcmalloc preloaded (no change), skipping the Disruption controller's enqueues of keys
already queued (the check costs what the skip saves).

End of session 9 (quiet machine, both trees at once): **24 h in 70.1 s wall / 69.7 s CPU, 1,233
virtual s / wall s** against session 8's tree (30a9602) at 81.2 s in the same minutes (-13.7%; a
second pair 75.5 against 86.6 s, -12.8%); goal 1,440 not met. Alone the machine gave anything from
70 to 81 s for the same tree within half an hour, so compare only runs made together. Same peak
(28,480 pods on 924 nodes), peak RSS 898 MiB (was 926); the first hour 7.4 s, the ramp 1.5-5.2 s
an hour, the peak 0.8-2.2 s, the evening 2.6-3.9 s. ``--quick``: 6.7 s (12,964 virtual s / wall s).
Decisions unchanged: ``--dump`` byte-identical to 30a9602's for ``--quick`` and 3,000 + 1,500 pods
over 10 h after every merge. What went (each part measured on its own, helpers' estimates of the
day): the cluster autoscaler (-3%: member and candidate sets kept by reference, pending pods kept
while the same objects, the persistent snapshot skips heartbeats and unread status writes, per-node
drain plans kept until a pod of the node changes what they read, the status YAML written for its
known shape with PyYAML for anything else, the scale-down memo kept through PDB budget changes); the
workload controllers (-4%: PDB and Deployment syncs whose reads are as the last one left them return
at once, the ReplicaSet's scale-down re-reads only the pods written since its last one, node groups
read their kept tallies); the scheduler (-3%: node events ask the queueing hints once per pod class,
per-node masks and topology domains patched for the nodes that changed, status-only pod writes take
a short route, pods of one class share their memo); the HPA and metrics pipeline (-3%: per-profile
traffic rates, masks kept between syncs, per-spec settings); VPA and usage engine (-1.5%: kept
checkpoint order, peak buckets and decay factors, per-template usage parameters); the write path
(-1%: live watch events go straight to the informer, single-section writes noted for the update
classifiers). Tried and measured as no gain (not kept): the scale-down memo through changed nodes
(verdicts cost more than the simulation they save), the scheduler's unschedulable pool grouped by
pod class (95% of node events help nobody, but a skipped visit costs under 1 us), HPA masks as
maintained columns. The profile is as flat as before: scheduler ~15%, ReplicaSet ~12%, cluster
autoscaler ~11%, HPA ~7%, kubelet pod workers and status ~20%, informer delivery ~20%.

End of session 8 (quiet machine): **24 h in 81.8 s wall / 81.4 s CPU, 1,056 virtual s / wall s**
(goal 1,440 not met) with session 7's tree (901b2b2) run at the same time taking 106.4 s (812):
-23%; alone 83.0 s (1,042). Same peak (28,480 pods on 924 nodes), peak RSS 925-928 MiB; the first
hour 8.4 s, the ramp 2.8-6.0 s an hour, the peak 1.1-2.3 s, the evening 2.2-4.9 s. ``--quick``:
8.2 s, 10,515 virtual s / wall s. What went: (1) the node lifecycle controller no longer makes the
kubelets write node leases (~822,000 writes a day, 38% of all store writes): in run mode it peeks
at a lease (``Registry.peek``: what a read would find, unwritten) and leaves a node alone while its
kubelet's renewals go on, until the kubelet's stop writes its last renewal and says so (~10% of the
day); (2) pod updates classified once (``api/podchanges.py``) with handlers and indexes declaring
what they read: handler calls per pod update 14.0 -> 5.9 (3,000 + 1,500 pods), ~45 -> ~33 us of
delivery per update; (3) Events not validated twice, TTL expiries without DELETED events nobody
sees, no key index for a resource nobody lists (-16% of the Events share); (4) the cluster
autoscaler keeps its scale-up fit check while its inputs or the verdicts they feed are the same
(simulated checks 452 -> 134 a day), forks give back their layout versions, recently unremovable
candidates skip the candidate checks (run_once 19.9 -> ~16 s CPU a day); (5) kubelet pod status and
usage-engine rows built with less work. Two behaviour changes: event names carry a Unix-nanosecond
stamp unique across recorders (two recorders about one object at one instant had picked the same
name and the second event was lost: 18 a day in ``--quick``), and a freed pod address wakes one
waiting pod, not two. ``--dump`` gained decision hashes without node leases and resourceVersions:
the day's decisions are those of 901b2b2 (``--quick`` and 3,000 + 1,500 pods over 10 h), event
names and those 18 events aside. Where the day goes is still flat (py-spy): scheduler ~15% (failed
attempts' status writes and FailedScheduling events ~5%), cluster autoscaler ~12%, ReplicaSet ~12%
(pod creates and deletes and their fan-out), kubelet pod workers and status ~19%, HPA ~7%, node
heartbeats ~5%, VPA ~4%, usage tick ~4%; the node lifecycle controller is gone from the list (it was
~13%); informer delivery ~20% of it all, Events ~9%. The components that keep every pod version they are sent (scheduler cache, the autoscaler's
base snapshot) still take every pod write; letting them read the informer's copy when they use it
is the next step for fan-out.

End of session 7 (quiet machine, at f951069): **24 h in 100.3 s wall / 100.3 s CPU, 861 virtual s /
wall s** (goal 1,440 not met), peak 28,480 pods on 924 nodes, peak RSS 923 MiB (was 880: kept counts
and columns of the kubelet, node groups and controllers, and correlator caches pruned less often);
the first hour 10.2 s, the ramp 3.4-7.2 s an hour, the peak 1.9-3.3 s, the evening 3.1-5.4 s.
Back to back in the same minutes, session 6's tree (a31a3a5) took 126.3 s and the merged tree
(fa68be8) 106.4 s: -16%. ``--quick``: 9.0 s, 9,611 virtual s / wall s. One deliberate behaviour
change: the scheduler's queue uses v1.32's queueing hints (SchedulerQueueingHints is on by default
there; scheduler/hints.py), so an unschedulable pod is retried only for an event that can help it.
Over the day failed attempts went 241,590 -> 104,982 but the time did not move (both trees at once:
131.7 s and 131.8 s): the retries that went were the cheap ones (an unchanged message, so no status
write and only a bump of the cached event series); each retry left follows a node change, so its
message changes and it writes the pod's status and a new FailedScheduling event (creates 107,186 ->
104,982); asking every pending pod's TaintToleration hint on each taint change cost 2.4% of the
day until the answer was kept per set of tolerations for the event (Scheduler._move 3.3% -> 1.3% in
py-spy; not separable in wall time). Pods are now bound as soon as a booting node's not-ready NoSchedule taint goes, while its
NoExecute twin waits for the next monitor pass (as upstream), so the taint manager marks and then
cancels their eviction: TaintManagerEviction events 1,045 -> 13,649. The peak is the same. Decisions
otherwise unchanged (``--dump`` byte-identical against the hints tree for ``--quick`` and 3,000 + 1,500
pods over 10 h after every merge). What went, each measured on its own part: the usage tick keeps
per-profile serving counts instead of ~10 pod-length passes (-51% at the peak), pod status builds
-37%, kubelet admission keeps its sums; the cluster autoscaler's scale-down reuses kept steps by
candidate and replays moves only when needed (run_once -13%, _find_unneeded -31%); node groups keep
their tallies and bill with numpy (-65%), HPA caches its selector and scale lookups (-11%),
Deployment copies less (-20%); Event creates through a trusted create, uids drawn in batches, TTL
expiry with one lookup (-10% per event); NLC keeps one health record per node, heartbeats renew
only their times (-10% per heartbeat; lease renewals -5%: about 30 small steps, half of it cold
memory at 1,000 nodes). Where the day goes now (py-spy): scheduler ~14% (failures ~5%: status write
and event), node-lease reads ~9%, ReplicaSet ~8%, cluster autoscaler ~12%, kubelet pod workers and
status ~15%, HPA ~6%, node heartbeats ~4%. Still no step is large; see session 6's conclusion.

End of session 6 (quiet machine, at d975163): **24 h in 116.8 s wall / 116.8 s CPU, 740 virtual s /
wall s** (session 5 ended at 130.4 s, 662; goal 1,440 not met), same day (28,480 pods on 924 nodes at
the peak), peak RSS 880 MiB; the first hour 9.5 s (was 10.8), the ramp 4.7-7.8 s an hour, the peak
2.3-3.9 s, the evening 4.7-7.8 s. ``--quick``: 10.8 s, 8,007 virtual s / wall s. Two deliberate
behaviour changes, decisions otherwise unchanged (``--dump`` byte-identical within each step): the
scheduler records through an events.k8s.io series recorder (client-go tools/events: the 3rd and later
repeats of an event only bump the cached series, written at 30-min refreshes and when the series
finishes; FailedScheduling creates + patches a day 241,590 -> 166,830), and the node lifecycle controller's
probe time is the monitor pass that saw a renewal (upstream tryUpdateNodeHealth), which leaves the
day's Events, HPAs and scales as they were (store writes differ slightly). What went: node
heartbeats classified once per write with most node handlers not called for them (informer update
filters), a leaner trusted-write path for lease renewals and heartbeats, informer index values kept
per key (and skipped when the part an index reads is the same object), the cluster autoscaler's
first-fit answering alike pods from where their class last fit (its CPU over the day -14%), the
scheduler's node-only filter verdicts kept per pod class and resource figures shared by value between
pods of one template, cheaper event bookkeeping, template comparisons remembered in the Deployment
controller. Where the day goes now (py-spy): scheduler ~16%, cluster autoscaler ~14%, node-lease
reads ~9% (one lease write per node per ~60 s), ReplicaSet ~8%, kubelet pod workers and status ~14%,
HPA ~7%, usage ~4%, node heartbeats ~4%, Events ~4%. Each helper measured its own part at -10% to
-45% per call with no single step left large: the cost is spread over ~2.2 million store writes a day
and the ~15 handlers each reaches, so the remaining 2x needs fewer writes or cheaper fan-out as a
whole, not another local cache.

End of session 5 (quiet machine, at 946dfe1): **24 h in 120.6 s wall / 120.6 s CPU, 717 virtual s /
wall s** (session 4: 146 s, 593; goal 1,440 not met), peak 28,480 pods on 924 nodes, peak RSS 854
MiB (was 1,158). The legacy event correlator that came after (aggregator and spam filter: far
fewer controller Events) left the time as it was: both trees run at once on the machine when it had
slowed down, 154.9 s with it and 157.4 s without; peak RSS 929 MiB with it (its caches, per
kubelet), and since event uids share the registry's random stream with pod names, the day's
decisions differ a little (more nodes kept late in the evening). Event uids then got a random
stream of their own (pod names no longer depend on how many events a run records), which moved
the day once more: the tree at d24cb8c did the day in 130.4 s (662 virtual s / wall s; first hour
10.8 s against 10.2 s at 946dfe1, so the machine was about as fast), peak RSS 930 MiB; dropping
correlator cache entries that have run out then brought peak RSS to 879 MiB (same decisions; its
time was not measurable: the machine had slowed by ~40%). The first hour takes 10 s, the morning ramp 5-9 s an hour, the peak 2.6-4 s, the evening
4-7 s. The day differs a little from session 4's (29,052 pods / 938 nodes at the peak): nodes now
register not Ready, so no pod lands on a booting node (it did, and then waited for the boot), which
costs ~4.7 s (about 30% more failed scheduling attempts while nodes boot). Otherwise decisions are
unchanged: ``--dump`` byte-identical before/after for ``--quick`` and 3,000 + 1,500 pods over 10 h.
What went: the run's watch window (200,000 writes kept every old object version alive and freed it
cold: none now), pod handlers that return early when nothing they read changed (ReplicaSet,
disruption, HPA, VPA, PodGC, taint eviction), owned writes instead of defensive copies in the
controllers, the scheduler's back-off and flush timers on one loop timer, shared diagnoses and
PodInfo figures, the cluster autoscaler's scale-down pass outcomes kept while nothing they read
changed, pod spec validation memoised by content, microsecond timestamps formatted per second and
parsed back from a cache, rarer run-mode GC. Where the day goes now (py-spy): the cluster
autoscaler ~15%, the scheduler ~14%, node-lease renewals read by the node lifecycle controller
~10% (~830,000 lease writes a day), kubelet pod status writes and pod workers ~12%, the ReplicaSet
~9%, Events ~6%, node status heartbeats ~6%, the HPA ~6%, the usage engine ~5%; every store write
fans out to ~15 informer handlers. mypyc-compiling the store, loop and informer modules made
``--quick`` 5% slower (dict-shaped code gains nothing), so the remaining 2x needs fewer writes
per pod or a model change, not a compiler. ``--quick``: 10.3 s, **8,395 virtual s / wall s** (was
11.4-11.8 s), peak RSS 93 MiB (was 276).

End of session 4 (quiet machine): **24 h in 146 s wall / 146 s CPU, 593 virtual s / wall s**
(session 3: 313-317 s, 272-276; goal 1,440 not met), same peak (29,052 pods on 938 nodes), peak
RSS 1,158 MiB; ``--quick``: 11.4-11.8 s, **7,300-7,600 virtual s / wall s**. Decisions unchanged (``--dump``
byte-identical for ``--quick`` and 3,000 + 1,500 pods over 10 h) except where Events now expire from
storage exactly an hour after their last write (up to a second later than the controller that did
it from second-precision timestamps; HPA decisions, scales and the final Events are the same).
What went: the HPA's and VPA's per-sync joins of pod uids to usage-engine slots (kept between syncs
with per-slot generations), the cluster autoscaler's per-scan passes (node facts, request sums,
candidates and drain plans kept from informer events), the ReplicaSet's O(pods) passes per scale,
the scheduler's repeated filter runs for alike waiting pods, and many per-write costs (admission
plugins called only for their kinds, cheaper metadata validation, a lazy sorted key index, copies
avoided on kubelet status writes and graceful deletes, per-pod requests memoised across status
writes, second-keyed timestamps), plus run-mode GC that freezes the survivors of every collection
(the first 3 h collected for 3.3-3.9 s, now 0.6 s). Where the day goes now (py-spy): the cluster
autoscaler ~16% (the scale-down simulation ~9%), node-lease renewals read by the node lifecycle
controller ~15% (about 2 million lease writes a day at ~1,000 nodes in ``on-read`` mode, ~20 us
each: at 1,000 nodes this alone is ~40 s of a 60 s budget), the scheduler ~9%, the ReplicaSet
~6%, the usage engine ~6%, the HPA ~6%, node status heartbeats ~4%.

End of session 3 (HEAD ea0ed3c, quiet machine): **the full-size day finishes for the first time:
24 h in 313 s wall / 313 s CPU, 276 virtual s / wall s** (goal 1,440 not met), peak 29,052 pods on
938 nodes, peak RSS 1.15 GB; the first 12 h take 148 s, the peak hours 10-13 s each. ``--quick``:
24 h in 21.0 s, **4,112 virtual s / wall s**. Besides the HPA rows and metrics arrays below: the VPA
recommender's feed as numpy rows kept by pod handlers (117 -> 9 ms a run at full size, outputs
byte-identical), PostFilter counting nodes when nothing can be preempted, a failed cycle's node
statuses built lazily, the cluster autoscaler's --unremovable-node-recheck-timeout (5m, upstream's;
this one changes decisions) and readiness cache, event TTL expiries in a FIFO (the loop's heap had
held every Event of the last hour), quantity texts parsed once, the ReplicaSet's deletion pick by
heapq.nsmallest (changes which pod goes where upstream's Less is not transitive), glibc's allocator
tuned. Where the evening (scale-down) goes now, py-spy: the cluster autoscaler 29% (per-scan passes
over ~1,000 nodes: state, readiness, utilization; the scale-down simulation), the HPA and VPA's joins
of pod uids to usage-engine slots 23%, the ReplicaSet controller 24% before the nsmallest change,
node-lease reads 6%.

After the HPA's kept pod rows and the metrics pipeline's per-scrape arrays (510c1b8 on top of
277785f; both trees measured in the same session, 2 cores shared, CPU seconds the steadier figure):

- ``--quick``: 24 h virtual in 29 s CPU, **2,974 virtual s per CPU s** (2,894 per wall s); before:
  95 s CPU (906 per CPU s, 567 per wall s on a busier machine).
- Full size, ``--max-wall 300``: **10.5 h virtual** (21,454 pods / 659 nodes by then, RSS 1,021 MiB);
  before: 6.25 h. CPU for the first 6 virtual hours 83 s instead of 197 s.
- One web HPA sync (two metrics, perf_counter around reconcile, full size): 2.7 ms at 1,500-3,100
  pods (hours 0-4; before 30-68 ms), 6.5-7.9 ms at 6,000-8,900 pods (hours 6-7; before 274-477 ms
  in hours 4-6). The worker HPA (External AverageValue): 0.3 ms. In a 0-7.5 h full-size profile the
  HPA is 3% (was 57% of the ramp); 60% of what is left is joining the rows' uids with the usage
  engine's pod slots (a dict lookup per pod, in C). The VPA recommender, the scheduler's PostFilter
  and the cluster autoscaler are the big items now.
- Decisions are unchanged: ``--dump`` files (a hash of every store write, the stored objects every
  15 virtual minutes, the final Events/HPAs/scales) are byte-identical before/after for ``--quick``
  24 h and for 3,000 + 1,500 pods over 10 h.

Measured at 03f7ed3 (the autoscaler's persistent snapshot with fork/revert and first-fit resume,
incremental PDB members and ReplicaSet counts, cheaper preemption dry runs and metrics reads),
2 cores, other sessions running (CPU seconds are the steadier figure):

- ``--quick``: 24 h virtual in 108 s wall / 108 s CPU, **801 virtual s per wall s**, peak 1,368
  pods / 45 nodes, peak RSS 318 MiB. ``--quick --hours 6``: 2,630-3,000 virtual s per wall s.
  (The same tree without these changes: 458 per wall s, 506 per CPU s; 527 at 1813bb5.)
  Then with the metrics pipeline's per-pod records memoised per scrape: 917 virtual s per wall s
  (94 s), 10 h of it 1,635 (the HPA's metric reads had been half of a 10 h profile).
- Full size, ``--max-wall 300``: **6.75 h virtual** in 313 s wall / 313 s CPU (78 virtual s per wall
  s over the night and the start of the morning ramp; 8,603 pods / 245 nodes by then, RSS 712 MiB).
  The first virtual hour takes 55 s, the quiet hours 2-4 ~21 s each, the ramp from 6,000 pods on
  ~75 s per virtual hour and rising with the pod count. Before: still inside the first 15 virtual
  minutes after 400 s (profiled: 15 minutes in 1,082 s, 70% of it the disruption controller).
- Where the time goes in the ramp (6.5-7.5 h virtual, 7,700 -> 10,900 pods, ``cProfile``, 226 s):
  the HPA 57% (480 syncs, ~270 ms each: per sync and metric a pass over every pod of the target:
  select, group, requests, per-pod usage and custom values from the pipeline), the scheduler 19%
  (pods waiting for new nodes retried, PostFilter's dry run over every node), the VPA recommender
  11% (a sample of every pod each minute), the cluster autoscaler 3%, the ReplicaSet controller 2%,
  the disruption controller 0.2%. The HPA and VPA costs are O(pods) per sync at a fixed period
  (15 s, 60 s): at the 30,000-pod peak each sync costs ~3x what it does here, so the goal needs
  them incremental too.
- Decisions are unchanged by these changes: ``--quick`` 24 h and 20,000 + 10,000 scaled to
  3,000 + 1,500 for 10 h give byte-identical events, placements and stored objects before/after.

Earlier, at 466a507 (2 cores shared with other sessions; CPU seconds are the steadier figure):

- ``--quick`` (1,000 + 500 pods at the peak, 45 nodes): 19.25 h virtual in 300 s wall / 250 s CPU,
  **230 virtual s per wall s** (277 per CPU s), peak RSS 458 MiB. Goal not met at 1/20 of the size.
  The night (< 200 pods) runs at ~1,700 virtual s / s; the ramp and the peak (1,000+ pods) at ~150.
- Full size (20,000 + 10,000): the first 15 virtual minutes (4,777 pods, 194 nodes, still scaling
  up) took 481 s wall / 410 s CPU, **2 virtual s per wall s**, RSS 641 MiB. 24 h does not finish in
  10 minutes; ``--quick`` (~1,500 pods) is the largest size that does.
- Where the time goes (``--quick --hours 12 --profile``, 421 s): the cluster autoscaler's scan
  43% (``_scale_down`` -> ``_base_sim`` rebuilds a scheduler cache of every pod every 10 s:
  1.37 M ``add_pod`` / ``PodInfo`` builds; ``utilization`` re-sums every node's pod requests);
  the Deployment controller 24% (450 k syncs: upstream's 5 ms rate-limited progress re-check,
  ``requeueStuckDeployment``, loops while a Deployment is incomplete under a
  ``NewReplicaSetAvailable`` Progressing condition, i.e. all the time pods wait for a new node);
  the HPA 13% (per-pod resource metric and request sums each sync); the disruption controller 5%.
  ``api.resources.pod_requests`` is recomputed 3.4 M times (88 s cumulative) across them.
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import gc
import hashlib
import json
import math
import pstats
import resource
import sys
import time
from pathlib import Path
from typing import Any

from kubetwin.scenario import loader
from kubetwin.scenario.runtime import Cluster, ScenarioSettings
from kubetwin.sim import gcpolicy

GOAL = 1440.0
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "diurnal-hpa-ca"
CHUNK = 900.0
WEB_PER_NODE = 38  # 100m pods on an m5.xlarge (3,920m allocatable with the EKS preset)
WORKERS_PER_NODE = 22  # 350m pods on a c5.2xlarge (7,910m)
HEADROOM = 1.2


def objects(web_peak: int, worker_peak: int) -> tuple[ScenarioSettings, list[dict[str, Any]]]:
    """The example's objects resized for the given peaks (pods)."""
    docs = loader.load(EXAMPLE)
    settings = ScenarioSettings.from_object(next(d.obj for d in docs if d.kind == "Scenario"))
    out = []
    for d in docs:
        obj = copy.deepcopy(d.obj)
        name = obj["metadata"].get("name")
        spec = obj.get("spec") or {}
        if d.kind == "NodeGroup" and name == "general":
            spec["maxSize"] = max(spec["minSize"], math.ceil(web_peak / WEB_PER_NODE * HEADROOM))
        elif d.kind == "NodeGroup" and name == "spot-batch":
            spec["maxSize"] = max(1, math.ceil(worker_peak / WORKERS_PER_NODE * HEADROOM))
        elif d.kind == "Deployment":
            # web 100m/256Mi (38 per m5.xlarge), workers 350m/512Mi Guaranteed (22 per c5.2xlarge)
            template = spec["template"]
            container = template["spec"]["containers"][0]
            cpu, mem = ("100m", "256Mi") if name == "web" else ("350m", "512Mi")
            container["resources"]["requests"].update({"cpu": cpu, "memory": mem})
            # start at what the HPA would pick at midnight (2 web pods under the peak's 20x would be
            # OOM-killed by their memoryPerRps before the HPA could read a metric)
            spec["replicas"] = math.ceil(_at_midnight(web_peak if name == "web" else worker_peak))
            if name == "worker":
                container["resources"]["limits"].update({"cpu": cpu, "memory": mem})
                template["metadata"].setdefault("annotations", {})["kubetwin.io/memory-usage"] = "400Mi"
        elif d.kind == "LoadProfile":
            spec["traffic"]["diurnal"].update({"base": 50 * web_peak / 20, "peak": 50 * web_peak})
            spec["perPod"].update({"baseline": {"cpu": "10m", "memory": "180Mi"}, "cpuPerRequest": "1m",
                                   "startup": {"cpu": "100m", "duration": "30s"}})  # fmt: skip
        elif d.kind == "ExternalMetricSeries":
            spec["values"]["diurnal"].update({"base": max(1, worker_peak // 80), "peak": 10 * worker_peak})
        elif d.kind == "HorizontalPodAutoscaler":
            peak = web_peak if name == "web" else worker_peak
            spec["maxReplicas"] = max(spec["minReplicas"] + 1, math.ceil(peak * HEADROOM))
        out.append(obj)
    return settings, out


def _at_midnight(peak_pods: int) -> float:
    """Pods needed at virtual time 0 for a diurnal curve from peak/20 to peak, peaking at 14:00."""
    base = peak_pods / 20
    return base + (peak_pods - base) * (1 + math.cos(2 * math.pi * (0 - 14 * 3600) / 86400)) / 2


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def counts(cluster: Cluster) -> tuple[int, int]:
    return cluster.store.count("pods"), cluster.store.count("nodes")


LEASES = "leases.coordination.k8s.io"


def _without_versions(o: Any) -> Any:
    """``o`` without its resourceVersions (at any depth): what stays when writes that no decision
    reads (node leases renewed on read) come and go."""
    if isinstance(o, dict):
        return {k: _without_versions(v) for k, v in o.items() if k != "resourceVersion"}
    if isinstance(o, list):
        return [_without_versions(v) for v in o]
    return o


class Dump:
    """``--dump``: a running hash of every store write, hashes of the stored objects per chunk and
    the final Events, HPAs and workload scales."""

    def __init__(self, cluster: Cluster, path: str) -> None:
        self.cluster = cluster
        self.out = open(path, "w", encoding="utf-8")  # noqa: SIM115 (closed in finish)
        self.writes = hashlib.sha256()
        self.decisions = hashlib.sha256()
        self.count = 0
        cluster.store.add_listener(self._on_write)

    def _on_write(self, ev: Any) -> None:
        self.count += 1
        head, body = f"{ev.type} {ev.resource} ".encode(), json.dumps(ev.object, sort_keys=True).encode()
        self.writes.update(head)
        self.writes.update(body)
        if ev.resource != LEASES:
            self.decisions.update(head)
            self.decisions.update(json.dumps(_without_versions(ev.object), sort_keys=True).encode())

    def _stored(self, resource: str) -> list[dict[str, Any]]:
        return list(self.cluster.store.iter(resource))

    def chunk(self, now: float) -> None:
        h = hashlib.sha256()
        for r in self.cluster.store.resources():
            for o in self._stored(r):
                h.update(json.dumps(o, sort_keys=True).encode())
        d = hashlib.sha256()
        for r in self.cluster.store.resources():
            if r != LEASES:
                for o in self._stored(r):
                    d.update(json.dumps(_without_versions(o), sort_keys=True).encode())
        self.out.write(f"{now:8.0f} writes {self.count} {self.writes.hexdigest()[:16]} "
                       f"stored {h.hexdigest()[:16]} decisions {self.decisions.hexdigest()[:16]} "
                       f"{d.hexdigest()[:16]}\n")  # fmt: skip

    def finish(self) -> None:
        for o in self._stored("events"):
            self.out.write(json.dumps(o, sort_keys=True) + "\n")
        for o in self._stored("horizontalpodautoscalers.autoscaling"):
            self.out.write(json.dumps(o, sort_keys=True) + "\n")
        for r in ("deployments.apps", "replicasets.apps"):
            for o in self._stored(r):
                m = o["metadata"]
                self.out.write(f"{r} {m.get('namespace')}/{m['name']} spec.replicas={o['spec'].get('replicas')} "
                               f"status={json.dumps(o.get('status'), sort_keys=True)}\n")  # fmt: skip
        self.out.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--web-peak", type=int, default=20000, help="web pods at the peak of the day")
    ap.add_argument("--worker-peak", type=int, default=10000, help="worker pods at the peak of the day")
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--quick", action="store_true", help="the example's own size scaled to 1,500 pods, 24 h")
    ap.add_argument("--max-wall", type=float, default=600.0, help="stop after this many wall seconds")
    ap.add_argument("--profile", action="store_true", help="cProfile the run and print the top functions")
    ap.add_argument("--profile-out", default=None, help="with --profile: also dump the pstats to this file")
    ap.add_argument("--profile-after", type=float, default=0.0, metavar="H",
                    help="with --profile: start profiling at H virtual hours (e.g. 10 for the peak)")
    ap.add_argument("--dump", default=None, help="write write/store hashes per chunk and the final Events/HPAs here")
    args = ap.parse_args()
    if args.quick:
        args.web_peak, args.worker_peak = 1000, 500
    settings, objs = objects(args.web_peak, args.worker_peak)
    until = args.hours * 3600.0
    print(f"diurnal-hpa-ca x ({args.web_peak:,} web + {args.worker_peak:,} worker pods at the peak), "
          f"{args.hours:g} h virtual, seed {settings.seed}", flush=True)  # fmt: skip
    gcpolicy.PACER.install(throughput=True)  # the collector and allocator policy `kubetwin run` uses
    t0 = time.perf_counter()
    c0 = time.process_time()
    cluster = Cluster(seed=settings.seed, metrics_resolution=settings.metrics_resolution)
    cluster.start()
    dump = Dump(cluster, args.dump) if args.dump else None
    failures = cluster.apply((str(o["metadata"].get("name")), o) for o in objs)
    if failures:
        sys.exit("; ".join(f"{f.where}: {f.message}" for f in failures))
    gc.freeze()
    prof = cProfile.Profile() if args.profile else None
    if prof is not None and args.profile_after <= 0:
        prof.enable()
    peak_pods = peak_nodes = 0
    now = 0.0
    stopped = False
    while now < until:
        now = min(until, now + CHUNK)
        after = args.profile_after * 3600.0
        if prof is not None and 0 < after <= now - CHUNK < after + CHUNK:
            prof.enable()
        cluster.run(now)
        pods, nodes = counts(cluster)
        peak_pods, peak_nodes = max(peak_pods, pods), max(peak_nodes, nodes)
        if dump is not None:
            dump.chunk(now)
        wall = time.perf_counter() - t0
        if now % 3600 == 0 or now >= until:
            print(f"  {now / 3600:5.2f} h  wall {wall:7.1f} s  cpu {time.process_time() - c0:7.1f} s  "
                  f"pods {pods:6,}  nodes {nodes:5,}  rss {peak_rss_mib():6.0f} MiB", flush=True)  # fmt: skip
        if wall > args.max_wall and now < until:
            print(f"  stopped: --max-wall {args.max_wall:g} s reached at {now / 3600:.2f} h virtual", flush=True)
            stopped = True
            break
    if prof is not None:
        prof.disable()
    if dump is not None:
        dump.finish()
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    rate = now / wall if wall > 0 else float("inf")
    print(f"virtual {now:,.0f} s in {wall:,.1f} s wall ({cpu:,.1f} s CPU): {rate:,.0f} virtual s / wall s "
          f"({now / cpu if cpu else 0:,.0f} per CPU s); goal {GOAL:,.0f}: {'met' if rate >= GOAL else 'NOT met'}"
          f"{' (partial run)' if stopped else ''}")  # fmt: skip
    print(f"peak pods {peak_pods:,}, peak nodes {peak_nodes:,}, peak RSS {peak_rss_mib():,.0f} MiB")
    if prof is not None:
        stats = pstats.Stats(prof)
        if args.profile_out:
            stats.dump_stats(args.profile_out)
        stats.sort_stats("cumulative").print_stats(40)
    cluster.close()


if __name__ == "__main__":
    main()
