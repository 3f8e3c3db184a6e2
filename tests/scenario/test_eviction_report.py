"""Eviction and node-pressure verdicts and the report section."""

from __future__ import annotations

from typing import Any

import pytest

from kubetwin.scenario.report import eviction_verdicts, render_report


def _ev(t: float, name: str, qos: str, node: str = "n1", resource: str = "memory") -> dict[str, Any]:
    return {"t": t, "node": node, "namespace": "default", "name": name, "qos": qos, "resource": resource,
            "owner": "ReplicaSet/web-1", "message": "The node was low on resource: memory. "}  # fmt: skip


@pytest.mark.parametrize(
    ("evictions", "want"),
    [
        pytest.param([_ev(4320, "a", "BestEffort"), _ev(4320, "b", "BestEffort"), _ev(4320, "c", "BestEffort")],
                     [("warn", "3 BestEffort pods evicted on node n1 at 01:12 under memory pressure")], id="same-minute"),
        pytest.param([_ev(70, "a", "Burstable"), _ev(200, "b", "Burstable")],
                     [("warn", "2 Burstable pods evicted on node n1 from 00:01:10 to 00:03:20 under memory pressure")],
                     id="range"),
        pytest.param([_ev(60, "g", "Guaranteed", resource="ephemeral-storage")],
                     [("bad", "1 Guaranteed pod evicted on node n1 at 00:01 under disk pressure")], id="guaranteed-bad"),
    ],
)  # fmt: skip
def test_eviction_verdicts(evictions: list[dict[str, Any]], want: list[tuple[str, str]]) -> None:
    got = [(v["level"], v["text"]) for v in eviction_verdicts({"evictions": evictions})]
    assert got == want


def test_pressure_verdicts_and_section() -> None:
    data = {
        "evictions": [_ev(70, "a", "BestEffort")],
        "pressure": [
            {"node": "n1", "condition": "MemoryPressure", "start": 70, "end": 370, "seconds": 300, "ongoing": False},
            {"node": "n2", "condition": "DiskPressure", "start": 600, "end": 900, "seconds": 300, "ongoing": True},
        ],
    }
    texts = [v["text"] for v in eviction_verdicts(data)]
    assert "node n1 reported MemoryPressure from 00:01:10 for 5m" in texts[1]
    assert texts[2] == "node n2 reported DiskPressure from 00:10 until the end"
    html = render_report(data)
    assert 'id="evictions"' in html and "ReplicaSet/web-1" in html and "still under pressure" in html
