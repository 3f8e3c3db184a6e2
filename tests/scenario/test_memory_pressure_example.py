"""examples/memory-pressure end to end through ``kubetwin.scenario.run.run``: BestEffort pods go
first, then the over-request Burstable pod; Guaranteed pods survive; replacements wait while the
node is tainted memory-pressure."""

from __future__ import annotations

from pathlib import Path

import orjson

from kubetwin.scenario.report import compute_verdicts
from kubetwin.scenario.run import run

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "memory-pressure"


def test_memory_pressure_story(tmp_path: Path) -> None:
    result = run(EXAMPLE, tmp_path)
    data = result.report_data
    evictions = data["evictions"]
    qos = [e["qos"] for e in evictions]
    assert qos and qos[0] == "BestEffort"
    assert "Guaranteed" not in qos
    first_burstable = qos.index("Burstable") if "Burstable" in qos else len(qos)
    assert qos[:first_burstable] == ["BestEffort"] * first_burstable and first_burstable >= 2
    assert all(e["message"].startswith("The node was low on resource: memory. Threshold quantity: ") for e in evictions)
    assert all(e["owner"].startswith("ReplicaSet/") for e in evictions)
    # one pod per synchronize: never two evictions at the same instant on the node
    assert len({(e["node"], e["t"]) for e in evictions}) == len(evictions)
    assert data["pressure"] and data["pressure"][0]["condition"] == "MemoryPressure"
    texts = [v["text"] for v in compute_verdicts(data)]
    assert any(t.startswith(f"{first_burstable} BestEffort pods evicted on node ") for t in texts)
    # the Guaranteed db pods are the original ones, still Running
    lines = [orjson.loads(x) for x in (tmp_path / "events.jsonl").read_bytes().splitlines()]
    db_failed = [x for x in lines if x.get("kind") == "Pod" and x["name"].startswith("db-")
                 and (x.get("fields") or {}).get("status.phase") == "Failed"]  # fmt: skip
    assert db_failed == []
    # evicted pods' replacements waited for the memory-pressure taint to go
    waits = [x for x in lines if (x.get("event") or {}).get("reason") == "FailedScheduling"]
    assert any("node.kubernetes.io/memory-pressure" in x["event"]["message"] for x in waits)
