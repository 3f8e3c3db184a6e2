"""End to end: max pods ("Too many pods"), allocatable in state/report, and bad kubelet configs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetwin.cli.main import main
from kubetwin.scenario.run import run
from kubetwin.scenario.runtime import Cluster

ROOT = Path(__file__).resolve().parents[2]
ENI_LIMITS = ROOT / "examples" / "eni-limits"
TOO_MANY_PODS = "0/1 nodes are available: 1 Too many pods."


def _items(out: Path) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = yaml.safe_load((out / "state.yaml").read_text())["items"]
    return items


def _pods(items: list[dict[str, Any]], app: str) -> list[dict[str, Any]]:
    return [
        o
        for o in items
        if o["kind"] == "Pod"
        and app
        in (
            (o["metadata"].get("labels") or {}).get("app"),
            (o["metadata"].get("labels") or {}).get("k8s-app"),
        )
    ]


def _scheduled_condition(pod: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")


def _write(tmp: Path, docs: list[dict[str, Any]]) -> Path:
    src = tmp / "manifests"
    src.mkdir()
    (src / "all.yaml").write_text(yaml.safe_dump_all(docs))
    return src


def _nodegroup(**spec: Any) -> dict[str, Any]:
    body = {"instanceType": "c4.large", "minSize": 1, "maxSize": 1, "zones": ["us-east-1a"], **spec}
    return {
        "apiVersion": "kubetwin.io/v1alpha1",
        "kind": "NodeGroup",
        "metadata": {"name": "g"},
        "spec": body,
    }


def _deployment(replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "tiny", "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "tiny"}},
            "template": {
                "metadata": {"labels": {"app": "tiny"}},
                "spec": {
                    "containers": [
                        {"name": "c", "image": "busybox", "resources": {"requests": {"cpu": "1m"}}}
                    ]
                },
            },
        },
    }


@pytest.fixture(scope="module")
def eni_limits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("eni")
    run(ENI_LIMITS, out)
    return out


def test_eni_limits_example_30th_pod_pending(eni_limits: Path) -> None:
    items = _items(eni_limits)
    (node,) = [o for o in items if o["kind"] == "Node"]
    assert node["status"]["capacity"]["pods"] == "29" and node["status"]["allocatable"]["pods"] == "29"
    assert (
        node["status"]["allocatable"]["cpu"] == "1930m"
        and node["status"]["allocatable"]["memory"] == "3166Mi"
    )
    system = _pods(items, "aws-node") + _pods(items, "kube-proxy")
    assert [p["status"]["phase"] for p in system] == ["Running", "Running"]
    web = _pods(items, "web")
    assert len(web) == 30
    running = [p for p in web if p["status"]["phase"] == "Running"]
    pending = [p for p in web if p["status"]["phase"] == "Pending"]
    # 29 slots = 2 host-network system pods + 27 web replicas; the 30th pod onwards is Pending.
    assert (len(system) + len(running), len(pending)) == (29, 3)
    for p in pending:
        assert "nodeName" not in p["spec"]
        cond = _scheduled_condition(p)
        assert (cond["status"], cond["reason"]) == ("False", "Unschedulable")
        assert cond["message"].startswith(TOO_MANY_PODS)
    lines = [json.loads(line) for line in (eni_limits / "events.jsonl").read_text().splitlines()]
    events = [rec["event"] for rec in lines if "event" in rec]
    failed = {e["object"]["name"] for e in events if e["reason"] == "FailedScheduling"}
    assert failed == {p["metadata"]["name"] for p in pending}
    assert all(e["message"].startswith(TOO_MANY_PODS) for e in events if e["reason"] == "FailedScheduling")


def test_eni_limits_report_shows_reservations(eni_limits: Path) -> None:
    data = json.loads((eni_limits / "report.json").read_text())
    (node,) = data["nodes_final"]
    assert node["reserved"] == {
        "kube-reserved": {"cpu": "70m", "ephemeral-storage": "1Gi", "memory": "574Mi"},
        "system-reserved": {},
        "eviction-threshold": {"ephemeral-storage": "2146223340", "memory": "100Mi"},
    }
    html = (eni_limits / "report.html").read_text()
    assert "574Mi" in html and "Too many pods" in html


@pytest.mark.parametrize(
    ("spec", "running"),
    [
        pytest.param({}, 29, id="vpc-cni-c4.large-29"),
        pytest.param({"networking": {"mode": "aws-vpc-cni-prefix"}}, 29, id="prefix-ignored-on-xen"),
        pytest.param(
            {"instanceType": "c5.large", "networking": {"mode": "aws-vpc-cni-prefix"}}, 40, id="prefix-c5"
        ),
        pytest.param({"kubelet": {"maxPods": 35}}, 35, id="explicit-max-pods"),
    ],
)
def test_too_many_pods_through_the_cluster(spec: dict[str, Any], running: int) -> None:
    cluster = Cluster(seed=1)
    cluster.start()
    assert cluster.apply([("ng", _nodegroup(**spec)), ("deploy", _deployment(40))]) == []
    cluster.run(until=60.0)
    pods = _pods(list(cluster.store.iter("pods")), "tiny")
    cluster.close()
    phases = [p["status"]["phase"] for p in pods]
    assert (phases.count("Running"), phases.count("Pending")) == (running, 40 - running)
    for p in pods:
        if p["status"]["phase"] == "Pending":
            assert _scheduled_condition(p)["message"].startswith(TOO_MANY_PODS)


@pytest.mark.parametrize(
    ("kubelet", "field", "needle"),
    [
        pytest.param(
            {"kubeReserved": {"memory": "-512Mi"}},
            "spec.kubelet.kubeReserved[memory]",
            'resource quantity for "memory" cannot be negative',
            id="negative-reservation",
        ),
        pytest.param(
            {"evictionHard": {"memory.free": "100Mi"}},
            "spec.kubelet.evictionHard[memory.free]",
            "unsupported eviction signal memory.free",
            id="unknown-signal",
        ),
        pytest.param(
            {"evictionSoft": {"memory.available": "500Mi"}},
            "spec.kubelet.evictionSoftGracePeriod[memory.available]",
            "grace period must be specified for the soft eviction threshold memory.available",
            id="soft-without-grace",
        ),
    ],
)
def test_bad_kubelet_config_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kubelet: dict[str, Any], field: str, needle: str
) -> None:
    src = _write(tmp_path, [_nodegroup(kubelet=kubelet)])
    rc = main(["run", str(src), "--out", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 1
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: ")
    assert 'NodeGroup.kubetwin.io "g" is invalid: ' + field + ": " in err
    assert needle in err
