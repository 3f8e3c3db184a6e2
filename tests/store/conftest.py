from __future__ import annotations

import pytest

from kubetwin.sim import EventLoop, SeededRNG
from kubetwin.store import Registry, Store


@pytest.fixture
def loop() -> EventLoop:
    return EventLoop()


@pytest.fixture
def reg(loop: EventLoop) -> Registry:
    r = Registry(Store(), loop, SeededRNG(1))
    r.bootstrap()
    return r
