"""serve's GC pacing: survivors of a full collection are frozen, thresholds restored on uninstall."""

from __future__ import annotations

import gc

import pytest

from kubetwin.sim.gcpolicy import THRESHOLDS, THROUGHPUT_THRESHOLDS, GCPacer


@pytest.mark.parametrize(
    ("env", "active"), [pytest.param(None, True, id="default-on"), pytest.param("default", False, id="opt-out")]
)
def test_full_collection_freezes_survivors(monkeypatch: pytest.MonkeyPatch, env: str | None, active: bool) -> None:
    if env is None:
        monkeypatch.delenv("KUBETWIN_GC", raising=False)
    else:
        monkeypatch.setenv("KUBETWIN_GC", env)
    before = gc.get_threshold()
    pacer = GCPacer()
    assert pacer.install() is active
    try:
        kept = [{"i": i} for i in range(1000)]
        gc.collect()
        if active:
            assert gc.get_threshold() == THRESHOLDS
            assert pacer.full_collections >= 1 and gc.get_freeze_count() >= len(kept)
        else:
            assert gc.get_threshold() == before and pacer.full_collections == 0
    finally:
        pacer.uninstall()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0 and gc.callbacks.count(pacer._callback) == 0


@pytest.mark.parametrize(("throughput", "expected"), [(False, THRESHOLDS), (True, THROUGHPUT_THRESHOLDS)])
def test_modes_set_their_thresholds(monkeypatch: pytest.MonkeyPatch, throughput: bool, expected: tuple[int, int, int]) -> None:
    monkeypatch.delenv("KUBETWIN_GC", raising=False)
    before = gc.get_threshold()
    pacer = GCPacer()
    assert pacer.install(throughput=throughput)
    try:
        assert gc.get_threshold() == expected
    finally:
        pacer.uninstall()
    assert gc.get_threshold() == before


@pytest.mark.parametrize(
    ("env", "tuned"), [pytest.param(None, True, id="default-on"), pytest.param("default", False, id="opt-out")]
)
def test_install_tunes_glibc_allocator(monkeypatch: pytest.MonkeyPatch, env: str | None, tuned: bool) -> None:
    """The allocator keeps large short-lived blocks on the heap on glibc (Linux, as CI is);
    KUBETWIN_GC=default leaves it alone too."""
    import platform

    if env is None:
        monkeypatch.delenv("KUBETWIN_GC", raising=False)
    else:
        monkeypatch.setenv("KUBETWIN_GC", env)
    pacer = GCPacer()
    pacer.install(throughput=True)
    try:
        on_glibc = platform.libc_ver()[0] == "glibc"
        assert pacer.allocator_tuned is (tuned and on_glibc)
    finally:
        pacer.uninstall()


@pytest.mark.parametrize(("throughput", "frozen_by_young"), [(False, False), (True, True)])
def test_throughput_mode_freezes_the_survivors_of_any_collection(
    monkeypatch: pytest.MonkeyPatch, throughput: bool, frozen_by_young: bool
) -> None:
    """run mode: a generation-0 collection freezes what survives it (each object is walked once);
    serve mode freezes only after full collections."""
    monkeypatch.delenv("KUBETWIN_GC", raising=False)
    pacer = GCPacer()
    assert pacer.install(throughput=throughput)
    try:
        gc.unfreeze()
        kept = [{"i": i} for i in range(1000)]
        gc.collect(0)
        assert (gc.get_freeze_count() >= len(kept)) is frozen_by_young
        assert pacer.full_collections == 0
    finally:
        pacer.uninstall()
