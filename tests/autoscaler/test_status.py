"""The status ConfigMap's text (autoscaler/status.py render): written out for the status's shape,
it must be what PyYAML writes, for any names, counts, times and backoff messages (the tricky
ones, that PyYAML quotes or wraps, go through PyYAML)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kubetwin.autoscaler import status

NAMES = ["general", "web-spot", "yes", "on", "null", "true", "123", "1e3", "0x1f", "a.b", "a:b", "y", "NaN",
         "2026-01-01", "g_1", "a b", "#x", "-a", "x" * 90]  # fmt: skip
MESSAGES = ["Nodes added to group slow failed to register within 15m0s", "timeout", "no", "it's", "a: b # c",
            "word " * 30, ""]  # fmt: skip
TIMES = ["2026-01-01T00:00:10Z", "2026-11-29T23:59:59Z"]

counts = st.builds(status.Counts, st.integers(0, 2000), st.integers(0, 50), st.integers(0, 50), st.integers(0, 5),
                   st.integers(0, 50))  # fmt: skip
group = st.builds(
    status.GroupStatus, st.sampled_from(NAMES), counts, st.integers(0, 2000), st.integers(0, 10), st.integers(0, 3000),
    st.sampled_from([status.NO_ACTIVITY, status.IN_PROGRESS, status.BACKOFF]),
    st.one_of(st.none(), st.tuples(st.sampled_from(MESSAGES), st.sampled_from(MESSAGES))), st.integers(0, 40),
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(groups=st.lists(group, max_size=4), scale_up=st.sampled_from([status.NO_ACTIVITY, status.IN_PROGRESS]),
       times=st.lists(st.sampled_from(TIMES), min_size=1, max_size=3))  # fmt: skip
def test_render_is_pyyamls_text(groups: list[status.GroupStatus], scale_up: str, times: list[str]) -> None:
    writer = status.StatusWriter()
    for now in times:  # (transition times kept from earlier documents)
        doc = writer.document(groups, scale_up, now)
        assert status.render(doc) == yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


def test_render_falls_back_for_other_shapes() -> None:
    doc: dict[str, Any] = {"a": [1, 2], "b": {"c": None}, "d": True, "e": [], "f": {}, "g": [{"h": "i j"}]}
    assert status.render(doc) == yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)
    assert not status._block({"a": [1]}, "", []) and not status._block({"a": 1.5}, "", [])


def test_status_shape_is_written_out_here() -> None:
    """The usual document (simple names, no backoff message with spaces) does not go through PyYAML."""
    writer = status.StatusWriter()
    doc = writer.document([status.GroupStatus("web-spot", status.Counts(ready=3), 3, 1, 10)], status.IN_PROGRESS,
                          TIMES[0])  # fmt: skip
    written: list[str] = []
    assert status._block(doc, "", written)
    assert "".join(written) == yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


@pytest.mark.parametrize("text", ["foo:", "a/b:", "k" * 122, "k" * 123, "1" * 123, "k" * 128, "k" * 129, "a:b", "12:30"])
def test_render_is_the_dumpers_text_for_trailing_colons_and_long_keys(text: str) -> None:
    """A trailing ':' is quoted, and a long key written as "? key" (libyaml from 129 characters,
    PyYAML's pure emitter from 123): the fast path hands both to the dumper it stands in for."""
    for doc in ({"k": text}, {text: 1}):
        assert status.render(doc) == yaml.dump(doc, Dumper=status._DUMPER, sort_keys=False, default_flow_style=False)
