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
    name = event_name(base, now, seq)
    causes = validation.validate(_event(name, namespace))
    if metadata_valid(base, name, namespace):
        assert causes == []
    elif namespace in ("default", "kube-system") and 0 <= now and len(name) <= 253:
        assert causes != []  # it says "validate" only when validation has something to find


def test_events_about_objects_with_invalid_names_are_refused_as_before() -> None:
    loop = EventLoop()
    reg = Registry(Store(), loop, SeededRNG(1))
    reg.bootstrap()
    client = Client(reg)
    legacy = EventRecorder(client, "kubelet", host="n1")
    series = SeriesEventRecorder(client, "default-scheduler")
    pods = [{"kind": "Pod", "apiVersion": "v1", "metadata": {"name": name, "namespace": "default", "uid": name,
                                                             "resourceVersion": "1"}}
            for name in ("Bad_Name", "x" * 252, "ok")]  # fmt: skip
    for pod in pods:
        legacy.normal(pod, "Started", "Started container c")
    loop.run(until=1.0)  # the series recorder's names apart from the legacy one's
    for pod in pods:
        series.normal(pod, "Scheduled", "Binding", "Successfully assigned")
    stored = sorted((ev["involvedObject"]["name"], ev["reason"]) for ev in reg.store.iter("events"))
    assert stored == [("ok", "Scheduled"), ("ok", "Started")]
