"""Tests for kubetwin.scenario.report: rendering, escaping, determinism, verdicts."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from kubetwin.scenario.report import (
    compute_verdicts,
    format_bytes,
    format_cores,
    format_duration,
    render_report,
    scheduler_reasons,
)

GiB = 1024**3
MiB = 1024**2

UNSCHED_CPU = ("0/5 nodes are available: 2 Insufficient cpu, 3 node(s) didn't match Pod's node affinity/selector. "
               "preemption: 0/5 nodes are available: 2 No preemption victims found for incoming pod, "
               "3 Preemption is not helpful for scheduling.")
UNSCHED_TAINT = ("0/5 nodes are available: 5 node(s) had untolerated taint {dedicated: gpu}. preemption: "
                 "0/5 nodes are available: 5 Preemption is not helpful for scheduling.")


def _node(name: str, group: str, itype: str, zone: str, cpu: int, cpu_req: int, mem: int, mem_req: int,
          pods: int, pods_req: int, ready: bool = True, capacity_type: str = "on-demand") -> dict[str, Any]:
    return {
        "name": name, "nodegroup": group, "instance_type": itype, "zone": zone, "capacity_type": capacity_type,
        "ready": ready,
        "capacity": {"cpu": str(cpu // 1000), "memory": f"{mem // MiB}Mi", "pods": str(pods)},
        "allocatable": {"cpu": f"{cpu}m", "memory": f"{mem // MiB}Mi", "pods": str(pods)},
        "requested": {"cpu_milli": cpu_req, "memory_bytes": mem_req, "pods": pods_req},
        "allocatable_ints": {"cpu_milli": cpu, "memory_bytes": mem, "pods": pods},
    }


def rich_data() -> dict[str, Any]:
    """A 30-minute scenario: a scale-up, unschedulable pods, a degraded Deployment, warnings."""
    n = 121
    t = [15.0 * i for i in range(n)]
    nodes_final = [
        _node("ip-10-0-1-17.ec2.internal", "general", "m5.large", "us-east-1a", 1930, 1880, int(7.2 * GiB),
              int(5.1 * GiB), 29, 14),
        _node("ip-10-0-2-41.ec2.internal", "general", "m5.large", "us-east-1b", 1930, 1450, int(7.2 * GiB),
              int(3.0 * GiB), 29, 11),
        _node("ip-10-0-3-88.ec2.internal", "general", "m5.large", "us-east-1c", 1930, 900, int(7.2 * GiB),
              int(6.9 * GiB), 29, 9),
        _node("ip-10-0-1-201.ec2.internal", "spot-batch", "c5.xlarge", "us-east-1a", 3920, 3100, int(6.9 * GiB),
              int(2.2 * GiB), 58, 7, capacity_type="spot"),
        _node("ip-10-0-2-19.ec2.internal", "spot-batch", "c5.xlarge", "us-east-1b", 3920, 250, int(6.9 * GiB),
              512 * MiB, 58, 3, ready=False, capacity_type="spot"),
    ]
    samples_nodes: dict[str, dict[str, list[Any]]] = {}
    for idx, nd in enumerate(nodes_final):
        start = 0 if idx < 3 else 40 + 10 * idx  # the spot nodes join later (scale-up)
        ser: dict[str, list[Any]] = {k: [] for k in ("cpu_requested_milli", "cpu_allocatable_milli",
                                                      "memory_requested_bytes", "memory_allocatable_bytes",
                                                      "pods", "pods_allocatable", "ready")}
        for i in range(n):
            if i < start:
                for v in ser.values():
                    v.append(None)
                continue
            f = min(1.0, (i - start + 5) / 60)
            ser["cpu_requested_milli"].append(int(nd["requested"]["cpu_milli"] * f))
            ser["cpu_allocatable_milli"].append(nd["allocatable_ints"]["cpu_milli"])
            ser["memory_requested_bytes"].append(int(nd["requested"]["memory_bytes"] * f))
            ser["memory_allocatable_bytes"].append(nd["allocatable_ints"]["memory_bytes"])
            ser["pods"].append(int(nd["requested"]["pods"] * f))
            ser["pods_allocatable"].append(nd["allocatable_ints"]["pods"])
            ser["ready"].append(0 if (not nd["ready"] and i > 100) or i - start < 3 else 1)
        samples_nodes[nd["name"]] = ser
    running = [min(44, i // 2) for i in range(n)]
    pending = [max(0, min(12, i) - i // 8) + 3 for i in range(n)]
    succeeded = [min(4, i // 25) for i in range(n)]
    failed = [1 if i > 90 else 0 for i in range(n)]
    pending_rows = [
        {"namespace": "batch", "name": f"crunch-7d9f8-{i:02d}", "owner": "Job/crunch", "pending_seconds": 1800.0,
         "still_pending": True, "reason": "Unschedulable", "message": UNSCHED_CPU} for i in range(2)
    ] + [
        {"namespace": "ml", "name": "trainer-0", "owner": "StatefulSet/trainer", "pending_seconds": 1790.0,
         "still_pending": True, "reason": "Unschedulable", "message": UNSCHED_TAINT},
        {"namespace": "default", "name": "<script>alert(1)</script>", "owner": "", "pending_seconds": 95.0,
         "still_pending": False, "reason": "Unschedulable", "message": UNSCHED_CPU},
        {"namespace": "default", "name": "web-5c8d-abcde", "owner": "Deployment/web", "pending_seconds": 12.5,
         "still_pending": False, "reason": "Unschedulable", "message": UNSCHED_CPU},
    ]
    return {
        "scenario": {"name": "scale-up & <burst>", "duration_seconds": 1800.0, "seed": 42,
                     "sources": ["examples/burst/cluster.yaml", "examples/burst/workloads.yaml"],
                     "objects": {"Deployment": 3, "Job": 1, "StatefulSet": 1, "NodeGroup": 2, "Namespace": 3},
                     "kubetwin_version": "0.1.0", "wall_seconds": 4.37, "started": "2026-01-01T00:00:00Z"},
        "samples": {
            "t": t,
            "pods_by_phase": {"Pending": pending, "Running": running, "Succeeded": succeeded, "Failed": failed,
                              "Unknown": [0] * n},
            "pods_by_qos": {"Guaranteed": [r // 4 for r in running], "Burstable": [r - r // 4 for r in running],
                            "BestEffort": [p for p in pending]},
            "pending_unschedulable": [min(3, i // 10) for i in range(n)],
            "nodes": samples_nodes,
        },
        "nodes_final": nodes_final,
        "pending": pending_rows,
        "workloads": [
            {"kind": "Deployment", "namespace": "default", "name": "web", "desired": 3, "ready": 2, "available": 2,
             "updated": 3, "status": "degraded"},
            {"kind": "Deployment", "namespace": "default", "name": "api", "desired": 4, "ready": 4, "available": 4,
             "updated": 4, "status": "ok"},
            {"kind": "Deployment", "namespace": "kube-system", "name": "coredns", "desired": 2, "ready": 2,
             "available": 2, "updated": 2, "status": "ok"},
            {"kind": "StatefulSet", "namespace": "ml", "name": "trainer", "desired": 1, "ready": 0, "available": 0,
             "updated": 1, "status": "progressing"},
        ],
        "events": {
            "by_reason": {"Scheduled": 61, "Pulled": 58, "Created": 58, "Started": 58, "FailedScheduling": 9,
                          "BackOff": 4, "NodeNotReady": 1, "SuccessfulCreate": 48},
            "warnings": [
                {"t": 60.0 + 30 * i, "time": f"00:{1 + i // 2:02d}:{(30 * i) % 60:02d}", "kind": "Pod",
                 "namespace": "batch", "name": f"crunch-7d9f8-{i % 2:02d}", "reason": "FailedScheduling",
                 "message": UNSCHED_CPU, "count": 1 + i} for i in range(6)
            ] + [
                {"t": 1500.0, "time": "00:25:00", "kind": "Pod", "namespace": "default", "name": "web-5c8d-xyz12",
                 "reason": "BackOff", "message": "Back-off restarting failed container app in pod web-5c8d-xyz12",
                 "count": 4},
                {"t": 1510.0, "time": "00:25:10", "kind": "Node", "namespace": "", "name": "ip-10-0-2-19.ec2.internal",
                 "reason": "NodeNotReady", "message": "Node ip-10-0-2-19.ec2.internal status is now: NodeNotReady",
                 "count": 1},
            ],
        },
    }


def empty_data() -> dict[str, Any]:
    return {
        "scenario": {"name": "empty", "duration_seconds": 0.0, "seed": 0, "sources": [], "objects": {}},
        "samples": {"t": [], "pods_by_phase": {}, "pods_by_qos": {}, "pending_unschedulable": [], "nodes": {}},
        "nodes_final": [], "pending": [], "workloads": [], "events": {"by_reason": {}, "warnings": []},
    }


SECTION_IDS = ("verdicts", "pods", "nodes", "pending", "workloads", "events")


# --------------------------------------------------------------------------- formatting


@pytest.mark.parametrize(("milli", "want"), [
    pytest.param(0, "0.00", id="zero"),
    pytest.param(1850, "1.85", id="fraction"),
    pytest.param(4000, "4.00", id="whole"),
    pytest.param(125, "0.12", id="round-half-even"),
])
def test_format_cores(milli: int, want: str) -> None:
    assert format_cores(milli) == want


@pytest.mark.parametrize(("n", "want"), [
    pytest.param(0, "0 B", id="zero"),
    pytest.param(512 * MiB, "512 MiB", id="mib"),
    pytest.param(8 * GiB, "8.00 GiB", id="gib"),
    pytest.param(int(7.5 * GiB), "7.50 GiB", id="gib-fraction"),
    pytest.param(2048, "2 KiB", id="kib"),
])
def test_format_bytes(n: int, want: str) -> None:
    assert format_bytes(n) == want


@pytest.mark.parametrize(("s", "want"), [
    pytest.param(0, "0s", id="zero"),
    pytest.param(0.25, "0.25s", id="subsecond"),
    pytest.param(45, "45s", id="seconds"),
    pytest.param(150, "2m30s", id="minutes-seconds"),
    pytest.param(600, "10m", id="minutes"),
    pytest.param(4320, "1h12m", id="hours-minutes"),
    pytest.param(7200, "2h", id="hours"),
    pytest.param(3 * 86400 + 4 * 3600 + 5, "3d4h", id="days"),
])
def test_format_duration(s: float, want: str) -> None:
    assert format_duration(s) == want


@pytest.mark.parametrize(("message", "want"), [
    pytest.param(UNSCHED_CPU, ["Insufficient cpu", "node(s) didn't match Pod's node affinity/selector"], id="two"),
    pytest.param(UNSCHED_TAINT, ["node(s) had untolerated taint {dedicated: gpu}"], id="taint"),
    pytest.param("0/3 nodes are available: 3 Insufficient memory.", ["Insufficient memory"], id="no-preemption"),
    pytest.param("no nodes available to schedule pods", [], id="other"),
])
def test_scheduler_reasons(message: str, want: list[str]) -> None:
    assert scheduler_reasons(message) == want


# --------------------------------------------------------------------------- rendering


def test_rich_report_has_sections_and_humanised_numbers() -> None:
    out = render_report(rich_data())
    assert out.startswith("<!DOCTYPE html>")
    for sid in SECTION_IDS:
        assert f'<section id="{sid}">' in out
    for heading in ("Verdicts", "Pods over time", "Node allocation", "Pending pods", "Workloads", "Events",
                    "Scheduler reasons", "Warning events"):
        assert f">{heading}<" in out or f">{heading} (" in out
    assert out.count("<svg") == 4  # phase, QoS, final allocation, cluster over time
    assert "http://" not in out.replace("http://www.w3.org", "") and "https://" not in out
    assert "1.88 / 1.93" in out  # cores, 2 decimals
    assert "5.10 GiB / 7.20 GiB" in out
    assert "512 MiB / 6.90 GiB" in out
    assert ">30m<" in out  # virtual duration
    assert "4.37s" in out  # wall time
    assert "97%" in out
    # Identical scheduler messages are grouped: 4 pods share UNSCHED_CPU.
    assert re.search(r'<td class="num"><b>4</b></td><td class="num">2</td>', out)


def test_user_strings_are_escaped() -> None:
    out = render_report(rich_data())
    assert "<script>" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "scale-up &amp; &lt;burst&gt;" in out
    assert "<burst>" not in out


def test_render_is_deterministic() -> None:
    data = rich_data()
    assert render_report(data) == render_report(copy.deepcopy(data))
    assert render_report(empty_data()) == render_report(empty_data())


def test_render_does_not_mutate_input() -> None:
    data = rich_data()
    before = copy.deepcopy(data)
    render_report(data)
    assert data == before


def test_empty_report_renders() -> None:
    out = render_report(empty_data())
    for sid in SECTION_IDS:
        assert f'<section id="{sid}">' in out
    assert "<svg" not in out
    assert "No pods were sampled" in out
    assert "No nodes at the end of the run." in out
    assert "No workloads." in out


@pytest.mark.parametrize("data", [
    pytest.param({}, id="nothing"),
    pytest.param({"scenario": {"name": "x"}}, id="only-name"),
    pytest.param({"samples": {"t": [0.0, 10.0], "pods_by_phase": {"Running": [1, None]}}}, id="null-sample"),
    pytest.param({"samples": {"t": [0.0], "pods_by_phase": {"Running": [2]},
                              "nodes": {"n1": {"cpu_requested_milli": [100], "cpu_allocatable_milli": [1000]}}},
                  "nodes_final": [{"name": "n1"}]}, id="single-sample-partial-node"),
    pytest.param({"verdicts": [{"level": "bad", "text": "given <b>"}]}, id="given-verdicts"),
])
def test_partial_data_renders(data: dict[str, Any]) -> None:
    out = render_report(data)
    assert "</html>" in out


def test_given_verdicts_are_used_not_recomputed() -> None:
    out = render_report({"verdicts": [{"level": "bad", "text": "given <b>"}]})
    assert "given &lt;b&gt;" in out
    assert "No pods at the end" not in out


def test_many_nodes_aggregate_per_nodegroup() -> None:
    data = rich_data()
    base = data["nodes_final"][0]
    data["nodes_final"] = [dict(base, name=f"n{i:02d}", nodegroup=f"g{i % 3}") for i in range(45)]
    out = render_report(data)
    assert "aggregated per nodegroup" in out
    assert "g0 (15 nodes)" in out


# --------------------------------------------------------------------------- verdicts


def _phases(**final: int) -> dict[str, Any]:
    return {"samples": {"t": [0.0, 1.0], "pods_by_phase": {k: [0, v] for k, v in final.items()}}}


def _texts(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(v["level"], v["text"]) for v in compute_verdicts(data)]


@pytest.mark.parametrize(("data", "want"), [
    pytest.param(_phases(Running=14), ("ok", "All 14 pods Running"), id="all-running"),
    pytest.param(_phases(Running=1), ("ok", "All 1 pod Running"), id="one-pod"),
    pytest.param(_phases(Running=10, Succeeded=4), ("ok", "All 14 pods Running or Succeeded (10 Running, 4 Succeeded)"),
                 id="running-succeeded"),
    pytest.param(_phases(Running=11, Pending=3), ("warn", "11/14 pods Running (3 Pending)"), id="some-pending"),
    pytest.param(_phases(Running=11, Pending=2, Failed=1), ("bad", "11/14 pods Running (2 Pending, 1 Failed)"),
                 id="failed"),
    pytest.param({}, ("warn", "No pods at the end of the run"), id="no-pods"),
    pytest.param({"pending": [{"name": f"p{i}", "still_pending": True, "reason": "Unschedulable",
                               "message": "0/3 nodes are available: 3 Insufficient cpu. preemption: x"}
                              for i in range(3)]},
                 ("bad", "3 pods never scheduled (Insufficient cpu)"), id="never-scheduled"),
    pytest.param({"pending": [{"name": "p", "still_pending": True, "reason": "Unschedulable", "message": ""}]},
                 ("bad", "1 pod never scheduled (Unschedulable)"), id="never-scheduled-no-message"),
    pytest.param({"pending": [{"name": "p", "still_pending": False, "pending_seconds": 150.0}]},
                 ("warn", "1 pod waited over 1m to schedule (longest 2m30s)"), id="waited"),
    pytest.param({"nodes_final": [_node("ip-a", "g", "m5.large", "z", 1000, 970, GiB, 0, 10, 1)]},
                 ("warn", "node ip-a requests 97% of allocatable cpu"), id="hot-cpu"),
    pytest.param({"nodes_final": [_node("ip-a", "g", "m5.large", "z", 1000, 100, GiB, GiB, 10, 1)]},
                 ("warn", "node ip-a requests 100% of allocatable memory"), id="full-memory"),
    pytest.param({"nodes_final": [_node("ip-a", "g", "m5.large", "z", 1000, 998, GiB, 0, 10, 1)]},
                 ("warn", "node ip-a requests 99.8% of allocatable cpu"), id="nearly-full-not-rounded-up"),
    pytest.param({"nodes_final": [_node(f"n{i}", "g", "t", "z", 1000, 950, GiB, 0, 10, 1) for i in range(7)]},
                 ("warn", "7 nodes request ≥90% of allocatable cpu"), id="many-hot"),
    pytest.param({"nodes_final": [_node("ip-b", "g", "t", "z", 1000, 0, GiB, 0, 10, 0, ready=False)]},
                 ("bad", "1 node NotReady: ip-b"), id="not-ready"),
    pytest.param({"nodes_final": [_node("ip-c", "g", "t", "z", 2000, 500, 4 * GiB, GiB, 10, 0)]},
                 ("ok", "1/1 node Ready; cluster requests 25% cpu, 25% memory"), id="cluster-summary"),
    pytest.param({}, ("warn", "No nodes in the cluster"), id="no-nodes"),
    pytest.param({"workloads": [{"kind": "Deployment", "namespace": "default", "name": "web", "desired": 3,
                                 "available": 2, "status": "degraded"}]},
                 ("warn", "Deployment default/web has 2/3 available"), id="degraded"),
    pytest.param({"workloads": [{"kind": "StatefulSet", "namespace": "ml", "name": "db", "desired": 1,
                                 "available": 0, "status": "degraded"}]},
                 ("bad", "StatefulSet ml/db has 0/1 available"), id="none-available"),
    pytest.param({"workloads": [{"kind": "StatefulSet", "namespace": "ml", "name": "db", "desired": 2,
                                 "available": 0, "status": "progressing"}]},
                 ("warn", "StatefulSet ml/db has 0/2 available (progressing)"), id="progressing"),
    pytest.param({"workloads": [{"kind": "Job", "namespace": "batch", "name": "crunch", "desired": 10,
                                 "available": 3, "status": "progressing"}]},
                 ("warn", "Job batch/crunch has 3/10 completions (progressing)"), id="job-running"),
    pytest.param({"workloads": [{"kind": "Job", "namespace": "batch", "name": "crunch", "desired": 10,
                                 "available": 3, "status": "degraded"}]},
                 ("bad", "Job batch/crunch failed (3/10 completions)"), id="job-failed"),
    pytest.param({"workloads": [{"kind": "Deployment", "namespace": "a", "name": "b", "desired": 2,
                                 "available": 2, "status": "ok"}]},
                 ("ok", "All 1 workload fully available"), id="workloads-ok"),
    pytest.param({"events": {"warnings": [{"reason": "BackOff", "count": 4}, {"reason": "FailedScheduling"},
                                          {"reason": "OOMKilling", "count": 1}]}},
                 ("warn", "5 warning events: BackOff ×4, OOMKilling ×1"), id="warnings"),
])
def test_verdicts(data: dict[str, Any], want: tuple[str, str]) -> None:
    assert want in _texts(data)


def test_verdicts_ordered_bad_warn_ok() -> None:
    levels = [v["level"] for v in compute_verdicts(rich_data())]
    assert levels == sorted(levels, key=["bad", "warn", "ok"].index)
    assert levels[0] == "bad"


def test_rich_verdicts() -> None:
    texts = [v["text"] for v in compute_verdicts(rich_data())]
    assert "2 pods never scheduled (Insufficient cpu, node(s) didn't match Pod's node affinity/selector)" in texts
    assert "1 pod never scheduled (node(s) had untolerated taint {dedicated: gpu})" in texts
    assert "Deployment default/web has 2/3 available" in texts
    assert "node ip-10-0-1-17.ec2.internal requests 97% of allocatable cpu" in texts
    assert "1 node NotReady: ip-10-0-2-19.ec2.internal" in texts


def test_render_is_identical_across_processes() -> None:
    """Hash seeds and SVG ids must not leak into the output."""
    import hashlib
    import os
    import subprocess
    import sys

    script = ("import hashlib, sys; sys.path.insert(0, sys.argv[1]); from test_report import rich_data; "
              "from kubetwin.scenario.report import render_report; "
              "print(hashlib.sha256(render_report(rich_data()).encode()).hexdigest())")
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run([sys.executable, "-c", script, here], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == hashlib.sha256(render_report(rich_data()).encode()).hexdigest()
