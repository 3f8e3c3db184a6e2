"""Durability of ``kubetwin serve --data-dir`` (issue 4 scope 10): a write the server acknowledged
survives ``kill -9``. The server runs in a subprocess; a writer creates ConfigMaps over HTTP as
fast as it can while the test SIGKILLs the server mid-stream; a second server on the same
directory must hold every object whose create got a 201 (objects in flight may or may not be).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

ACKED_BEFORE_KILL = 150  # kill once this many creates were acknowledged
MAX_OBJECTS = 2000  # the writer would stop here (it never gets there)


def start(data_dir: Path, tmp: Path) -> tuple[subprocess.Popen[str], tuple[str, int]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubetwin.cli.main", "serve", "--port", "0", "--speed", "0",
         "--data-dir", str(data_dir), "--kubeconfig", str(tmp / "kubeconfig")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()  # "kubetwin serving Kubernetes v1.32.0 at http://127.0.0.1:PORT (...)"
    if " at http://" not in line:
        proc.kill()
        raise AssertionError(f"serve did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}")
    host_port = line.split(" at http://", 1)[1].split()[0]
    host, port = host_port.rsplit(":", 1)
    return proc, (host, int(port))


def request(conn: http.client.HTTPConnection, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
    resp = conn.getresponse()
    return resp.status, json.loads(resp.read())


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="kill -9")
def test_every_acknowledged_write_survives_kill_9(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc, addr = start(data, tmp_path)
    acked: list[str] = []
    enough = threading.Event()
    failures: list[str] = []

    def writer() -> None:
        conn = http.client.HTTPConnection(*addr, timeout=30)
        try:
            for i in range(MAX_OBJECTS):
                name = f"cm-{i:05d}"
                body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"i": str(i)}}
                status, reply = request(conn, "POST", "/api/v1/namespaces/default/configmaps", body)
                if status != 201:
                    failures.append(f"{name}: {status} {reply}")
                    return
                acked.append(name)
                if len(acked) >= ACKED_BEFORE_KILL:
                    enough.set()
        except (OSError, http.client.HTTPException):
            pass  # the server died mid-request: that write is not acknowledged
        finally:
            enough.set()

    t = threading.Thread(target=writer)
    t.start()
    assert enough.wait(120)
    proc.send_signal(signal.SIGKILL)  # mid-stream: the writer is still sending
    proc.wait(30)
    t.join(60)
    assert not failures, failures[:3]
    assert proc.returncode == -signal.SIGKILL
    assert len(acked) >= ACKED_BEFORE_KILL

    proc2, addr2 = start(data, tmp_path)
    try:
        conn = http.client.HTTPConnection(*addr2, timeout=30)
        status, listed = request(conn, "GET", "/api/v1/namespaces/default/configmaps?labelSelector=")
        assert status == 200
        stored = {o["metadata"]["name"]: o for o in listed["items"]}
        missing = [n for n in acked if n not in stored]
        assert missing == [], f"{len(missing)} acknowledged creates lost, e.g. {missing[:5]}"
        assert all(stored[n]["data"]["i"] == str(int(n[3:])) for n in acked)
        # at most the one request in flight got in without its 201 reaching the writer
        assert len([n for n in stored if n.startswith("cm-")]) <= len(acked) + 1
        # the restarted server keeps writing on top: resourceVersions continue upward
        last_rv = max(int(stored[n]["metadata"]["resourceVersion"]) for n in acked)
        status, created = request(conn, "POST", "/api/v1/namespaces/default/configmaps",
                                  {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "after"}})  # fmt: skip
        assert status == 201 and int(created["metadata"]["resourceVersion"]) > last_rv
        conn.close()
    finally:
        proc2.send_signal(signal.SIGTERM)
        try:
            proc2.wait(30)
        except subprocess.TimeoutExpired:
            proc2.kill()
