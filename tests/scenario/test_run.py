"""End to end: `kubetwin run` on the quickstart, determinism, and CLI error handling."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kubetwin.cli.main import main
from kubetwin.scenario.run import ScenarioError, run

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart"


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("qs")
    run(QUICKSTART, out, duration="30m")
    return out


def _items(out: Path) -> list[dict]:
    return yaml.safe_load((out / "state.yaml").read_text())["items"]


def test_outputs_written(quickstart: Path) -> None:
    for name in ("state.yaml", "events.jsonl", "report.html", "report.json"):
        assert (quickstart / name).stat().st_size > 0, name
    state = yaml.safe_load((quickstart / "state.yaml").read_text())
    assert state["kind"] == "List"
    for obj in state["items"]:
        meta = obj["metadata"]
        assert obj["apiVersion"] and obj["kind"]
        assert meta["uid"] and meta["resourceVersion"] and meta["creationTimestamp"]


def test_quickstart_story(quickstart: Path) -> None:
    items = _items(quickstart)
    nodes = [o for o in items if o["kind"] == "Node"]
    assert len(nodes) == 3
    pods = [o for o in items if o["kind"] == "Pod"]
    by_prefix: dict[str, list[dict]] = {}
    for p in pods:
        by_prefix.setdefault(p["metadata"]["name"].rsplit("-", 2)[0], []).append(p)
    web = [p for p in pods if p["metadata"].get("labels", {}).get("app") == "web"]
    assert len(web) == 4 and all(p["status"]["phase"] == "Running" for p in web)
    ds = [p for p in pods if p["metadata"].get("labels", {}).get("app") == "node-exporter"]
    assert sorted(p["spec"]["nodeName"] for p in ds) == sorted(n["metadata"]["name"] for n in nodes)
    big = [p for p in pods if p["metadata"].get("labels", {}).get("app") == "report-generator"]
    assert len(big) == 1 and big[0]["status"]["phase"] == "Pending"
    cond = [c for c in big[0]["status"]["conditions"] if c["type"] == "PodScheduled"][0]
    assert cond["status"] == "False" and "Insufficient cpu" in cond["message"]
    job = [o for o in items if o["kind"] == "Job"][0]
    assert job["status"].get("succeeded") == 3
    # Requests never exceed allocatable on any node.
    html = (quickstart / "report.html").read_text()
    assert "Insufficient cpu" in html


def test_same_seed_same_bytes(quickstart: Path, tmp_path: Path) -> None:
    run(QUICKSTART, tmp_path, duration="30m")
    for name in ("state.yaml", "events.jsonl", "report.json"):
        assert (tmp_path / name).read_bytes() == (quickstart / name).read_bytes(), name


def test_other_seed_other_names(quickstart: Path, tmp_path: Path) -> None:
    run(QUICKSTART, tmp_path, duration="30m", seed=99)
    assert (tmp_path / "state.yaml").read_bytes() != (quickstart / "state.yaml").read_bytes()


@pytest.mark.parametrize(
    ("files", "message"),
    [
        pytest.param(
            {"ng.yaml": "apiVersion: kubetwin.io/v1alpha1\nkind: NodeGroup\nmetadata: {name: g}\n"
             "spec: {instanceType: m5.lage, minSize: 1, maxSize: 1}\n"},
            'did you mean m5.large',
            id="unknown-instance-type",
        ),
        pytest.param({"x.yaml": "a: [1\n"}, "invalid YAML", id="bad-yaml"),
        pytest.param({"x.yaml": "apiVersion: v9\nkind: Gizmo\nmetadata: {name: g}\n"}, 'no matches for kind "Gizmo"', id="unknown-kind"),
        pytest.param(
            {"x.yaml": "apiVersion: kubetwin.io/v1alpha1\nkind: Scenario\nmetadata: {name: s}\nspec: {duration: soon}\n"},
            "invalid duration",
            id="bad-duration",
        ),
        pytest.param(
            {"x.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: Bad_Name}\nspec: {containers: [{name: c, image: i}]}\n"},
            "metadata.name: Invalid value",
            id="invalid-object",
        ),
    ],
)
def test_cli_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], files: dict[str, str], message: str
) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for name, text in files.items():
        (src / name).write_text(text)
    rc = main(["run", str(src), "--out", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 1
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert message in err


def test_cli_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert "kubetwin" in capsys.readouterr().out


def test_duration_flag_must_parse(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="invalid duration"):
        run(QUICKSTART, tmp_path, duration="forever")


def test_a_run_keeps_no_watch_window_and_serve_the_long_one() -> None:
    """Only in-process informers watch during a run, each from the list it just made: the store
    keeps no writes for resumed watches (old object versions would stay alive until they roll
    out), while serve keeps the default window. A watch from the current resourceVersion works."""
    from kubetwin.api.errors import ApiError
    from kubetwin.scenario.runtime import RUN_WATCH_HISTORY, Cluster
    from kubetwin.store.storage import DEFAULT_HISTORY

    assert RUN_WATCH_HISTORY == 0
    cluster = Cluster(seed=1)
    cluster.start()
    first = cluster.client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c0", "namespace": "default"}})
    cluster.client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1", "namespace": "default"}})
    with pytest.raises(ApiError) as e:
        cluster.registry.watch("configmaps", lambda ev: None, resource_version=first["metadata"]["resourceVersion"])
    assert e.value.code == 410
    seen: list[str] = []
    cluster.registry.watch("configmaps", lambda ev: seen.append(ev.object["metadata"]["name"]),
                           resource_version=str(cluster.store.resource_version))  # fmt: skip
    cluster.client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c2", "namespace": "default"}})
    assert seen == ["c2"]
    informer = cluster.informers.get("secrets")  # list + watch now, in a running cluster
    assert informer.started
    assert Cluster.for_serve().store._history.maxlen == DEFAULT_HISTORY
    cluster.close()


def test_state_file_has_node_leases_as_renewed(quickstart: Path) -> None:
    """A run's kubelets write their node leases only when read (the node lifecycle controller
    peeks without writing): state.yaml holds each lease at its last scheduled renewal (every 10 s,
    from the kubelet's start), as a cluster would have it at the end of the run."""
    leases = [o for o in _items(quickstart) if o["kind"] == "Lease" and o["metadata"]["namespace"] == "kube-node-lease"]
    assert leases
    for lease in leases:
        assert "2026-01-01T00:29:50" < lease["spec"]["renewTime"] <= "2026-01-01T00:30:00.000000Z"  # the last 10 s
