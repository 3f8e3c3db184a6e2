"""A kopf operator against `kubetwin serve`: it authenticates from the kubeconfig the server wrote,
watches, runs its handler on a new object and patches it (issue 4: "... and with kopf operators")."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("kopf")  # in the test extra; skipped only where it is not installed

OPERATOR = '''
import kopf

@kopf.on.create("configmaps")
def on_cm(name, namespace, patch, logger, **_):
    patch.metadata.annotations["seen-by"] = "kopf"
    logger.info(f"saw {namespace}/{name}")
'''

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: demo, namespace: default}\ndata: {a: b}\n"


def test_kopf_handler_runs_and_patches(served_cluster: Any, tmp_path: Path) -> None:
    op = tmp_path / "op.py"
    op.write_text(OPERATOR)
    env = dict(os.environ, KUBECONFIG=str(served_cluster.kubeconfig), HOME=str(tmp_path))
    proc = subprocess.Popen(
        [sys.executable, "-m", "kopf", "run", str(op), "--standalone", "-A"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        manifest = tmp_path / "cm.yaml"
        manifest.write_text(CM)
        served_cluster.kubectl("apply", "-f", str(manifest))
        annotations: dict[str, str] = {}
        deadline = time.monotonic() + 30  # bounded wait for the operator's patch (not a timing assertion)
        while time.monotonic() < deadline:
            cm = served_cluster.api("GET", "/api/v1/namespaces/default/configmaps/demo").body
            annotations = (cm.get("metadata") or {}).get("annotations") or {}
            if annotations.get("seen-by") == "kopf":
                break
            time.sleep(0.2)
        assert annotations.get("seen-by") == "kopf"
        assert "kopf.zalando.org/last-handled-configuration" in annotations
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert "Handler 'on_cm' succeeded" in out, out[-2000:]
