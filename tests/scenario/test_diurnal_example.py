"""examples/diurnal-hpa-ca end to end through ``kubetwin run``'s code path (scenario.run.run).

The example's day is compressed so the test stays fast: the same manifests with the web traffic
(peak 1,000 req/s instead of 2,000) and the queue depth (peak 400 instead of 800) on a 3 h period (web: trough at 00:00, peak at 01:30, trough again at 03:00; the queue 15 minutes
earlier) and a 3h30m run, so the cluster autoscaler has time to remove the nodes of the evening. Everything else (HPAs, VPA, node groups, cluster autoscaler, PDBs, seed) is the example's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetwin.scenario.report import autoscaling_verdicts
from kubetwin.scenario.run import RunResult, run

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "diurnal-hpa-ca"
PERIOD = "3h"
P = 3 * 3600.0
RUN = "3h30m"


def _compress(src: Path, dst: Path) -> None:
    """Copy the example with both diurnal curves on a PERIOD cycle peaking at half of it."""
    for path in sorted(src.glob("*.yaml")):
        docs = list(yaml.safe_load_all(path.read_text()))
        for doc in docs:
            if not isinstance(doc, dict):
                continue
            spec = doc.get("spec") or {}
            shape = (spec.get("traffic") or spec.get("values") or {}).get("diurnal")
            if shape is not None:
                shape["period"] = PERIOD
                shape["peakAt"] = "01:30" if doc["kind"] == "LoadProfile" else "01:15"
                shape["peak"] = shape["peak"] // 2
        (dst / path.name).write_text(yaml.safe_dump_all(docs, sort_keys=False))


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    src = tmp_path_factory.mktemp("example")
    _compress(EXAMPLE, src)
    return run(src, out_dir=tmp_path_factory.mktemp("out"), duration=RUN)


def _series(values: list[Any]) -> list[int]:
    return [int(v) for v in values if v is not None]


def _at(result: RunResult, series: list[Any], start: float, end: float) -> list[int]:
    t = result.report_data["samples"]["t"]
    return [int(v) for ti, v in zip(t, series, strict=True) if v is not None and start <= ti <= end]


def test_example_files_are_the_documented_ones() -> None:
    assert sorted(p.name for p in EXAMPLE.iterdir()) == [
        "00-scenario.yaml", "01-nodegroups.yaml", "02-web.yaml", "03-workers.yaml", "README.md"]  # fmt: skip
    scenario = yaml.safe_load((EXAMPLE / "00-scenario.yaml").read_text())
    assert scenario["spec"]["duration"] == "24h" and scenario["spec"]["seed"] == 42


def test_hpa_scales_web_up_at_the_peak_and_down_after(result: RunResult) -> None:
    hpa = result.report_data["samples"]["hpa"]["shop/web"]
    night = _at(result, hpa["replicas"], 0, P / 8)
    peak = _at(result, hpa["replicas"], P * 3 / 8, P * 5 / 8)
    late = _at(result, hpa["replicas"], P, P + 1800)
    assert max(peak) >= 4 * max(night)
    assert max(late) < max(peak) / 2
    # the rps metric drives it, against its target of 50 per pod
    rps = hpa["metrics"]["http_requests_per_second"]
    assert set(_series(rps["target"])) == {50}
    assert max(v for v in rps["value"] if v is not None) > 40
    events = result.report_data["autoscaling"]["hpa_events"]
    assert any(e["hpa"] == "shop/web" and "pods metric http_requests_per_second above target" in e["message"]
               for e in events)  # fmt: skip
    assert any(e["hpa"] == "shop/web" and "All metrics below target" in e["message"] for e in events)


def test_worker_follows_the_external_queue_depth(result: RunResult) -> None:
    hpa = result.report_data["samples"]["hpa"]["shop/worker"]
    reps = _series(hpa["replicas"])
    assert max(reps) >= 30 and reps[-1] < max(reps) / 2
    assert set(_series(hpa["metrics"]["queue_depth"]["target"])) == {10}


def test_cluster_autoscaler_adds_spot_nodes_for_workers_and_removes_them(result: RunResult) -> None:
    groups = result.report_data["samples"]["nodegroups"]
    spot = _series(groups["spot-batch"])
    assert max(spot) >= 4 and spot[-1] < max(spot)
    assert max(_series(groups["general"])) > 2
    decisions = result.report_data["autoscaler"]["decisions"]
    assert any(d["reason"] == "ScaledUpGroup" and "spot-batch" in d["message"] for d in decisions)
    assert any(d["reason"] == "ScaleDown" for d in decisions)


def test_cost_has_on_demand_and_spot_parts(result: RunResult) -> None:
    cost = result.report_data["cost"]
    assert cost["on_demand_usd"] > 0 and cost["spot_usd"] > 0
    assert cost["total_usd"] == pytest.approx(cost["on_demand_usd"] + cost["spot_usd"], abs=1e-3)
    assert set(cost["by_group_usd"]) == {"general", "spot-batch"}


def test_vpa_recommends_for_web(result: RunResult) -> None:
    c = result.report_data["samples"]["vpa"]["shop/web"]["containers"]["app"]
    assert c["cpu_target_milli"][-1] > 0 and c["memory_target_bytes"][-1] > 0
    assert c["cpu_request_milli"][-1] == 500


def test_report_tells_the_story(result: RunResult) -> None:
    texts = [v["text"] for v in autoscaling_verdicts(result.report_data)]
    assert any(t.startswith("HPA shop/web scaled Deployment/web from ") and "on http_requests_per_second (target 50)"
               in t and ", back to " in t for t in texts), texts  # fmt: skip
    assert any(t.startswith("VPA shop/web [Off] recommends ") and "for web/app" in t for t in texts), texts
    assert any(t.startswith("Instance cost $") and "spot-batch" in t for t in texts), texts
    page = result.files["report"].read_text()
    for needle in ('id="autoscaling"', "HPA shop/web", "queue_depth", "VPA shop/web: container app",
                   "Pending-pod time", "Nodes per group"):  # fmt: skip
        assert needle in page

