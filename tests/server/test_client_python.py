"""End-to-end: the official Python ``kubernetes`` client against ``kubetwin serve`` (list, watch with
resource_version and timeout, create, patch strategic/merge/json, delete, the scale subresource),
loaded from the kubeconfig the server wrote (kopf: test_client_kopf.py)."""

from __future__ import annotations

from typing import Any

import pytest

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client, config, watch  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402


def deployment(name: str, replicas: int = 2) -> client.V1Deployment:
    labels = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(
                    containers=[
                        client.V1Container(
                            name="app",
                            image="nginx:1.27",
                            env=[client.V1EnvVar(name="A", value="1")],
                            resources=client.V1ResourceRequirements(requests={"cpu": "100m", "memory": "64Mi"}),
                        )
                    ]
                ),
            ),
        ),
    )


@pytest.fixture
def apis(served_cluster: Any) -> Any:
    api_client = config.new_client_from_config(config_file=str(served_cluster.kubeconfig))
    yield served_cluster, client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    api_client.close()


def test_list_nodes_and_version(apis: Any) -> None:
    s, core, _ = apis
    nodes = core.list_node()
    assert len(nodes.items) == 3
    assert all(n.status.node_info.kubelet_version == "v1.32.0" for n in nodes.items)
    ready = {c.type: c.status for n in nodes.items for c in n.status.conditions}
    assert ready["Ready"] == "True"
    info = client.VersionApi(core.api_client).get_code()
    assert info.git_version.startswith("v1.32.") and info.minor == "32"


def test_create_list_with_selectors_and_pagination(apis: Any) -> None:
    s, core, apps = apis
    created = apps.create_namespaced_deployment("default", deployment("web", replicas=3))
    assert created.metadata.uid and created.metadata.generation == 1
    s.advance("30s")
    pods = core.list_namespaced_pod("default", label_selector="app=web")
    assert len(pods.items) == 3 and {p.status.phase for p in pods.items} == {"Running"}
    first = core.list_namespaced_pod("default", label_selector="app=web", limit=2)
    assert len(first.items) == 2 and first.metadata._continue
    rest = core.list_namespaced_pod("default", label_selector="app=web", limit=2, _continue=first.metadata._continue)
    assert len(rest.items) == 1 and not rest.metadata._continue
    names = {p.metadata.name for p in first.items + rest.items}
    assert names == {p.metadata.name for p in pods.items}
    node = pods.items[0].spec.node_name
    on_node = core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node},status.phase!=Failed")
    assert {p.metadata.name for p in on_node.items} == {p.metadata.name for p in pods.items if p.spec.node_name == node}
    with pytest.raises(ApiException) as e:
        apps.create_namespaced_deployment("default", deployment("web"))
    assert e.value.status == 409 and '"reason":"AlreadyExists"' in e.value.body.replace(" ", "")


def test_watch_from_resource_version_with_timeout(apis: Any) -> None:
    s, core, _ = apis
    cms = core.list_namespaced_config_map("default")
    rv = cms.metadata.resource_version
    core.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="a"), data={"k": "1"}))
    core.patch_namespaced_config_map("a", "default", {"data": {"k": "2"}})
    core.delete_namespaced_config_map("a", "default")
    w = watch.Watch()
    events = []
    # only changes after rv; the server ends the stream after timeout_seconds, which ends the loop
    for ev in w.stream(core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=1):
        events.append((ev["type"], ev["object"].metadata.name, (ev["object"].data or {}).get("k")))
    assert events == [("ADDED", "a", "1"), ("MODIFIED", "a", "2"), ("DELETED", "a", "2")]
    # a watch from the list's resourceVersion sees no old events
    now = core.list_namespaced_config_map("default").metadata.resource_version
    assert list(w.stream(core.list_namespaced_config_map, "default", resource_version=now, timeout_seconds=1)) == []
    # (410 Gone for an expired resourceVersion: test_api; this client re-lists on its first 410 by itself)


def test_patch_strategic_merge_and_json(apis: Any) -> None:
    s, _, apps = apis
    apps.create_namespaced_deployment("default", deployment("api"))
    # strategic (the client's default for dict bodies): containers merge by name, env by name (a new
    # item without $setElementOrder goes after the existing ones)
    smp = {"spec": {"template": {"spec": {"containers": [{"name": "app", "env": [{"name": "B", "value": "2"}]}]}}}}
    d = apps.patch_namespaced_deployment("api", "default", smp)
    c = d.spec.template.spec.containers
    assert len(c) == 1 and c[0].image == "nginx:1.27"
    assert [(e.name, e.value) for e in c[0].env] == [("A", "1"), ("B", "2")]
    assert d.metadata.generation == 2
    # JSON merge patch replaces lists wholesale
    merge = {"metadata": {"labels": {"tier": "backend"}},
             "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.28"}]}}}}  # fmt: skip
    d = apps.patch_namespaced_deployment("api", "default", merge, _content_type="application/merge-patch+json")
    assert d.metadata.labels == {"app": "api", "tier": "backend"}
    assert [(x.name, x.image, x.env) for x in d.spec.template.spec.containers] == [("app", "nginx:1.28", None)]
    # JSON patch (a list body)
    d = apps.patch_namespaced_deployment("api", "default", [{"op": "replace", "path": "/spec/replicas", "value": 4}])
    assert d.spec.replicas == 4
    with pytest.raises(ApiException) as e:
        apps.patch_namespaced_deployment("api", "default", [{"op": "test", "path": "/spec/replicas", "value": 5}])
    assert e.value.status in (409, 422)


def test_scale_subresource(apis: Any) -> None:
    s, core, apps = apis
    apps.create_namespaced_deployment("default", deployment("web", replicas=2))
    s.advance("30s")
    scale = apps.read_namespaced_deployment_scale("web", "default")
    assert (scale.spec.replicas, scale.status.replicas, scale.status.selector) == (2, 2, "app=web")
    out = apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 5}})
    assert out.spec.replicas == 5
    s.advance("30s")
    assert len(core.list_namespaced_pod("default", label_selector="app=web").items) == 5
    scale = apps.read_namespaced_deployment_scale("web", "default")
    scale.spec.replicas = 1
    assert apps.replace_namespaced_deployment_scale("web", "default", scale).spec.replicas == 1
    stale = apps.read_namespaced_deployment_scale("web", "default")
    stale.metadata.resource_version = "1"
    with pytest.raises(ApiException) as e:
        apps.replace_namespaced_deployment_scale("web", "default", stale)
    assert e.value.status == 409


def test_delete_with_propagation_and_preconditions(apis: Any) -> None:
    s, core, apps = apis
    apps.create_namespaced_deployment("default", deployment("web", replicas=2))
    s.advance("30s")
    d = apps.read_namespaced_deployment("web", "default")
    with pytest.raises(ApiException) as e:
        apps.delete_namespaced_deployment(
            "web", "default", body=client.V1DeleteOptions(preconditions=client.V1Preconditions(uid="wrong"))
        )
    assert e.value.status == 409
    apps.delete_namespaced_deployment(
        "web", "default",
        body=client.V1DeleteOptions(propagation_policy="Foreground", preconditions=client.V1Preconditions(uid=d.metadata.uid)),
    )  # fmt: skip
    pending = apps.read_namespaced_deployment("web", "default")
    assert pending.metadata.finalizers == ["foregroundDeletion"] and pending.metadata.deletion_timestamp
    s.advance("60s")
    with pytest.raises(ApiException) as e:
        apps.read_namespaced_deployment("web", "default")
    assert e.value.status == 404
    assert core.list_namespaced_pod("default", label_selector="app=web").items == []
    assert apps.list_namespaced_replica_set("default", label_selector="app=web").items == []
