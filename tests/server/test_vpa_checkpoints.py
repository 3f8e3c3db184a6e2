"""``kubectl get verticalpodautoscalercheckpoints`` over ``kubetwin serve``: the recommender's
checkpoints are ordinary namespaced objects (short name ``vpacheckpoint``)."""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest
import yaml

KUBECTL = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not on PATH")

MANIFEST = {"apiVersion": "v1", "kind": "List", "items": [
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
     "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
              "template": {"metadata": {"labels": {"app": "web"}},
                           "spec": {"containers": [{"name": "app", "image": "nginx",
                                                    "resources": {"requests": {"cpu": "100m"}}}]}}}},
    {"apiVersion": "autoscaling.k8s.io/v1", "kind": "VerticalPodAutoscaler",
     "metadata": {"name": "web", "namespace": "default"},
     "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
              "updatePolicy": {"updateMode": "Off"}}},
]}  # fmt: skip


@KUBECTL
def test_kubectl_lists_the_recommenders_checkpoints(served_cluster: Any, tmp_path: Any) -> None:
    path = tmp_path / "vpa.yaml"
    path.write_text(yaml.safe_dump_all(MANIFEST["items"]))
    served_cluster.kubectl("apply", "-f", str(path))
    served_cluster.advance("3m")
    out = served_cluster.kubectl("get", "verticalpodautoscalercheckpoints", "-n", "default").stdout
    assert out.splitlines()[0].split()[:2] == ["NAME", "AGE"]
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["web-app"]
    cp = json.loads(served_cluster.kubectl("get", "vpacheckpoint", "web-app", "-o", "json").stdout)
    assert cp["spec"] == {"containerName": "app", "vpaObjectName": "web"}
    assert cp["status"]["version"] == "v3" and cp["status"]["totalSamplesCount"] >= 2
    assert list(cp["status"]["cpuHistogram"]["bucketWeights"].values()) == [10000]
