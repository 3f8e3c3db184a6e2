"""parse_group_spec remembers a group's parsed spec only while the spec stays equal."""

from __future__ import annotations

import pytest

from kubetwin.cloud.nodegroup import GroupSpec, SpecError, parse_group_spec


def test_reparsed_when_the_spec_changes_even_in_place() -> None:
    spec = {"instanceType": "m5.large", "minSize": 1, "maxSize": 3}
    a = parse_group_spec("cache-test", spec)
    assert parse_group_spec("cache-test", dict(spec)) is a  # equal spec: the same result
    spec["maxSize"] = 5  # changed in place: must not be served from the cache
    b = parse_group_spec("cache-test", spec)
    assert b is not a and b.max_size == 5
    assert parse_group_spec("other-group", spec).name == "other-group"
    assert vars(GroupSpec("cache-test", spec)).keys() == vars(b).keys()
    with pytest.raises(SpecError):
        parse_group_spec("cache-test", {**spec, "instanceType": "no-such-type"})
    assert parse_group_spec("cache-test", spec) is b  # a failed parse leaves the cache alone
