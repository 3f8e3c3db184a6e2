"""Durations (Go syntax in, kubectl HumanDuration out) and seeded RNG streams."""

from __future__ import annotations

import pytest

from kubetwin.sim import SeededRNG, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("30s", 30.0, id="30s"),
        pytest.param("1h30m", 5400.0, id="1h30m"),
        pytest.param("2h", 7200.0, id="2h"),
        pytest.param("500ms", 0.5, id="500ms"),
        pytest.param("1.5h", 5400.0, id="fractional-hours"),
        pytest.param("1m0.5s", 60.5, id="fractional-seconds"),
        pytest.param(".5s", 0.5, id="leading-dot"),
        pytest.param("100us", 1e-4, id="micro"),
        pytest.param("3ns", 3e-9, id="nano"),
        pytest.param("2d", 172800.0, id="days-extension"),
        pytest.param("45", 45.0, id="bare-number-string"),
        pytest.param(" 10m ", 600.0, id="surrounding-space"),
        pytest.param(90, 90.0, id="int"),
        pytest.param(2.5, 2.5, id="float"),
        pytest.param("0", 0.0, id="zero"),
    ],
)
def test_parse_duration(text: str | int | float, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("abc", id="letters"),
        pytest.param("5x", id="unknown-unit"),
        pytest.param("h", id="unit-only"),
        pytest.param("1h 30m", id="inner-space"),
        pytest.param("-5s", id="negative-string"),
        pytest.param(-1, id="negative-number"),
        pytest.param("1h30", id="trailing-number"),
        pytest.param("s10", id="unit-first"),
    ],
)
def test_parse_duration_rejects(text: str | int) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(-5, "<invalid>", id="negative"),
        pytest.param(-1, "0s", id="skew-tolerated"),
        pytest.param(0, "0s", id="zero"),
        pytest.param(45, "45s", id="45s"),
        pytest.param(119, "119s", id="119s"),
        pytest.param(120, "2m", id="2m"),
        pytest.param(200, "3m20s", id="3m20s"),
        pytest.param(600, "10m", id="10m"),
        pytest.param(5400, "90m", id="90m-not-1h30m"),
        pytest.param(10799, "179m", id="179m"),
        pytest.param(10800, "3h", id="3h"),
        pytest.param(11100, "3h5m", id="3h5m"),
        pytest.param(8 * 3600 + 1800, "8h", id="8h-drops-minutes"),
        pytest.param(47 * 3600, "47h", id="47h"),
        pytest.param(52 * 3600, "2d4h", id="2d4h"),
        pytest.param(3 * 86400, "3d", id="3d"),
        pytest.param(20 * 86400 + 3600, "20d", id="20d-drops-hours"),
        pytest.param(800 * 86400, "2y70d", id="2y70d"),
        pytest.param(730 * 86400, "2y", id="2y"),
        pytest.param(3000 * 86400, "8y", id="8y"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def _draw(rng: SeededRNG, n: int = 5) -> list[float]:
    return [rng.random() for _ in range(n)]


def test_rng_deterministic() -> None:
    assert _draw(SeededRNG(42)) == _draw(SeededRNG(42))
    assert _draw(SeededRNG(42)) != _draw(SeededRNG(43))
    assert _draw(SeededRNG(7).child("scheduler")) == _draw(SeededRNG(7).child("scheduler"))


def test_rng_children_independent_of_parent_use_and_each_other() -> None:
    a = SeededRNG(7)
    untouched = _draw(a.child("kubelet"))
    b = SeededRNG(7)
    _draw(b, 100)  # the parent consumed numbers
    _draw(b.child("scheduler"), 100)  # a sibling consumed numbers
    assert _draw(b.child("kubelet")) == untouched
    assert _draw(a.child("kubelet")) != _draw(a.child("scheduler"))
    assert _draw(a.child("x").child("y")) == _draw(SeededRNG(7).child("x").child("y"))


def test_rng_numpy_seeded() -> None:
    assert list(SeededRNG(3).numpy().random(3)) == list(SeededRNG(3).numpy().random(3))


@pytest.mark.parametrize(
    ("method", "alphabet", "n"),
    [
        pytest.param("hex", set("0123456789abcdef"), 32, id="hex"),
        pytest.param("alnum", set("bcdfghjklmnpqrstvwxz2456789"), 5, id="generate-name-alphabet"),
    ],
)
def test_rng_strings(method: str, alphabet: set[str], n: int) -> None:
    rng = SeededRNG(1)
    out = "".join(getattr(rng, method)(n) for _ in range(200))
    assert len(out) == 200 * n
    assert set(out) <= alphabet
    assert getattr(SeededRNG(9), method)(n) == getattr(SeededRNG(9), method)(n)


@pytest.mark.parametrize("n", [pytest.param(n, id=f"n={n}") for n in (0, 1, 7, 32, 33)])
def test_rng_hex_is_getrandbits4_per_character(n: int) -> None:
    """hex() draws in one call what one getrandbits(4) per character drew (uids stay the same)."""
    import random

    for seed in range(20):
        ref = random.Random(SeededRNG(seed).seed)
        want = "".join("0123456789abcdef"[ref.getrandbits(4)] for _ in range(n))
        rng = SeededRNG(seed)
        assert rng.hex(n) == want
        assert rng.random() == ref.random()  # the stream continues in step


def test_rng_uuid4_is_version_4_made_of_hex32() -> None:
    """uuid4() lays out the 32 digits hex(32) draws: version 4, variant 8-b from the 17th digit."""
    for seed in range(20):
        h = SeededRNG(seed).hex(32)
        variant = "89ab"[int(h[16], 16) % 4]
        assert SeededRNG(seed).uuid4() == f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"


@pytest.mark.parametrize("counts", [pytest.param(c, id="+".join(map(str, c))) for c in ((1,), (3, 1), (256, 7))])
def test_rng_uuid4s_are_successive_uuid4s(counts: tuple[int, ...]) -> None:
    """uuid4s(k) draws the uids k uuid4() calls would, and leaves the stream where they would."""
    for seed in range(10):
        one, batch = SeededRNG(seed), SeededRNG(seed)
        assert [u for c in counts for u in batch.uuid4s(c)] == [one.uuid4() for _ in range(sum(counts))]
        assert batch.random() == one.random()


@pytest.mark.parametrize("counts", [pytest.param(c, id="+".join(map(str, c))) for c in ((1,), (3, 1), (256, 700))])
def test_uuid4_stream_takes_the_uuid4s_of_the_stream_from_where_it_is(counts: tuple[int, ...]) -> None:
    """Uuid4Stream gives the uids uuid4() would from the stream's state when made (drawn from
    or not, whatever the position in the generator's 624-word block), in any batches."""
    from kubetwin.sim.rng import Uuid4Stream

    for seed in range(10):
        one, handed = SeededRNG(seed), SeededRNG(seed)
        for _ in range(seed * 7):
            one.random(), handed.random()
        stream = Uuid4Stream(handed)
        assert [u for c in counts for u in stream.take(c)] == [one.uuid4() for _ in range(sum(counts))]


@pytest.mark.parametrize("seed", range(20))
def test_rng_alnum_is_randrange_per_character(seed: int) -> None:
    """alnum() draws the words one randrange(27) per character drew (generated names and every
    later draw of the stream stay the same)."""
    import random

    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    ref = random.Random(seed)
    rng = SeededRNG(seed)
    for n in (5, 0, 1, 5, 13, 5, 64):
        assert rng.alnum(n) == "".join(alphabet[ref.randrange(27)] for _ in range(n))
    assert rng.random() == ref.random()
