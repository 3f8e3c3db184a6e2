"""host-local IPAM (kubelet/ipam.py): one address per owner, round robin, release, exhaustion."""

from __future__ import annotations

import ipaddress

import pytest

from kubetwin.kubelet.ipam import HostLocalIPAM, RangeFull


def test_round_robin_and_one_address_per_owner() -> None:
    ipam = HostLocalIPAM("10.1.0.0/29")  # .2-.6: 5 pod addresses
    assert [ipam.allocate(f"p{i}") for i in range(3)] == ["10.1.0.2", "10.1.0.3", "10.1.0.4"]
    assert ipam.allocate("p1") == "10.1.0.3"  # an owner keeps its address
    ipam.release("p1")
    assert ipam.in_use == 2
    # not reused at once: allocation continues after the last address handed out, then wraps
    assert [ipam.allocate(o) for o in ("a", "b", "c")] == ["10.1.0.5", "10.1.0.6", "10.1.0.3"]
    with pytest.raises(RangeFull, match="no IP addresses available in range set: 10.1.0.1-10.1.0.6"):
        ipam.allocate("d")
    ipam.release("nobody")  # releasing an owner without an address is a no-op
    ipam.release("a")
    assert ipam.allocate("d") == "10.1.0.5"
    with pytest.raises(RangeFull):
        ipam.allocate("a")  # released, and its address went to "d"


@pytest.mark.parametrize("cidr", ["10.1.0.0/29", "192.168.255.248/29", "0.0.0.0/29", "fd00::/125"])
def test_addresses_written_as_ipaddress_writes_them(cidr: str) -> None:
    ipam = HostLocalIPAM(cidr)
    hosts = list(ipaddress.ip_network(cidr).hosts())[1:] if ipaddress.ip_network(cidr).version == 4 else None
    got = [ipam.allocate(f"p{i}") for i in range(ipam.size)]
    assert got == [str(ipaddress.ip_address(int(ipaddress.ip_network(cidr).network_address) + 2 + i)) for i in range(ipam.size)]
    assert hosts is None or got == [str(h) for h in hosts]
    assert ipam.allocate("p0") == got[0]
