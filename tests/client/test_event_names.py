"""The recorders' event names (util.GenerateEventName) and their validation answered without
running it: ``metadata_valid`` must agree with validation wherever it says an Event passes, and
the events recorded about an object with an invalid name are still refused."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kubetwin.api import validation
from kubetwin.client import Client
from kubetwin.client.events import EventRecorder, event_name, metadata_valid
from kubetwin.client.eventseries import SeriesEventRecorder
from kubetwin.sim import EventLoop, SeededRNG
from kubetwin.store import Registry, Store

_NAME_CHARS = st.sampled_from("abz09-.A_")


def _event(name: str, namespace: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": namespace}}


@given(
    base=st.one_of(st.text(_NAME_CHARS, max_size=12), st.text(_NAME_CHARS, min_size=230, max_size=250)),
    namespace=st.one_of(st.sampled_from(["default", "kube-system"]), st.text(_NAME_CHARS, max_size=8)),
    now=st.one_of(st.floats(0, 1e6), st.floats(-10, 0)),
    seq=st.integers(0, 10**6),
)
def test_metadata_valid_never_passes_what_validation_refuses(base: str, namespace: str, now: float, seq: int) -> None:
    name = event_name(base, int(now * 1e9) + seq)
    causes = validation.validate(_event(name, namespace))
    if metadata_valid(base, name, namespace):
        assert causes == []
    elif namespace in ("default", "kube-system") and 0 <= now and len(name) <= 253:
        assert causes != []  # it says "validate" only when validation has something to find


def _recorders() -> tuple[EventLoop, Registry, EventRecorder, SeriesEventRecorder]:
    """A registry with a kubelet's (legacy) recorder and the scheduler's (series) recorder."""
    loop = EventLoop()
    reg = Registry(Store(), loop, SeededRNG(1))
    reg.bootstrap()
    client = Client(reg)
    return loop, reg, EventRecorder(client, "kubelet", host="n1"), SeriesEventRecorder(client, "default-scheduler")


def test_events_about_objects_with_invalid_names_are_refused_as_before() -> None:
    loop, reg, legacy, series = _recorders()
    pods = [{"kind": "Pod", "apiVersion": "v1", "metadata": {"name": name, "namespace": "default", "uid": name,
                                                             "resourceVersion": "1"}}
            for name in ("Bad_Name", "x" * 252, "ok")]  # fmt: skip
    for pod in pods:
        legacy.normal(pod, "Started", "Started container c")
    loop.run(until=1.0)
    for pod in pods:
        series.normal(pod, "Scheduled", "Binding", "Successfully assigned")
    stored = sorted((ev["involvedObject"]["name"], ev["reason"]) for ev in reg.store.iter("events"))
    assert stored == [("ok", "Scheduled"), ("ok", "Started")]


def test_recorders_never_share_a_name() -> None:
    """Event names carry the time in nanoseconds, unique among the registry's events: two
    recorders writing about one object at one virtual instant both get their event stored (with
    a name per recorder and instant they collided, and the second create failed)."""
    loop, reg, legacy, series = _recorders()
    pod = {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "web", "namespace": "default", "uid": "u1",
                                                           "resourceVersion": "1"}}  # fmt: skip
    loop.run(until=2.0)
    series.normal(pod, "Scheduled", "Binding", "Successfully assigned default/web to n1")
    legacy.normal(pod, "Pulling", 'Pulling image "nginx"')
    legacy.normal(pod, "Pulled", 'Successfully pulled image "nginx"')
    names = sorted((ev["metadata"]["name"], ev["reason"]) for ev in reg.store.iter("events"))
    start = 1_767_225_602 * 10**9  # 2026-01-01T00:00:02Z in Unix nanoseconds
    assert names == [(f"web.{start:x}", "Scheduled"), (f"web.{start + 1:x}", "Pulling"), (f"web.{start + 2:x}", "Pulled")]
    assert reg.event_stamp(1.0) == start + 3  # never back
