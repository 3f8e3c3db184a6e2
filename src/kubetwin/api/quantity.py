"""resource.Quantity (k8s.io/apimachinery/pkg/api/resource/quantity.go, suffix.go).

A fixed-point number with a remembered format family (DecimalSI ``1500m``/``1G``, BinarySI ``1Gi``,
DecimalExponent ``1e3``). Values are held exactly as a :class:`fractions.Fraction`; parsing keeps
precision down to nano and rounds anything finer away from zero, as upstream does.

``str(q)`` is upstream's ``String()``: the input text when upstream's parser keeps it (a number
already in canonical shape, e.g. ``"100m"``, ``"1Ki"``, ``"+1"``), otherwise the canonical form
(``"1.5"`` -> ``"1500m"``, ``"1024Mi"`` -> ``"1Gi"``, ``"0.5Gi"`` -> ``"512Mi"``).

One deliberate difference: upstream's scanner accepts a quantity with no digits at all (``"Mi"``,
``"-"``, ``"."`` parse as zero); the documented grammar and the error's own regular expression
require a number, and so do we.
"""

from __future__ import annotations

import functools
import re
from fractions import Fraction

DECIMAL_SI = "DecimalSI"
BINARY_SI = "BinarySI"
DECIMAL_EXPONENT = "DecimalExponent"

SPLIT_RE_STRING = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
ERR_FORMAT_WRONG = "quantities must match the regular expression '" + SPLIT_RE_STRING + "'"
ERR_NUMERIC = "unable to parse numeric part of quantity"
ERR_SUFFIX = "unable to parse quantity's suffix"

_DEC_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DEC_BY_EXP = {v: k for k, v in _DEC_SUFFIXES.items()}
_BIN_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_BIN_NAMES = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")

MAX_INT64 = 2**63 - 1
_NANO = Fraction(1, 10**9)
_MAX_EXPONENT = 10_000  # guards against "1e999999999" building astronomically large integers

# Scanner equivalent to upstream parseQuantityString: sign, leading zeros, integer digits, optional
# '.' and fraction digits, then suffix letters, an optional sign and digits.
_SCAN = re.compile(r"([+-]?)(0*)([0-9]*)(?:\.([0-9]*))?([eEinumkKMGTP]*[-+]?[0-9]*)")
_GO_INT = re.compile(r"[+-]?[0-9]+")


def _interpret_suffix(suffix: str) -> tuple[int, int, str]:
    """(base, exponent, format) for a suffix, as upstream suffixHandler.interpret."""
    if suffix in _DEC_SUFFIXES:
        return 10, _DEC_SUFFIXES[suffix], DECIMAL_SI
    if suffix in _BIN_SUFFIXES:
        return 2, _BIN_SUFFIXES[suffix], BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE" and _GO_INT.fullmatch(suffix[1:]):
        exp = int(suffix[1:])
        if abs(exp) > _MAX_EXPONENT:
            raise ValueError(ERR_NUMERIC)
        return 10, exp, DECIMAL_EXPONENT
    raise ValueError(ERR_SUFFIX)


def _round_nano_away(value: Fraction) -> Fraction:
    scaled = value * 10**9
    if scaled.denominator == 1:
        return value
    n = -((-abs(scaled.numerator)) // scaled.denominator)  # ceil of |scaled|
    return Fraction(n if value > 0 else -n, 10**9)


def _ceil_away(value: Fraction) -> int:
    """Round to an integer away from zero (inf.RoundUp, as Value/MilliValue do)."""
    if value.denominator == 1:
        return value.numerator
    mag = -((-abs(value.numerator)) // value.denominator)
    return mag if value > 0 else -mag


def _parse(text: str) -> Quantity:
    if not text:
        raise ValueError(ERR_FORMAT_WRONG)
    if text == "0":
        return Quantity(0, DECIMAL_SI, _text=text)
    m = _SCAN.fullmatch(text)
    if m is None:
        raise ValueError(ERR_FORMAT_WRONG)
    sign, zeros, num, denom, suffix = m.group(1), m.group(2), m.group(3), m.group(4) or "", m.group(5)
    if not (zeros or num or denom):
        raise ValueError(ERR_FORMAT_WRONG)
    num = num or "0"
    base, exponent, fmt = _interpret_suffix(suffix)
    negative = sign == "-"
    digits = int(num + denom)
    if base == 10:
        value = Fraction(digits, 10 ** len(denom)) * Fraction(10) ** exponent
    else:
        value = Fraction(digits * 2**exponent, 10 ** len(denom))
    value = _round_nano_away(value)
    if fmt == BINARY_SI and value > MAX_INT64:
        value = Fraction(MAX_INT64)
    if fmt == BINARY_SI and 0 < value < 1:
        fmt = DECIMAL_SI
    if negative:
        value = -value
    return Quantity(value, fmt, _text=text if _keeps_text(num, denom, exponent, fmt, digits) else None)


def _keeps_text(num: str, denom: str, exponent: int, fmt: str, digits: int) -> bool:
    """Whether upstream's int64 fast path would cache the input string as String()'s result."""
    if fmt == BINARY_SI:
        if exponent < 0 or denom:
            return False
        precision = 15 - len(num) - int(exponent * 3 / 10) - 1
        fits = digits * 2**exponent <= MAX_INT64
        return precision >= 0 and fits and digits & 0x07 != 0
    precision = 18 - len(num) - len(denom)
    scale = exponent - len(denom)
    shifted = num + denom
    if precision < 0 or scale < -9 or digits > MAX_INT64:
        return False
    return scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"


def _decimal_parts(value: Fraction) -> tuple[int, int]:
    """Mantissa and base-10 exponent (a multiple of 3, as large as possible) of a non-zero value."""
    exp = 0
    v = value
    while v.denominator != 1:
        v *= 10
        exp -= 1
        if exp < -40:  # not a terminating decimal (only from arithmetic on odd values): round up
            v = Fraction(_ceil_away(v))
    mantissa = v.numerator
    while mantissa % 10 == 0:
        mantissa //= 10
        exp += 1
    while exp % 3 != 0:
        mantissa *= 10
        exp -= 1
    return mantissa, exp


def _canonical(value: Fraction, fmt: str) -> str:
    """Upstream CanonicalizeBytes: keep the format family, no fractional digits, largest suffix."""
    if value == 0:
        return "0"
    if fmt == BINARY_SI and (-1024 < value < 1024 or value.denominator != 1):
        fmt = DECIMAL_SI
    if fmt == BINARY_SI:
        n, e = value.numerator, 0
        while n % 1024 == 0 and e < len(_BIN_NAMES) - 1:
            n //= 1024
            e += 1
        return f"{n}{_BIN_NAMES[e]}"
    mantissa, exp = _decimal_parts(value)
    if fmt == DECIMAL_SI and exp in _DEC_BY_EXP:
        return f"{mantissa}{_DEC_BY_EXP[exp]}"
    return f"{mantissa}e{exp}" if exp else str(mantissa)


@functools.total_ordering
class Quantity:
    """An exact quantity with a format family; immutable (arithmetic returns new quantities)."""

    __slots__ = ("amount", "format", "_text")

    def __init__(
        self, amount: Fraction | int = 0, format: str = DECIMAL_SI, *, _text: str | None = None
    ) -> None:
        if format not in (DECIMAL_SI, BINARY_SI, DECIMAL_EXPONENT):
            format = DECIMAL_EXPONENT
        self.amount = Fraction(amount)
        self.format = format
        self._text = _text

    # -- constructors -------------------------------------------------------------------------
    @classmethod
    def parse(cls, value: str | int | float | Quantity) -> Quantity:
        return parse_quantity(value)

    @classmethod
    def from_milli(cls, milli: int, format: str = DECIMAL_SI) -> Quantity:
        """NewMilliQuantity."""
        return cls(Fraction(milli, 1000), format)

    @classmethod
    def from_int(cls, value: int, format: str = DECIMAL_SI) -> Quantity:
        """NewQuantity."""
        return cls(value, format)

    # -- accessors ------------------------------------------------------------------------------
    def value(self) -> int:
        """Upstream Value(): rounded to an integer away from zero."""
        return _ceil_away(self.amount)

    def milli_value(self) -> int:
        """Upstream MilliValue(): ceil(q * 1000), away from zero."""
        return _ceil_away(self.amount * 1000)

    def scaled_value(self, scale: int) -> int:
        """Upstream ScaledValue(scale): ceil(q / 10^scale)."""
        return _ceil_away(self.amount / Fraction(10) ** scale)

    def is_zero(self) -> bool:
        return self.amount == 0

    def sign(self) -> int:
        return (self.amount > 0) - (self.amount < 0)

    def as_float(self) -> float:
        return float(self.amount)

    # -- arithmetic -----------------------------------------------------------------------------
    def add(self, other: Quantity) -> Quantity:
        """Sum; a zero receiver takes ``other``'s format, as upstream Add."""
        fmt = other.format if self.amount == 0 else self.format
        return Quantity(self.amount + other.amount, fmt)

    def sub(self, other: Quantity) -> Quantity:
        fmt = other.format if self.amount == 0 else self.format
        return Quantity(self.amount - other.amount, fmt)

    def neg(self) -> Quantity:
        return Quantity(-self.amount, self.format)

    def mul(self, factor: int) -> Quantity:
        return Quantity(self.amount * factor, self.format)

    def cmp(self, other: Quantity) -> int:
        return (self.amount > other.amount) - (self.amount < other.amount)

    __add__ = add
    __sub__ = sub
    __neg__ = neg

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Quantity):
            return self.amount == other.amount
        if isinstance(other, int) and not isinstance(other, bool):
            return self.amount == other
        return NotImplemented

    def __lt__(self, other: object) -> bool:
        if isinstance(other, Quantity):
            return self.amount < other.amount
        if isinstance(other, int) and not isinstance(other, bool):
            return self.amount < other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.amount)

    def __str__(self) -> str:
        if self._text is not None:
            return self._text
        return _canonical(self.amount, self.format)

    def canonical(self) -> str:
        """The canonical form, ignoring any remembered input text."""
        return _canonical(self.amount, self.format)

    def __repr__(self) -> str:
        return f"Quantity({str(self)!r})"


def parse_quantity(value: str | int | float | Quantity) -> Quantity:
    """ParseQuantity. Ints and floats (YAML numbers) are read as their decimal text."""
    if isinstance(value, Quantity):
        return value
    if isinstance(value, bool):
        raise ValueError(ERR_FORMAT_WRONG)
    if isinstance(value, int):
        return _parse(str(value))
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(ERR_FORMAT_WRONG)
        return _parse(repr(value))
    if not isinstance(value, str):
        raise ValueError(ERR_FORMAT_WRONG)
    return _parse_str(value)


@functools.lru_cache(maxsize=8192)
def _parse_str(s: str) -> Quantity:
    """_parse of a string, shared: Quantity is immutable and manifests repeat the same few texts
    ("100m", "256Mi") on every pod of a Deployment. Bad input raises each time (not cached)."""
    return _parse(s)


@functools.lru_cache(maxsize=4096)
def _cpu_milli_str(s: str) -> int:
    return _parse(s).milli_value()


@functools.lru_cache(maxsize=4096)
def _to_int_str(s: str) -> int:
    return _parse(s).value()


def cpu_milli(value: str | int | float | Quantity) -> int:
    """MilliValue of a quantity (CPU in millicores), rounded up."""
    if isinstance(value, str):
        return _cpu_milli_str(value)
    return parse_quantity(value).milli_value()


def to_int(value: str | int | float | Quantity) -> int:
    """Value of a quantity (memory in bytes, counts), rounded up."""
    if isinstance(value, str):
        return _to_int_str(value)
    return parse_quantity(value).value()


def format_cpu_milli(milli: int) -> str:
    """Canonical DecimalSI text for millicores: 1500 -> "1500m", 2000 -> "2"."""
    return _canonical(Fraction(milli, 1000), DECIMAL_SI)


def format_bytes(n: int) -> str:
    """Canonical BinarySI text for a byte count: "1Gi", "15657244Ki"; plain when below 1Ki or odd."""
    return _canonical(Fraction(n), BINARY_SI)
