"""Seeded randomness. Components get named child streams so adding a component does not shift
the random numbers another component sees."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")


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

    def alnum(self, n: int) -> str:
        """n characters from upstream's generateName alphabet (consonants and digits, no vowels)."""
        alphabet = "bcdfghjklmnpqrstvwxz2456789"
        return "".join(alphabet[self._random.randrange(len(alphabet))] for _ in range(n))
