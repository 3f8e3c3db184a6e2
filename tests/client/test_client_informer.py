"""Informers (list+watch consistency, handler order, indexes), factory sharing, client verbs."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builders import make_pod
from kubetwin.api.errors import ApiError
from kubetwin.client import Client, Informer, InformerFactory
from kubetwin.sim import EventLoop, SeededRNG
from kubetwin.store import Registry, Store

Obj = dict[str, Any]


def _client() -> Client:
    reg = Registry(Store(), EventLoop(), SeededRNG(1))
    reg.bootstrap()
    return Client(reg)


@pytest.fixture
def client() -> Client:
    return _client()


def _pod(name: str, ns: str = "default") -> Obj:
    return make_pod(name, ns).container("c").obj()


def _store_view(client: Client) -> dict[str, str]:
    return {
        f"{o['metadata']['namespace']}/{o['metadata']['name']}": o["metadata"]["resourceVersion"]
        for o in client.registry.store.iter("pods")
    }


def _cache_view(inf: Informer) -> dict[str, str]:
    return {k: inf.get_by_key(k)["metadata"]["resourceVersion"] for k in inf.keys()}  # type: ignore[index]


_op = st.tuples(st.sampled_from(["create", "bind", "label", "delete", "grace", "final"]), st.integers(0, 7),
                st.sampled_from(["default", "kube-system"]))  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(st.lists(_op, max_size=40), st.integers(0, 40))
def test_informer_cache_equals_store_after_random_ops(ops: list[tuple[str, int, str]], start_at: int) -> None:
    client = _client()
    factory = InformerFactory(client.registry)
    inf: Informer | None = None
    by_node: dict[str, set[str]] = {}
    for i, (op, n, ns) in enumerate(ops):
        if i == start_at:  # the informer starts part-way: list, then watch from the list's rv
            inf = factory.get("pods")
            inf.add_index("node", lambda o: [o["spec"].get("nodeName") or ""])
        name = f"p{n}"
        try:
            if op == "create":
                client.create(_pod(name, ns))
            elif op == "bind":
                client.bind(ns, name, f"n{n % 3}")
            elif op == "label":
                client.patch("pods", name, {"metadata": {"labels": {"v": str(i)}}}, ns)
            elif op == "delete":
                client.delete("pods", name, ns)
            elif op == "grace":
                client.delete("pods", name, ns, grace_period_seconds=10)
            elif op == "final":
                client.delete("pods", name, ns, grace_period_seconds=0)
        except ApiError as e:
            assert e.code in (404, 409)
    inf = inf or factory.get("pods")
    if "node" not in inf._indexers:
        inf.add_index("node", lambda o: [o["spec"].get("nodeName") or ""])
    assert _cache_view(inf) == _store_view(client)
    for o in client.registry.store.iter("pods"):
        by_node.setdefault(o["spec"].get("nodeName") or "", set()).add(o["metadata"]["name"] + "@" + o["metadata"]["namespace"])
    got = {node: {o["metadata"]["name"] + "@" + o["metadata"]["namespace"] for o in inf.by_index("node", node)}
           for node in ["", "n0", "n1", "n2"]}  # fmt: skip
    assert {k: v for k, v in got.items() if v} == by_node
    for ns in ("default", "kube-system"):
        assert sorted(o["metadata"]["name"] for o in inf.list(ns)) == sorted(
            o["metadata"]["name"] for o in client.registry.store.iter("pods", ns)
        )


def test_handlers_called_in_order(client: Client) -> None:
    client.create(_pod("existing"))
    inf = InformerFactory(client.registry).get("pods")
    log: list[str] = []
    inf.add_handler(
        on_add=lambda o: log.append(f"add1:{o['metadata']['name']}"),
        on_update=lambda old, new: log.append(f"upd1:{new['metadata']['name']}"),
        on_delete=lambda o: log.append(f"del1:{o['metadata']['name']}"),
    )
    inf.add_handler(on_add=lambda o: log.append(f"add2:{o['metadata']['name']}"),
                    on_update=lambda old, new: log.append(f"upd2:{old['metadata'].get('labels')}"))  # fmt: skip
    client.create(_pod("a"))
    client.patch("pods", "a", {"metadata": {"labels": {"x": "1"}}}, "default")
    client.delete("pods", "a", "default")
    assert log == ["add1:existing", "add2:existing", "add1:a", "add2:a", "upd1:a", "upd2:None", "del1:a"]


def test_update_filters_skip_handlers_once_per_update(client: Client) -> None:
    """A handler's ``ignore`` filter keeps the updates it matches from it (``on_ignored`` gets them
    in its place); each distinct filter runs once per update; the cache sees every update."""
    client.create(_pod("a"))
    inf = InformerFactory(client.registry).get("pods")
    log: list[str] = []
    checks: list[str] = []

    def labels_only(old: Obj, new: Obj) -> bool:
        checks.append(new["metadata"]["resourceVersion"])
        return old.get("spec") == new.get("spec")

    inf.add_handler(on_update=lambda old, new: log.append("plain"))
    inf.add_handler(on_update=lambda old, new: log.append("f1"), ignore=labels_only)
    inf.add_handler(on_update=lambda old, new: log.append("f2"), ignore=labels_only,
                    on_ignored=lambda old, new: log.append("f2-ignored"))  # fmt: skip
    inf.add_handler(on_update=lambda old, new: log.append("last"))
    client.patch("pods", "a", {"metadata": {"labels": {"x": "1"}}}, "default")
    assert log == ["plain", "f2-ignored", "last"]
    assert len(checks) == 1
    assert inf.get("a", "default")["metadata"]["labels"] == {"x": "1"}  # type: ignore[index]
    log.clear()
    client.bind("default", "a", "n1")
    assert log == ["plain", "f1", "f2", "last"]
    assert len(checks) == 2
    with pytest.raises(ValueError):
        inf.add_handler(on_update=lambda old, new: None, on_ignored=lambda old, new: None)


def test_classified_handlers_get_only_updates_that_changed_what_they_read(client: Client) -> None:
    """``changes``/``reads``: a handler is called when ``changes(old, new) & reads`` (else its
    ``on_ignored``); each classifier runs once per update, beside the ignore filters."""
    client.create(_pod("a"))
    inf = InformerFactory(client.registry).get("pods")
    log: list[str] = []
    checks: list[int] = []

    def parts(old: Obj, new: Obj) -> int:
        checks.append(1)
        return (1 if old["metadata"].get("labels") != new["metadata"].get("labels") else 0) | (
            2 if old.get("spec") != new.get("spec") else 0
        )

    inf.add_handler(on_update=lambda old, new: log.append("labels"), changes=parts, reads=1)
    inf.add_handler(on_update=lambda old, new: log.append("spec"), changes=parts, reads=2,
                    on_ignored=lambda old, new: log.append("spec-ignored"))  # fmt: skip
    inf.add_handler(on_update=lambda old, new: log.append("both"), changes=parts, reads=3)
    inf.add_handler(on_update=lambda old, new: log.append("f"), ignore=lambda old, new: True)
    client.patch("pods", "a", {"metadata": {"labels": {"x": "1"}}}, "default")
    assert log == ["labels", "spec-ignored", "both"] and len(checks) == 1
    log.clear()
    client.bind("default", "a", "n1")
    assert log == ["spec", "both"] and len(checks) == 2
    with pytest.raises(ValueError):
        inf.add_handler(on_update=lambda old, new: None, ignore=lambda old, new: True, changes=parts, reads=1)


def test_namespace_lists_hand_out_the_current_versions(client: Client) -> None:
    """The namespace index holds keys: a list of a namespace (and its by_index) hands out the
    cached version of each object after updates, in the order the keys came, without the
    objects deleted."""
    inf = InformerFactory(client.registry).get("pods")
    for name in ("b", "a", "c"):
        client.create(_pod(name))
    client.create(_pod("x", "kube-system"))
    client.patch("pods", "a", {"metadata": {"labels": {"v": "2"}}}, "default")
    client.delete("pods", "c", "default", grace_period_seconds=0)
    got = inf.list("default")
    assert [p["metadata"]["name"] for p in got] == ["b", "a"]
    assert all(p is inf.get(p["metadata"]["name"], "default") for p in got)
    assert got[1]["metadata"]["labels"]["v"] == "2"
    assert inf.by_index("namespace", "default") == got
    assert [p["metadata"]["name"] for p in inf.list("kube-system")] == ["x"] and inf.list("none") == []


def test_a_classified_handler_ignores_updates_in_its_unless_state(client: Client) -> None:
    """``unless``: an update whose answer has one of these bits is ignored (``on_ignored`` gets
    it) even when a bit the handler reads changed; the same answer without them is not."""
    client.create(_pod("a"))
    inf = InformerFactory(client.registry).get("pods")
    log: list[str] = []

    def parts(old: Obj, new: Obj) -> int:  # 1: labels changed; 4: the old version had label "gone"
        return (1 if old["metadata"].get("labels") != new["metadata"].get("labels") else 0) | (
            4 if "gone" in (old["metadata"].get("labels") or {}) else 0
        )

    inf.add_handler(on_update=lambda old, new: log.append("live"), changes=parts, reads=1, unless=4,
                    on_ignored=lambda old, new: log.append("ignored"))  # fmt: skip
    inf.add_handler(on_update=lambda old, new: log.append("all"), changes=parts, reads=1)
    client.patch("pods", "a", {"metadata": {"labels": {"gone": "1"}}}, "default")
    assert log == ["live", "all"]
    log.clear()
    client.patch("pods", "a", {"metadata": {"labels": {"x": "1"}}}, "default")
    assert log == ["ignored", "all"]
    with pytest.raises(ValueError):
        inf.add_handler(on_update=lambda old, new: None, ignore=lambda old, new: False, unless=4)


@pytest.mark.parametrize("filtered", [False, True])
def test_update_handler_set_aside_keeps_its_place(client: Client, filtered: bool) -> None:
    """set_update_handler_live: a handler set aside gets no updates (with or without filters on
    the informer) until set live again, then is called in its registration place."""
    client.create(_pod("a"))
    inf = InformerFactory(client.registry).get("pods")
    log: list[str] = []

    def first(old: Obj, new: Obj) -> None:
        log.append("first")

    inf.add_handler(on_update=first)
    inf.set_update_handler_live(first, False)
    inf.add_handler(on_update=lambda old, new: log.append("second"))
    if filtered:
        inf.add_handler(on_update=lambda old, new: log.append("f"), ignore=lambda old, new: False)
    client.patch("pods", "a", {"metadata": {"labels": {"x": "1"}}}, "default")
    assert log == ["second"] + ["f"] * filtered
    log.clear()
    inf.set_update_handler_live(first, True)
    client.patch("pods", "a", {"metadata": {"labels": {"y": "1"}}}, "default")
    assert log == ["first", "second"] + ["f"] * filtered


def test_handlers_and_indexes_added_later_join_updates_with_answers_seen_before(client: Client) -> None:
    """Deliveries are planned once per distinct answers of the classifiers: adding a handler or
    an index drops the plans, so the next update with the same answers reaches it."""
    client.create(_pod("a"))
    inf = InformerFactory(client.registry).get("pods")
    log: list[str] = []

    def parts(old: Obj, new: Obj) -> int:
        return 1 if old["metadata"].get("labels") != new["metadata"].get("labels") else 0

    inf.add_handler(on_update=lambda old, new: log.append("first"), changes=parts, reads=1)
    client.patch("pods", "a", {"metadata": {"labels": {"x": "1"}}}, "default")
    inf.add_handler(on_update=lambda old, new: log.append("second"), changes=parts, reads=1)
    inf.add_index("x", lambda o: [o["metadata"].get("labels", {}).get("x", "")], changes=parts, bits=1)
    client.patch("pods", "a", {"metadata": {"labels": {"x": "2"}}}, "default")
    assert log == ["first", "first", "second"]
    assert [o["metadata"]["name"] for o in inf.by_index("x", "2")] == ["a"] and not inf.by_index("x", "1")
    client.patch("pods", "a", {"metadata": {"annotations": {"y": "1"}}}, "default")  # no bit: the index keeps "2"
    assert [o["metadata"]["annotations"] for o in inf.by_index("x", "2")] == [{"y": "1"}]


def test_a_handler_may_add_a_filtered_handler_while_an_update_is_delivered(client: Client) -> None:
    client.create(_pod("a"))
    inf = InformerFactory(client.registry).get("pods")
    log: list[str] = []

    def register(old: Obj, new: Obj) -> None:
        if not log:
            inf.add_handler(on_update=lambda o, n: log.append("late"), ignore=lambda o, n: False)
        log.append("first")

    inf.add_handler(on_update=register, ignore=lambda o, n: False)
    client.patch("pods", "a", {"metadata": {"labels": {"x": "1"}}}, "default")
    assert log == ["first", "late"]  # handlers added meanwhile are called, as without filters


def test_index_follows_updates_and_deletes(client: Client) -> None:
    inf = InformerFactory(client.registry).get("pods")
    inf.add_index("node", lambda o: [o["spec"].get("nodeName") or ""])
    for n in ("a", "b", "c"):
        client.create(_pod(n))
    client.bind("default", "a", "n1")
    client.bind("default", "b", "n1")

    def names(node: str) -> list[str]:
        return sorted(o["metadata"]["name"] for o in inf.by_index("node", node))

    assert (names("n1"), names("")) == (["a", "b"], ["c"])
    client.delete("pods", "a", "default", grace_period_seconds=0)
    assert names("n1") == ["b"]
    client.delete("pods", "b", "default")  # graceful: still on the node
    assert names("n1") == ["b"]
    client.delete("pods", "b", "default", grace_period_seconds=0)
    assert names("n1") == [] and "n1" not in inf._indices["node"]


def test_lister_get_and_cluster_scoped(client: Client) -> None:
    client.create(_pod("a", "kube-system"))
    pods = InformerFactory(client.registry).get("po")
    assert pods.get("a", "kube-system") is not None and pods.get("a", "default") is None
    nss = InformerFactory(client.registry).get("namespaces")
    assert nss.get("default") is not None and len(nss) == 4


def test_factory_shares_instances_and_stop(client: Client) -> None:
    f = InformerFactory(client.registry)
    a = f.get("pods")
    assert f.get("po") is a and f.get("pods") is a and f.get("nodes") is not a
    f.stop()
    assert not a.started
    client.create(_pod("late"))
    assert a.get("late", "default") is None


def test_client_verbs(client: Client) -> None:
    client.create(_pod("a"))
    assert client.get("pods", "a", "default")["metadata"]["name"] == "a"
    assert client.get_or_none("pods", "zz", "default") is None
    assert [p["metadata"]["name"] for p in client.list("pods", "default")] == ["a"]
    p = client.get("pods", "a", "default")
    p["status"]["phase"] = "Running"
    assert client.update_status(p)["status"]["phase"] == "Running"
    client.bind("default", "a", "n1")
    assert client.get("pods", "a", "default")["spec"]["nodeName"] == "n1"
    assert client.clock is client.registry.clock


def test_index_function_reads_each_version_once(client: Client) -> None:
    """An update computes the index values of the new version only (the cached version's are
    kept), and a key whose values change moves between buckets."""
    inf = InformerFactory(client.registry).get("pods")
    seen: list[str] = []

    def node_of(o: Obj) -> list[str]:
        seen.append(o["metadata"]["resourceVersion"])
        return [o["spec"].get("nodeName") or ""]

    client.create(_pod("a"))
    inf.add_index("node", node_of)
    assert len(seen) == 1
    client.bind("default", "a", "n1")
    client.patch("pods", "a", {"metadata": {"labels": {"x": "1"}}}, "default")
    assert len(seen) == 3 and len(set(seen)) == 3  # one call per version, never the old one again
    assert [o["metadata"]["labels"] for o in inf.by_index("node", "n1")] == [{"x": "1"}]
    assert inf.by_index("node", "") == []
    client.delete("pods", "a", "default", grace_period_seconds=0)
    assert len(seen) == 3 and "n1" not in inf._indices["node"]


def test_index_with_reads_skips_versions_that_share_the_part(client: Client) -> None:
    """``reads``: a version holding the same part as the cached one keeps its values; a new part
    (labels changed) is indexed again."""
    inf = InformerFactory(client.registry).get("pods")
    calls: list[str] = []

    def by_label(o: Obj) -> list[str]:
        calls.append(o["metadata"]["resourceVersion"])
        return [f"app={v}" for v in [(o["metadata"].get("labels") or {}).get("app")] if v]

    client.create(_pod("a"))
    inf.add_index("app", by_label, reads=lambda o: o["metadata"].get("labels"))
    assert len(calls) == 1
    client.bind("default", "a", "n1")  # labels shared with the previous version
    client.delete("pods", "a", "default", grace_period_seconds=30)
    assert len(calls) == 1 and inf.by_index("app", "") == []
    client.patch("pods", "a", {"metadata": {"labels": {"app": "web"}}}, "default")
    assert len(calls) == 2
    assert [o["spec"]["nodeName"] for o in inf.by_index("app", "app=web")] == ["n1"]
    client.delete("pods", "a", "default", grace_period_seconds=0)
    assert "app=web" not in inf._indices["app"] and "default/a" not in inf._parts["app"]


def test_index_with_ignore_skips_the_updates_its_filter_ignores(client: Client) -> None:
    """``ignore``: an update the filter ignores keeps the values without a look (even when it
    changed what the function reads: the filter vouches for it); any other update is indexed. The
    filter is asked once per update for the index and a handler that share it."""
    from kubetwin.client.informer import node_name_index

    inf = InformerFactory(client.registry).get("pods")
    calls: list[str] = []
    asked: list[str] = []

    def by_node(o: Obj) -> list[str]:
        calls.append(o["metadata"]["resourceVersion"])
        return node_name_index(o)

    def labelled(old: Obj, new: Obj) -> bool:  # "ignore the updates that set label skip"
        asked.append(new["metadata"]["resourceVersion"])
        return "skip" in (new["metadata"].get("labels") or {})

    client.create(_pod("a"))
    inf.add_index("node", by_node, ignore=labelled)
    inf.add_handler(on_update=lambda old, new: None, ignore=labelled)
    assert len(calls) == 1
    client.patch("pods", "a", {"metadata": {"labels": {"skip": "1"}}}, "default")
    client.bind("default", "a", "n1")  # ignored: the stale value stays
    assert len(calls) == 1 and len(asked) == 2 and inf.by_index("node", "n1") == []
    client.patch("pods", "a", {"metadata": {"labels": {"skip": None}}}, "default")
    assert len(calls) == 2 and [o["metadata"]["name"] for o in inf.by_index("node", "n1")] == ["a"]
    with pytest.raises(ValueError, match="not both"):
        inf.add_index("m", by_node, ignore=labelled, changes=lambda old, new: 1, bits=1)


def test_a_classifier_without_the_bits_read_is_refused(client: Client) -> None:
    """reads=0 / bits=0 would ignore every update, and an index reached only when a bit of its
    part changed has no use for a same-part ``reads``: both are mistakes, refused at once."""
    from kubetwin.api import podchanges as pc
    from kubetwin.client.informer import node_name_index, spec_of

    inf = Informer(client, "pods")
    with pytest.raises(ValueError, match="bits the handler reads"):
        inf.add_handler(on_update=lambda old, new: None, changes=pc.pod_changes)
    with pytest.raises(ValueError, match="no reads"):
        inf.add_index("n", node_name_index, changes=pc.pod_changes)
    with pytest.raises(ValueError, match="no reads"):
        inf.add_index("n", node_name_index, reads=spec_of, changes=pc.pod_changes, bits=pc.NODE)
    inf.add_index("n", node_name_index, changes=pc.pod_changes, bits=pc.NODE)  # as the callers do
