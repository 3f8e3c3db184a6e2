"""`kubetwin run --cluster-autoscaler` end to end: report.json carries the cost and the
autoscaler's decisions, report.html a "Nodes and cost" section."""

from __future__ import annotations

from pathlib import Path

import yaml
from tests.autoscaler.conftest import deployment, nodegroup

from kubetwin.cli.main import main
from kubetwin.scenario.run import run


def _write(tmp: Path) -> Path:
    docs = [
        {"apiVersion": "kubetwin.io/v1alpha1", "kind": "Scenario", "metadata": {"name": "ca"},
         "spec": {"duration": "30m"}},
        nodegroup("general", minSize=1, maxSize=5),
        nodegroup("cheap", minSize=0, maxSize=5, capacityType="spot"),
        deployment("web", 4, cpu="1200m"),
    ]  # fmt: skip
    path = tmp / "scenario.yaml"
    path.write_text(yaml.safe_dump_all(docs), encoding="utf-8")
    return path


def test_run_with_cluster_autoscaler(tmp_path: Path) -> None:
    result = run(_write(tmp_path), tmp_path / "out", cluster_autoscaler=True)
    data = result.report_data
    groups = data["samples"]["nodegroups"]
    assert sum(v[-1] for v in groups.values()) == 4  # 1 start node + 3 for the pending pods
    cost = data["cost"]
    assert cost["total_usd"] > 0 and cost["total_usd"] == round(cost["on_demand_usd"] + cost["spot_usd"], 4)
    reasons = {d["reason"] for d in data["autoscaler"]["decisions"]}
    assert "ScaledUpGroup" in reasons
    html = result.files["report"].read_text(encoding="utf-8")
    assert "Nodes and cost" in html and "Cluster autoscaler decisions" in html


def test_cli_flag(tmp_path: Path) -> None:
    assert main(["run", str(_write(tmp_path)), "--out", str(tmp_path / "o"), "--no-progress",
                 "--cluster-autoscaler"]) == 0  # fmt: skip
    state = (tmp_path / "o" / "state.yaml").read_text(encoding="utf-8")
    assert "kind: ClusterAutoscaler" in state
