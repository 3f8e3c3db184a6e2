"""The scheduler's TimerQueue fires like one loop timer per entry would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kubetwin.scheduler.timers import TimerQueue
from kubetwin.sim import EventLoop

PRIORITY = 20

# A story: at time ``at`` the owner schedules entries (label, delay), cancels labels, and does a
# call_soon at the same priority (label "soon:..."); a fired entry may schedule (label, delay)
# follow-ups from inside its callback.
Step = tuple[float, list[tuple[str, float]], list[str], bool]
STORIES: dict[str, tuple[list[Step], dict[str, list[tuple[str, float]]]]] = {
    "same-instant-keeps-insertion-order": ([(0, [("a", 5), ("b", 5), ("c", 5)], [], False)], {}),
    "earlier-entry-arrives-later": ([(0, [("late", 10)], [], False), (1, [("early", 3)], [], False),
                                     (2, [("same-as-late", 8)], [], False)], {}),  # fmt: skip
    "cancelled-head-and-middle": ([(0, [("a", 1), ("b", 2), ("c", 2), ("d", 3)], [], False),
                                   (0.5, [], ["a", "c"], False)], {}),  # fmt: skip
    "call-soon-at-the-instant-runs-after": ([(0, [("a", 2), ("b", 2)], [], False), (2, [], [], True),
                                             (1, [("c", 1)], [], True)], {}),  # fmt: skip
    "follow-ups-from-callbacks": ([(0, [("a", 1), ("b", 1), ("c", 4)], [], False)],
                                  {"a": [("a2", 3), ("a3", 0.5)], "b": [("b2", 3)], "a3": [("a4", 1.5)]}),
    "fractional-times": ([(0.1, [("x", 0.2), ("y", 0.3)], [], False), (0.2, [("z", 0.1)], [], False)], {}),
    "everything-cancelled": ([(0, [("a", 1), ("b", 2)], [], False), (0.5, [], ["a", "b"], False),
                              (0.7, [("c", 2)], [], False)], {}),  # fmt: skip
}


def _run(steps: list[Step], follow: dict[str, list[tuple[str, float]]], queued: bool) -> list[tuple[float, str]]:
    loop = EventLoop()
    fired: list[tuple[float, str]] = []
    tokens: dict[str, Any] = {}
    tq = TimerQueue(loop, PRIORITY, "t")

    def schedule(label: str, delay: float) -> None:
        if queued:
            tokens[label] = tq.call_at(loop.now + delay, fire, label)
        else:
            tokens[label] = loop.call_at(loop.now + delay, lambda: fire(label), PRIORITY, label)

    def fire(label: str) -> None:
        fired.append((loop.now, label))
        for lbl, delay in follow.get(label, []):
            schedule(lbl, delay)

    def cancel(label: str) -> None:
        if queued:
            tq.cancel(tokens[label])
        else:
            tokens[label].cancel()

    def at(step: Step) -> Callable[[], None]:
        def run() -> None:
            _, new, gone, soon = step
            for lbl, delay in new:
                schedule(lbl, delay)
            for lbl in gone:
                cancel(lbl)
            if soon:
                loop.call_soon(lambda: fired.append((loop.now, f"soon@{loop.now}")), PRIORITY)

        return run

    for step in steps:  # the owner acts from events of a lower priority number, as informers do
        loop.call_at(step[0], at(step), PRIORITY - 10)
    loop.run()
    return fired


@pytest.mark.parametrize("story", STORIES)
def test_fires_in_the_order_of_one_loop_timer_per_entry(story: str) -> None:
    steps, follow = STORIES[story]
    expected = _run(steps, follow, queued=False)
    assert expected  # the story fires something
    assert _run(steps, follow, queued=True) == expected


def test_refuses_an_entry_that_is_not_ahead() -> None:
    loop = EventLoop(start=5.0)
    with pytest.raises(ValueError):
        TimerQueue(loop, PRIORITY, "t").call_at(5.0, print, None)
