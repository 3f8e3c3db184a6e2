"""LoadProfile validation: field paths and messages for each traffic shape and the perPod costs."""

from __future__ import annotations

from typing import Any

import pytest

from kubetwin.api.validation import validate


def _lp(spec: Any) -> dict[str, Any]:
    return {"apiVersion": "kubetwin.io/v1alpha1", "kind": "LoadProfile",
            "metadata": {"name": "web", "namespace": "default"}, "spec": spec}  # fmt: skip


SEL = {"matchLabels": {"app": "web"}}


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({"selector": SEL, "traffic": {"constant": {"rps": 10}}}, id="constant"),
        pytest.param({"selector": SEL, "traffic": {"steps": [{"at": "0s", "rps": 1}, {"at": "30m", "rps": 2.5}]}},
                     id="steps"),
        pytest.param({"selector": SEL, "traffic": {"ramp": {"from": 0, "to": 100, "over": "1h"}}}, id="ramp"),
        pytest.param({"selector": SEL, "traffic": {"diurnal": {"base": 1, "peak": 9, "peakAt": "14:00",
                                                               "period": "24h"}}}, id="diurnal"),
        pytest.param({"selector": SEL, "traffic": {"trace": {"csv": "time,rps\n0s,1\n1m,2", "column": "rps"}}},
                     id="trace-inline"),
        pytest.param({"selector": SEL, "traffic": {"trace": {"csv": "traces/shop.csv"}}}, id="trace-path"),
        pytest.param({"selector": SEL, "traffic": {"constant": {"rps": 1}}, "metrics": [{"name": "q"}],
                      "perPod": {"baseline": {"cpu": "50m", "memory": "128Mi"}, "cpuPerRequest": "2m",
                                 "memoryPerRps": "1Mi", "memoryLeakPerHour": "10Mi",
                                 "startup": {"cpu": "1", "duration": "30s"}}}, id="full"),
    ],
)  # fmt: skip
def test_valid(spec: Any) -> None:
    assert validate(_lp(spec)) == []


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        pytest.param({"traffic": {"constant": {"rps": 1}}}, "spec.selector", "Required value", id="no-selector"),
        pytest.param({"selector": SEL}, "spec.traffic", "Required value: must specify exactly one of", id="no-traffic"),
        pytest.param({"selector": SEL, "traffic": {"constant": {"rps": 1}, "ramp": {"over": "1m"}}}, "spec.traffic",
                     "must specify exactly one of", id="two-kinds"),
        pytest.param({"selector": SEL, "traffic": {"constant": {"rps": -1}}}, "spec.traffic.constant.rps",
                     "Invalid value: -1: must be greater than or equal to 0", id="negative-rps"),
        pytest.param({"selector": SEL, "traffic": {"constant": {"rps": "lots"}}}, "spec.traffic.constant.rps",
                     "must be of type number", id="rps-type"),
        pytest.param({"selector": SEL, "traffic": {"steps": [{"at": "soon", "rps": 1}]}}, "spec.traffic.steps[0].at",
                     "Invalid value: \"soon\"", id="step-duration"),
        pytest.param({"selector": SEL, "traffic": {"steps": []}}, "spec.traffic.steps", "at least one step",
                     id="no-steps"),
        pytest.param({"selector": SEL, "traffic": {"ramp": {"from": 1, "to": 2}}}, "spec.traffic.ramp.over",
                     "Required value", id="ramp-over"),
        pytest.param({"selector": SEL, "traffic": {"diurnal": {"base": 1, "peak": 2, "peakAt": "25:00"}}},
                     "spec.traffic.diurnal.peakAt", "must be a time of day", id="peak-at"),
        pytest.param({"selector": SEL, "traffic": {"diurnal": {"base": 5, "peak": 2, "peakAt": "12:00"}}},
                     "spec.traffic.diurnal.peak", "must be greater than or equal to `base`", id="peak-below-base"),
        pytest.param({"selector": SEL, "traffic": {"trace": {"csv": "time,rps\n0s,abc"}}}, "spec.traffic.trace.csv",
                     "data line 1: expected a time and a number", id="bad-csv"),
        pytest.param({"selector": SEL, "traffic": {"trace": {}}}, "spec.traffic.trace.csv", "Required value",
                     id="no-csv"),
        pytest.param({"selector": SEL, "traffic": {"constant": {"rps": 1}}, "perPod": {"cpuPerRequest": "2x"}},
                     "spec.perPod.cpuPerRequest", "Invalid value", id="bad-quantity"),
        pytest.param({"selector": SEL, "traffic": {"constant": {"rps": 1}},
                      "perPod": {"baseline": {"memory": "-1Gi"}}}, "spec.perPod.baseline.memory",
                     "must be greater than or equal to 0", id="negative-memory"),
        pytest.param({"selector": SEL, "traffic": {"constant": {"rps": 1}}, "perPod": {"startup": {"duration": "1m"}}},
                     "spec.perPod.startup.cpu", "Required value", id="startup-cpu"),
        pytest.param({"selector": {"matchLabels": {"app": "a b"}}, "traffic": {"constant": {"rps": 1}}},
                     "spec.selector.matchLabels", "Invalid value", id="bad-selector"),
    ],
)  # fmt: skip
def test_invalid(spec: Any, field: str, message: str) -> None:
    causes = validate(_lp(spec))
    assert any(c.field == field and message in c.message for c in causes), causes
