"""Max pods per node from the pod network: the AWS VPC CNI (secondary IPs or prefix delegation) or an
overlay network.

Reproduces, from their documented behaviour:

- ``aws/amazon-vpc-cni-k8s: misc/eni-max-pods.txt`` (secondary-IP mode, every one of the 1,391
  instance types): ``# of ENI * (# of IPv4 per ENI - 1) + 2`` — the first IP of each ENI is the
  ENI's own, +2 for the host-network pods aws-node and kube-proxy. nodeadm's
  ``calculateStandardMaxPods`` (``awslabs/amazon-eks-ami: nodeadm/internal/kubelet/eni_max_pods.go``)
  is the same, uncapped;
- ``awslabs/amazon-eks-ami: templates/al2023/runtime/max-pods-calculator.sh`` for prefix delegation:
  ``ENIs × ((IPv4 per ENI − 1) × 16) + 2`` (one /28 prefix per secondary-IP slot) on Nitro
  instances only (others fall back to secondary IPs), optional custom networking (one ENI fewer),
  then the EKS ceiling: ``min(250, n)`` when ``vCPU > 30``, else ``min(110, n)``;
- ``overlay`` (Calico/Cilium/flannel-style overlay, or any CNI with no per-node IP limit): the
  kubelet's ``maxPods`` (default 110).

An explicit ``spec.kubelet.maxPods`` always wins, as on EKS with ``--use-max-pods false
--kubelet-extra-args --max-pods=N`` (nodeadm: a user-set maxPods overrides the computed one).
"""

from __future__ import annotations

from kubetwin.cloud import catalog

__all__ = [
    "DEFAULT_MODE",
    "IPS_PER_PREFIX",
    "MAX_POD_CEILING_FOR_HIGH_CPU",
    "MAX_POD_CEILING_FOR_LOW_CPU",
    "MODES",
    "calculator_max_pods",
    "eni_max_pods",
    "eni_max_pods_for",
    "max_pods",
    "prefix_delegation_max_pods",
]

MODES = ("aws-vpc-cni", "aws-vpc-cni-prefix", "overlay")
# What an EKS managed node group runs: the VPC CNI in secondary-IP mode (ENABLE_PREFIX_DELEGATION
# defaults to false) and the AMI's eni-max-pods.txt value.
DEFAULT_MODE = "aws-vpc-cni"
IPS_PER_PREFIX = 16  # a /28 IPv4 prefix
MAX_POD_CEILING_FOR_LOW_CPU = 110
MAX_POD_CEILING_FOR_HIGH_CPU = 250
HIGH_CPU_THRESHOLD = 30  # "if CPU_COUNT > 30"


def eni_max_pods(enis: int, ipv4_per_eni: int) -> int:
    """eni-max-pods.txt: ``ENIs × (IPv4 per ENI − 1) + 2``."""
    return enis * (ipv4_per_eni - 1) + 2


def prefix_delegation_max_pods(enis: int, ipv4_per_eni: int) -> int:
    """calculate_max_ip_addresses_prefix_delegation (uncapped): ``ENIs × ((IPv4 per ENI − 1) × 16) + 2``."""
    return enis * ((ipv4_per_eni - 1) * IPS_PER_PREFIX) + 2


def calculator_max_pods(
    enis: int,
    ipv4_per_eni: int,
    hypervisor: str,
    vcpu: int,
    *,
    prefix_delegation: bool,
    custom_networking: bool = False,
    max_enis: int | None = None,
    show_max_allowed: bool = False,
) -> int:
    """max-pods-calculator.sh: prefix delegation only on Nitro, one ENI fewer with custom networking,
    ``--cni-max-eni`` limiting the ENIs, then the 110 / 250 ceiling unless ``--show-max-allowed``."""
    enis_for_pods = enis if max_enis is None else min(max_enis, enis)
    if custom_networking:
        enis_for_pods -= 1
    if prefix_delegation and hypervisor == "nitro":
        n = prefix_delegation_max_pods(enis_for_pods, ipv4_per_eni)
    else:
        n = eni_max_pods(enis_for_pods, ipv4_per_eni)
    if show_max_allowed:
        return n
    ceiling = MAX_POD_CEILING_FOR_HIGH_CPU if vcpu > HIGH_CPU_THRESHOLD else MAX_POD_CEILING_FOR_LOW_CPU
    return min(ceiling, n)


def max_pods(it: catalog.InstanceType, mode: str = DEFAULT_MODE, kubelet_max_pods: int | None = None) -> int:
    """The node's max pods (``status.capacity.pods``) for instance type ``it`` under networking ``mode``.

    ``kubelet_max_pods`` is the user's explicit ``spec.kubelet.maxPods`` (None or 0 when unset): it
    wins in every mode. Otherwise ``aws-vpc-cni`` gives eni-max-pods.txt's value, ``aws-vpc-cni-prefix``
    the calculator's prefix-delegation value with the EKS ceiling, ``overlay`` the kubelet default 110.
    """
    if kubelet_max_pods:
        return kubelet_max_pods
    if mode == "aws-vpc-cni":
        return eni_max_pods(it.max_enis, it.ipv4_per_eni)
    if mode == "aws-vpc-cni-prefix":
        return calculator_max_pods(
            it.max_enis, it.ipv4_per_eni, it.hypervisor, it.vcpu, prefix_delegation=True
        )
    if mode == "overlay":
        return catalog.DEFAULT_MAX_PODS
    raise ValueError(f'unknown networking mode "{mode}": want one of {", ".join(MODES)}')


def eni_max_pods_for(name: str) -> int:
    """eni-max-pods.txt's value for any of the 1,391 instance types in the networking table."""
    enis, ipv4_per_eni, _, _ = catalog.networking(name)
    return eni_max_pods(enis, ipv4_per_eni)
