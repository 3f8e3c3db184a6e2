"""serve --start-time: the instant virtual time 0 stands for, kept by a data directory."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kubetwin.scenario.runtime import Cluster
from kubetwin.sim.loop import DEFAULT_EPOCH, parse_epoch


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("2026-03-04T05:06:07Z", datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC), id="zulu"),
        pytest.param("2026-03-04T07:06:07+02:00", datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC), id="offset"),
        pytest.param("2026-03-04T05:06:07", datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC), id="naive-is-utc"),
    ],
)
def test_parse_epoch(value: str, expected: datetime) -> None:
    assert parse_epoch(value) == expected


def test_parse_epoch_now_is_the_wall_clock_to_the_second() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    got = parse_epoch("now")
    assert before <= got <= datetime.now(UTC) and got.microsecond == 0


def test_parse_epoch_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="want 'now' or an RFC 3339 time"):
        parse_epoch("yesterday")


def test_timestamps_count_from_the_epoch() -> None:
    c = Cluster.for_serve(None, 1, datetime(2030, 6, 1, tzinfo=UTC))
    ns = c.client.get("namespaces", "default")
    assert ns["metadata"]["creationTimestamp"] == "2030-06-01T00:00:00Z"
    c.close()


def test_a_data_directory_keeps_its_epoch(tmp_path: Path) -> None:
    first = Cluster.for_serve(str(tmp_path), 1, datetime(2030, 6, 1, tzinfo=UTC))
    first.loop.advance(90)
    first.client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "default"}})
    first.store.put_meta("clock", first.loop.now)
    first.close()
    again = Cluster.for_serve(str(tmp_path), 1, datetime(2031, 1, 1, tzinfo=UTC))  # another --start-time: ignored
    assert again.restored and again.loop.epoch == datetime(2030, 6, 1, tzinfo=UTC)
    assert again.loop.timestamp() == "2030-06-01T00:01:30Z"
    assert again.client.get("configmaps", "x", "default")["metadata"]["creationTimestamp"] == "2030-06-01T00:01:30Z"
    again.close()


def test_the_default_epoch_is_fixed() -> None:
    c = Cluster.for_serve(None, 1)
    assert c.loop.epoch == DEFAULT_EPOCH
    c.close()


def test_cli_rejects_a_bad_start_time(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "kubetwin.cli.main", "serve", "--port", "0", "--start-time", "soon",
         "--kubeconfig", str(tmp_path / "kc")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 1
    assert out.stderr.strip() == (
        "error: invalid start time 'soon': want 'now' or an RFC 3339 time such as 2026-01-01T00:00:00Z"
    )
