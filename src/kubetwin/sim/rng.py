"""Seeded randomness. Components get named child streams so adding a component does not shift
the random numbers another component sees."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")

# uuid4: each hex digit is the top 4 bits of one 32-bit word (as ``hex``); the 13th digit is the
# version "4", the 17th the variant 8, 9, a or b (its word's top 2 bits of the nibble dropped).
_HIGH_NIBBLE_HEX = bytes(b"0123456789abcdef"[b >> 4] for b in range(256))
_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", np.uint8)
_VARIANT_DIGITS = np.frombuffer(b"89ab" * 4, np.uint8)
# generateName's alphabet by the top byte of a 32-bit output (its top 5 bits: randrange(27)'s
# draw) and the top bytes it refuses (5-bit draws 27-31), for alnum
_ALNUM_ALPHABET = b"bcdfghjklmnpqrstvwxz2456789"
_ALNUM_OF_TOP_BYTE = bytes(_ALNUM_ALPHABET[b >> 3] if b >> 3 < 27 else 0 for b in range(256))
_ALNUM_REFUSED_TOP_BYTES = bytes(b for b in range(256) if b >> 3 >= 27)
# digit positions of the 32 drawn (version and variant excepted) -> columns of the 36-character text
_UUID_DIGITS = np.array([*range(0, 12), *range(13, 16), *range(17, 32)])
_UUID_COLUMNS = np.array([*range(0, 8), *range(9, 13), *range(15, 18), *range(20, 23), *range(24, 36)])


class SeededRNG:
    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._random = random.Random(self.seed)

    def child(self, name: str) -> SeededRNG:
        digest = hashlib.sha256(f"{self.seed}:{name}".encode()).digest()
        return SeededRNG(int.from_bytes(digest[:8], "big"))

    def numpy(self) -> np.random.Generator:
        return np.random.default_rng(self.seed)

    def random(self) -> float:
        return self._random.random()

    def uniform(self, a: float, b: float) -> float:
        return self._random.uniform(a, b)

    def randint(self, a: int, b: int) -> int:
        return self._random.randint(a, b)

    def choice(self, seq: Sequence[T]) -> T:
        return self._random.choice(seq)

    def shuffle(self, seq: list[Any]) -> None:
        self._random.shuffle(seq)

    def expovariate(self, lambd: float) -> float:
        return self._random.expovariate(lambd)

    def hex(self, n: int) -> str:
        """n random lowercase hex characters (for uids).

        Each character is the top 4 bits of one 32-bit Mersenne Twister output, as
        ``getrandbits(4)`` per character would give; ``getrandbits(32 * n)`` draws the same n
        outputs at once (little-endian words), so the stream and the result are unchanged."""
        if n <= 0:
            return ""
        return self._random.getrandbits(32 * n).to_bytes(4 * n, "little")[3::4].hex()[::2]

    def uuid4(self) -> str:
        """A version-4 UUID from 32 words of the stream (the digits ``hex(32)`` gives)."""
        h = self._random.getrandbits(1024).to_bytes(128, "little")[3::4].translate(_HIGH_NIBBLE_HEX).decode()
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:32]}"

    def uuid4s(self, count: int) -> list[str]:
        """``count`` successive ``uuid4()`` values drawn at once: one ``getrandbits`` call for
        all their words (the same stream) and the digits laid out in one array, about half the
        cost per uid. Only for a stream nothing else draws from meanwhile."""
        raw = self._random.getrandbits(1024 * count).to_bytes(128 * count, "little")
        return _uuid4_texts(np.frombuffer(raw, np.uint8)[3::4].reshape(count, 32) >> 4)

    def alnum(self, n: int) -> str:
        """n characters from upstream's generateName alphabet (consonants and digits, no vowels),
        each ``randrange(27)`` of the stream as the random module draws it: the top 5 bits of one
        32-bit output, drawn again while past the alphabet. The outputs still wanted are drawn at
        once (``getrandbits(32 * k)`` gives the same k outputs) and their top bytes mapped to
        characters, the refused ones deleted: the same words in the same order, without
        randrange's three Python calls per character (a pod's generated name took 4-10 us)."""
        out = b""
        while len(out) < n:
            k = n - len(out)
            tops = self._random.getrandbits(32 * k).to_bytes(4 * k, "little")[3::4]
            out += tops.translate(_ALNUM_OF_TOP_BYTE, _ALNUM_REFUSED_TOP_BYTES)
        return out.decode()


def _uuid4_texts(nibbles: np.ndarray) -> list[str]:
    """The uuid4() texts of rows of 32 drawn digits (each the top 4 bits of a 32-bit output)."""
    count = len(nibbles)
    text = np.empty((count, 36), np.uint8)
    text[:, [8, 13, 18, 23]] = ord("-")
    text[:, 14] = ord("4")
    text[:, _UUID_COLUMNS] = _HEX_DIGITS[nibbles[:, _UUID_DIGITS]]
    text[:, 19] = _VARIANT_DIGITS[nibbles[:, 16]]
    joined = text.tobytes().decode()
    return [joined[i : i + 36] for i in range(0, 36 * count, 36)]


class Uuid4Stream:
    """The ``uuid4()`` values ``rng`` would give from now on, for a stream handed over whole
    (nothing else draws from it afterwards: the registry's event uids). numpy's MT19937 is the
    random module's generator (the Mersenne Twister, 32-bit outputs in the same order), so set to
    the stream's state once it draws the same words, a batch at a time without the
    ``getrandbits`` integer and its bytes (about half of ``uuid4s``'s cost per uid)."""

    def __init__(self, rng: SeededRNG) -> None:
        _version, internal, _gauss = rng._random.getstate()
        self._bits = np.random.MT19937()
        self._bits.state = {"bit_generator": "MT19937",
                            "state": {"key": np.array(internal[:624], np.uint32), "pos": internal[624]}}  # fmt: skip

    def take(self, count: int) -> list[str]:
        """The next ``count`` uids, in order."""
        words = self._bits.random_raw(32 * count)  # one 32-bit output per element
        return _uuid4_texts((words >> 28).astype(np.uint8).reshape(count, 32))
