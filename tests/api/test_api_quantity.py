from __future__ import annotations

import pytest

from kubetwin.api.quantity import (
    ERR_FORMAT_WRONG,
    ERR_SUFFIX,
    Quantity,
    cpu_milli,
    format_bytes,
    format_cpu_milli,
    parse_quantity,
    to_int,
)


@pytest.mark.parametrize(
    ("text", "string", "fmt", "value", "milli"),
    [
        pytest.param("100m", "100m", "DecimalSI", 1, 100, id="milli"),
        pytest.param("1.5", "1500m", "DecimalSI", 2, 1500, id="fraction-to-milli"),
        pytest.param("0.1", "100m", "DecimalSI", 1, 100, id="tenth"),
        pytest.param(".5", "500m", "DecimalSI", 1, 500, id="leading-dot"),
        pytest.param("1.", "1.", "DecimalSI", 1, 1000, id="trailing-dot-kept-like-upstream"),
        pytest.param("1Gi", "1Gi", "BinarySI", 2**30, 2**30 * 1000, id="gi"),
        pytest.param("1024Mi", "1Gi", "BinarySI", 2**30, 2**30 * 1000, id="1024Mi-canonical"),
        pytest.param("1536Mi", "1536Mi", "BinarySI", 1536 * 2**20, 1536 * 2**20 * 1000, id="1536Mi"),
        pytest.param("1.5Gi", "1536Mi", "BinarySI", 1536 * 2**20, 1536 * 2**20 * 1000, id="fractional-gi"),
        pytest.param("0.5Gi", "512Mi", "BinarySI", 2**29, 2**29 * 1000, id="half-gi"),
        pytest.param("1.5Ki", "1536", "BinarySI", 1536, 1536000, id="binary-not-divisible"),
        pytest.param(
            "15657244Ki", "15657244Ki", "BinarySI", 15657244 * 1024, 15657244 * 1024 * 1000, id="node-mem"
        ),
        pytest.param("1000M", "1G", "DecimalSI", 10**9, 10**12, id="1000M"),
        pytest.param("500M", "500M", "DecimalSI", 5 * 10**8, 5 * 10**11, id="500M"),
        pytest.param("1000m", "1", "DecimalSI", 1, 1000, id="1000m"),
        pytest.param("1e3", "1e3", "DecimalExponent", 1000, 10**6, id="exponent"),
        pytest.param("1E3", "1E3", "DecimalExponent", 1000, 10**6, id="exponent-upper-kept"),
        pytest.param("1.5e3", "1500", "DecimalExponent", 1500, 1500000, id="exponent-fraction"),
        pytest.param("1e-3", "1e-3", "DecimalExponent", 1, 1, id="exponent-negative"),
        pytest.param("+1", "+1", "DecimalSI", 1, 1000, id="plus-kept"),
        pytest.param("-1", "-1", "DecimalSI", -1, -1000, id="negative"),
        pytest.param("-1.5", "-1500m", "DecimalSI", -2, -1500, id="negative-rounds-away"),
        pytest.param("0.1n", "1n", "DecimalSI", 1, 1, id="sub-nano-rounds-up"),
        pytest.param("0.9n", "1n", "DecimalSI", 1, 1, id="sub-nano-0.9"),
        pytest.param("0.000000000001Ki", "2n", "DecimalSI", 1, 1, id="tiny-binary-becomes-decimal"),
        pytest.param(
            "8Ei", "9223372036854775807", "BinarySI", 2**63 - 1, (2**63 - 1) * 1000, id="binary-cap"
        ),
        pytest.param("12E", "12E", "DecimalSI", 12 * 10**18, 12 * 10**21, id="exa-not-capped"),
        pytest.param("0", "0", "DecimalSI", 0, 0, id="zero"),
        pytest.param("0Mi", "0", "BinarySI", 0, 0, id="zero-binary"),
        pytest.param("2", "2", "DecimalSI", 2, 2000, id="int"),
        pytest.param("1001m", "1001m", "DecimalSI", 2, 1001, id="ceil-value"),
        pytest.param("100k", "100k", "DecimalSI", 100000, 10**8, id="kilo"),
        pytest.param("5u", "5u", "DecimalSI", 1, 1, id="micro"),
    ],
)
def test_parse(text: str, string: str, fmt: str, value: int, milli: int) -> None:
    q = parse_quantity(text)
    assert str(q) == string
    assert q.format == fmt
    assert q.value() == value
    assert q.milli_value() == milli


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", ERR_FORMAT_WRONG, id="empty"),
        pytest.param("1.5.5", ERR_FORMAT_WRONG, id="two-dots"),
        pytest.param("10 Mi", ERR_FORMAT_WRONG, id="space"),
        pytest.param(" 1", ERR_FORMAT_WRONG, id="leading-space"),
        pytest.param("1 ", ERR_FORMAT_WRONG, id="trailing-space"),
        pytest.param("Mi", ERR_FORMAT_WRONG, id="suffix-only"),
        pytest.param("-", ERR_FORMAT_WRONG, id="sign-only"),
        pytest.param("1Gb", ERR_FORMAT_WRONG, id="Gb"),
        pytest.param("1.1.M", ERR_FORMAT_WRONG, id="1.1.M"),
        pytest.param("1+1.0M", ERR_FORMAT_WRONG, id="1+1.0M"),
        pytest.param("aoeu", ERR_FORMAT_WRONG, id="letters"),
        pytest.param("0.1mi", ERR_SUFFIX, id="mi"),
        pytest.param("0.1am", ERR_FORMAT_WRONG, id="am"),
        pytest.param(".5i", ERR_SUFFIX, id="bare-i"),
        pytest.param("1i", ERR_SUFFIX, id="1i"),
        pytest.param("-3.01i", ERR_SUFFIX, id="neg-i"),
        pytest.param("-3.01e-", ERR_SUFFIX, id="dangling-exponent"),
        pytest.param("1e", ERR_SUFFIX, id="e-alone"),
        pytest.param("1Zi", ERR_FORMAT_WRONG, id="Zi"),
        pytest.param("1KiB", ERR_FORMAT_WRONG, id="KiB"),
    ],
)
def test_parse_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        parse_quantity(text)
    assert str(exc.value) == message


def test_error_message_is_upstreams() -> None:
    assert ERR_FORMAT_WRONG == (
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )


@pytest.mark.parametrize(
    ("a", "b", "op", "expected"),
    [
        pytest.param("100m", "900m", "add", "1", id="add-to-one"),
        pytest.param("1Gi", "1Gi", "add", "2Gi", id="add-binary"),
        pytest.param("0", "1Gi", "add", "1Gi", id="zero-takes-format"),
        pytest.param("1", "250m", "sub", "750m", id="sub"),
        pytest.param("1Gi", "512Mi", "sub", "512Mi", id="sub-binary"),
        pytest.param("100m", "200m", "sub", "-100m", id="sub-negative"),
        pytest.param("1e3", "1e3", "add", "2e3", id="exponent-add"),
    ],
)
def test_arithmetic(a: str, b: str, op: str, expected: str) -> None:
    qa, qb = parse_quantity(a), parse_quantity(b)
    result = qa.add(qb) if op == "add" else qa.sub(qb)
    assert str(result) == expected


@pytest.mark.parametrize(
    ("a", "b", "cmp"),
    [
        pytest.param("1", "1000m", 0, id="equal-forms"),
        pytest.param("1Ki", "1024", 0, id="binary-decimal"),
        pytest.param("1G", "1Gi", -1, id="G-less-Gi"),
        pytest.param("2", "1999m", 1, id="greater"),
        pytest.param("1e3", "1k", 0, id="exponent-equals-k"),
    ],
)
def test_compare(a: str, b: str, cmp: int) -> None:
    qa, qb = parse_quantity(a), parse_quantity(b)
    assert qa.cmp(qb) == cmp
    assert (qa == qb) == (cmp == 0)
    assert (qa < qb) == (cmp < 0)
    if cmp == 0:
        assert hash(qa) == hash(qb)


@pytest.mark.parametrize(
    ("value", "milli", "as_int"),
    [
        pytest.param("250m", 250, 1, id="str"),
        pytest.param(2, 2000, 2, id="int"),
        pytest.param(0.5, 500, 1, id="float"),
        pytest.param("1Gi", 2**30 * 1000, 2**30, id="mem"),
        pytest.param("0.0001", 1, 1, id="ceil"),
    ],
)
def test_module_helpers(value: str | int | float, milli: int, as_int: int) -> None:
    assert cpu_milli(value) == milli
    assert to_int(value) == as_int


@pytest.mark.parametrize(
    ("n", "text"),
    [
        pytest.param(2**30, "1Gi", id="1Gi"),
        pytest.param(15657244 * 1024, "15657244Ki", id="Ki"),
        pytest.param(1536, "1536", id="not-divisible"),
        pytest.param(1023 * 1024 + 1, "1047553", id="odd"),
        pytest.param(0, "0", id="zero"),
        pytest.param(1000, "1k", id="below-1Ki-is-decimal"),
        pytest.param(5, "5", id="tiny"),
    ],
)
def test_format_bytes(n: int, text: str) -> None:
    assert format_bytes(n) == text


@pytest.mark.parametrize(
    ("m", "text"),
    [
        pytest.param(1500, "1500m", id="milli"),
        pytest.param(2000, "2", id="whole"),
        pytest.param(0, "0", id="zero"),
        pytest.param(100, "100m", id="100m"),
        pytest.param(64000, "64", id="64"),
    ],
)
def test_format_cpu_milli(m: int, text: str) -> None:
    assert format_cpu_milli(m) == text
    assert cpu_milli(text) == m


def test_quantity_constructors() -> None:
    assert str(Quantity.from_milli(1500)) == "1500m"
    assert str(Quantity.from_int(3 * 2**20, "BinarySI")) == "3Mi"
    assert parse_quantity(parse_quantity("1")) == 1
