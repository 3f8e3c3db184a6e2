from __future__ import annotations

import pytest

from builders import make_node, make_pod
from kubetwin.api.selectors import (
    field_value,
    label_selector_from_dict,
    parse_field_selector,
    parse_label_selector,
)

LABELS = {"app": "web", "tier": "front", "env": "a", "foo": "", "n": "5"}


@pytest.mark.parametrize(
    ("text", "labels", "matches", "string"),
    [
        pytest.param("", LABELS, True, "", id="empty-everything"),
        pytest.param("app=web", LABELS, True, "app=web", id="equals"),
        pytest.param("app==web", LABELS, True, "app==web", id="double-equals"),
        pytest.param("app!=web", LABELS, False, "app!=web", id="not-equals"),
        pytest.param("missing!=x", LABELS, True, "missing!=x", id="not-equals-missing"),
        pytest.param("env in (a,b)", LABELS, True, "env in (a,b)", id="in"),
        pytest.param("env in (b, a)", LABELS, True, "env in (a,b)", id="in-sorted"),
        pytest.param("env notin (x)", LABELS, True, "env notin (x)", id="notin"),
        pytest.param("missing notin (x)", LABELS, True, "missing notin (x)", id="notin-missing"),
        pytest.param("foo", LABELS, True, "foo", id="exists"),
        pytest.param("!foo", LABELS, False, "!foo", id="not-exists"),
        pytest.param("!bar", LABELS, True, "!bar", id="not-exists-missing"),
        pytest.param("n>4", LABELS, True, "n>4", id="gt"),
        pytest.param("n<5", LABELS, False, "n<5", id="lt"),
        pytest.param("app>1", LABELS, False, "app>1", id="gt-non-numeric-label"),
        pytest.param("foo=", LABELS, True, "foo=", id="empty-value"),
        pytest.param(
            "tier!=db,app=web,env in (a,b),!bar,foo",
            LABELS,
            True,
            "app=web,!bar,env in (a,b),foo,tier!=db",
            id="conjunction-sorted-by-key",
        ),
        pytest.param("app=web,tier=back", LABELS, False, "app=web,tier=back", id="conjunction-fails"),
        pytest.param("  app = web ", LABELS, True, "app=web", id="whitespace"),
        pytest.param(
            "example.com/role=x", {"example.com/role": "x"}, True, "example.com/role=x", id="prefixed-key"
        ),
        pytest.param("app=web", None, False, "app=web", id="none-labels"),
    ],
)
def test_label_selector(text: str, labels: dict | None, matches: bool, string: str) -> None:
    sel = parse_label_selector(text)
    assert sel.matches(labels) is matches
    assert str(sel) == string


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("app=web,", id="trailing-comma"),
        pytest.param(",app", id="leading-comma"),
        pytest.param("app in ()", id="in-empty"),
        pytest.param("app in a", id="in-no-paren"),
        pytest.param("app=a=b", id="double-op"),
        pytest.param("app x", id="bad-operator"),
        pytest.param("n>x", id="gt-non-int"),
        pytest.param("Bad_Key!/x=1", id="bad-key"),
        pytest.param("app=bad value", id="space-in-value"),
        pytest.param("app=-bad", id="bad-value"),
        pytest.param("!app=x", id="negated-with-op"),
    ],
)
def test_label_selector_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_label_selector(text)


@pytest.mark.parametrize(
    ("sel", "labels", "matches", "empty"),
    [
        pytest.param(None, {"a": "b"}, False, False, id="nil-nothing"),
        pytest.param(None, {}, False, False, id="nil-nothing-empty-labels"),
        pytest.param({}, {"a": "b"}, True, True, id="empty-everything"),
        pytest.param({"matchLabels": {"a": "b"}}, {"a": "b", "c": "d"}, True, False, id="match-labels"),
        pytest.param({"matchLabels": {"a": "b"}}, {"a": "x"}, False, False, id="match-labels-differs"),
        pytest.param(
            {"matchExpressions": [{"key": "a", "operator": "In", "values": ["x", "y"]}]},
            {"a": "y"},
            True,
            False,
            id="in",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["x"]}]},
            {},
            True,
            False,
            id="notin-missing",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {"a": ""}, True, False, id="exists"
        ),
        pytest.param(
            {"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]},
            {"a": ""},
            False,
            False,
            id="dne",
        ),
    ],
)
def test_label_selector_from_dict(sel: dict | None, labels: dict, matches: bool, empty: bool) -> None:
    s = label_selector_from_dict(sel)
    assert s.matches(labels) is matches
    assert s.empty is empty


@pytest.mark.parametrize(
    ("sel", "message"),
    [
        pytest.param(
            {"matchExpressions": [{"key": "a", "operator": "Foo"}]},
            '"Foo" is not a valid label selector operator',
            id="op",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "a", "operator": "In", "values": []}]},
            "values set can't be empty",
            id="in-empty",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
            "must be empty",
            id="exists-values",
        ),
    ],
)
def test_label_selector_from_dict_rejects(sel: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        label_selector_from_dict(sel)


RUNNING = (
    make_pod("a", "ns1").node("n1").phase("Running").set("spec.schedulerName", "default-scheduler").obj()
)
PENDING = make_pod("b", "ns2").phase("Pending").obj()
EVENT = {
    "kind": "Event",
    "metadata": {"name": "e", "namespace": "default"},
    "involvedObject": {"kind": "Pod", "name": "a", "namespace": "ns1", "uid": "u1"},
    "reason": "Scheduled",
    "type": "Normal",
    "source": {"component": "default-scheduler"},
}


@pytest.mark.parametrize(
    ("text", "obj", "matches"),
    [
        pytest.param("", RUNNING, True, id="empty"),
        pytest.param("spec.nodeName=n1", RUNNING, True, id="node-name"),
        pytest.param("spec.nodeName=", PENDING, True, id="unscheduled"),
        pytest.param("spec.nodeName=", RUNNING, False, id="scheduled-not-unscheduled"),
        pytest.param("spec.nodeName!=", RUNNING, True, id="scheduled"),
        pytest.param("status.phase==Running,metadata.namespace=ns1", RUNNING, True, id="and"),
        pytest.param("status.phase!=Running", PENDING, True, id="not-equal"),
        pytest.param("metadata.name=a,metadata.name=b", RUNNING, False, id="contradiction"),
        pytest.param("spec.schedulerName=default-scheduler", RUNNING, True, id="scheduler"),
        pytest.param("status.podIP=", RUNNING, True, id="no-ip"),
        pytest.param(
            "involvedObject.kind=Pod,involvedObject.name=a,involvedObject.uid=u1", EVENT, True, id="event"
        ),
        pytest.param("reason=Scheduled,type=Normal,source=default-scheduler", EVENT, True, id="event-reason"),
        pytest.param("spec.unschedulable=false", make_node("n").obj(), True, id="node-unschedulable-default"),
        pytest.param(
            "spec.unschedulable=true", make_node("n").unschedulable().obj(), True, id="node-unschedulable"
        ),
        pytest.param(r"metadata.name=a\,b", {"metadata": {"name": "a,b"}}, True, id="escaped-comma"),
    ],
)
def test_field_selector(text: str, obj: dict, matches: bool) -> None:
    assert parse_field_selector(text).matches(obj) is matches


@pytest.mark.parametrize(
    ("text", "string"),
    [
        pytest.param("b=1,a!=2", "a!=2,b=1", id="sorted"),
        pytest.param("a==1", "a=1", id="double-equals"),
        pytest.param(r"a=x\=y", r"a=x\=y", id="escape-roundtrip"),
    ],
)
def test_field_selector_string(text: str, string: str) -> None:
    assert str(parse_field_selector(text)) == string


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("nonsense", id="no-operator"),
        pytest.param("a=b=c", id="unescaped-equals"),
        pytest.param(r"a=\x", id="bad-escape"),
    ],
)
def test_field_selector_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_field_selector(text)


def test_field_value() -> None:
    assert field_value(RUNNING, "metadata.name") == "a"
    assert field_value(RUNNING, "spec.nope.deeper") == ""
    assert field_value({"spec": {"replicas": 3}}, "spec.replicas") == "3"
    assert field_value({"spec": {"x": True}}, "spec.x") == "true"


@pytest.mark.parametrize(
    "selector",
    ["app=web", "app==web", "app in (web,api)", "app=web,tier in (front)", "app=web,tier", "app=web,tier!=back", ""],
)
@pytest.mark.parametrize(
    "labels",
    [{}, None, {"app": "web"}, {"app": "api"}, {"app": "web", "tier": "front"}, {"app": "web", "tier": "back"},
     {"tier": "front"}, {"app": ""}],  # fmt: skip
)
def test_membership_selectors_match_as_their_requirements(selector: str, labels: dict[str, str] | None) -> None:
    """The per-(key, values) path that selectors of =, == and in requirements take agrees with the
    requirements' own matching (a missing key fails them all)."""
    sel = parse_label_selector(selector)
    assert sel.matches(labels) == all(r.matches(labels or {}) for r in sel.requirements)
