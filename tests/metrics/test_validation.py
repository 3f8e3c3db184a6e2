"""Admission of the metrics pipeline's inputs: ExternalMetricSeries, LoadProfile spec.metrics and
Scenario spec.metrics.resolution (422 causes with field paths)."""

from __future__ import annotations

from typing import Any

import pytest

from kubetwin.api.defaults import apply_defaults
from kubetwin.api.validation import validate

Obj = dict[str, Any]


def _series(spec: Obj) -> Obj:
    return {"apiVersion": "kubetwin.io/v1alpha1", "kind": "ExternalMetricSeries",
            "metadata": {"name": "q", "namespace": "default"}, "spec": spec}  # fmt: skip


def _profile(metrics: list[Obj]) -> Obj:
    return {"apiVersion": "kubetwin.io/v1alpha1", "kind": "LoadProfile", "metadata": {"name": "w", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "w"}}, "traffic": {"constant": {"rps": 1}},
                     "metrics": metrics}}  # fmt: skip


def _scenario(metrics: Obj) -> Obj:
    return {"apiVersion": "kubetwin.io/v1alpha1", "kind": "Scenario", "metadata": {"name": "s"},
            "spec": {"duration": "1h", "metrics": metrics}}  # fmt: skip


def _causes(obj: Obj) -> list[tuple[str, str]]:
    apply_defaults(obj)
    return [(c.field, c.message.split(":")[0]) for c in validate(obj)]


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(
            _series({"metricName": "queue_depth", "values": {"constant": {"value": 3}}}), [], id="series ok"
        ),
        pytest.param(
            _series({}),
            [("spec.metricName", "Required value"), ("spec.values", "Required value")],
            id="series required",
        ),  # fmt: skip
        pytest.param(
            _series({"metricName": "a/b", "values": {"constant": {"value": 1}}}),
            [("spec.metricName", "Invalid value")],
            id="series name with a slash",
        ),  # fmt: skip
        pytest.param(
            _series({"metricName": "q", "labels": {"q": "not valid!"}, "values": {"constant": {"value": 1}}}),
            [("spec.labels", "Invalid value")],
            id="series labels",
        ),  # fmt: skip
        pytest.param(
            _series({"metricName": "q", "values": {"steps": [{"at": "1m", "value": -1}]}}),
            [("spec.values.steps[0].value", "Invalid value")],
            id="series negative step",
        ),  # fmt: skip
        pytest.param(
            _series({"metricName": "q", "values": {"constant": {"value": 1}, "ramp": {}}}),
            [("spec.values", "Invalid value")],
            id="series two shapes",
        ),  # fmt: skip
        pytest.param(
            _series({"metricName": "q", "values": {"ramp": {"from": 0, "to": 5}}}),
            [("spec.values.ramp.over", "Required value")],
            id="series ramp without over",
        ),  # fmt: skip
        pytest.param(
            _profile(
                [
                    {"name": "rps", "type": "requestsPerSecond"},
                    {"name": "p95", "type": "latency", "base": "50ms", "max": "1s"},
                    {"name": "err", "type": "errorRate", "ratio": 0.01, "labels": {"code": "5xx"}},
                ]
            ),
            [],
            id="profile metrics ok",
        ),  # fmt: skip
        pytest.param(
            _profile([{"type": "latency"}, {"name": "x", "type": "bogus"}, {"name": "x", "type": "latency"}]),
            [
                ("spec.metrics[0].name", "Required value"),
                ("spec.metrics[1].type", "Unsupported value"),
                ("spec.metrics[2].name", "Duplicate value"),
            ],
            id="profile metric names and types",
        ),  # fmt: skip
        pytest.param(
            _profile([{"name": "p", "type": "latency", "base": "1s", "max": "10ms"}]),
            [("spec.metrics[0].max", "Invalid value")],
            id="latency max below base",
        ),  # fmt: skip
        pytest.param(
            _profile([{"name": "e", "type": "errorRate", "ratio": 1.5}]),
            [("spec.metrics[0].ratio", "Invalid value")],
            id="error ratio above 1",
        ),  # fmt: skip
        pytest.param(_scenario({"resolution": "30s"}), [], id="scenario resolution"),
        pytest.param(
            _scenario({"resolution": "0s"}),
            [("spec.metrics.resolution", "Invalid value")],
            id="scenario resolution zero",
        ),  # fmt: skip
    ],
)
def test_validation(obj: Obj, expected: list[tuple[str, str]]) -> None:
    assert _causes(obj) == expected


def test_series_defaults_labels() -> None:
    obj = _series({"metricName": "q", "values": {"constant": {"value": 1}}})
    apply_defaults(obj)
    assert obj["spec"]["labels"] == {}
