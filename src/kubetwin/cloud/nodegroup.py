"""NodeGroup controller: launches and terminates simulated EC2 instances as Node objects.

Behaves like a kops InstanceGroup / an EKS managed node group (an Auto Scaling group of one instance
type) together with the cloud-node-lifecycle controller (k8s.io/cloud-provider:
controllers/nodelifecycle/node_lifecycle_controller.go) and the AWS cloud provider's node
initialisation (k8s.io/cloud-provider-aws: pkg/providers/v1/aws.go ``NodeAddresses``, instance id
and zone as ``spec.providerID``). One reconcile per NodeGroup name:

- ``spec.instanceType`` is looked up in :mod:`kubetwin.cloud.catalog`; an unknown type sets the
  NodeGroup condition ``Ready=False`` reason ``UnknownInstanceType`` (the catalog's message lists
  close matches) and records a Warning event. Nothing crashes.
- The group keeps ``clamp(desiredSize, minSize, maxSize)`` Nodes (``desiredSize`` defaults to
  ``minSize``), placed in the least-populated zone first (round-robin from empty, AZ-balanced
  like an ASG), named like EC2 private DNS names (``ip-10-0-1-23.ec2.internal`` in us-east-1,
  ``ip-10-0-1-23.<region>.compute.internal`` elsewhere). Each zone owns a /19 of the 10.0.0.0/16
  VPC; host addresses come from the seeded RNG and are unique.
- ``spec.podCIDR`` is a /24 per node from 10.244.0.0/16 (continuing into 10.245.0.0/16 ... for
  more than 256 nodes), lowest free first, like the node IPAM controller's range allocator.
- Scaling down cordons and deletes the newest nodes (pods are left to podgc). Deleting the
  NodeGroup deletes its nodes.
- Nodes launched after virtual time 0 register with the ``node.kubernetes.io/not-ready:NoSchedule``
  taint, the annotation ``kubetwin.io/boot-seconds`` and the conditions a kubelet registers with
  (no pressure, Ready=False ``KubeletNotReady``: see :mod:`kubetwin.api.nodestatus`): the kubelet
  reports Ready that long after the Node appears, and no pod is scheduled there before. Nodes
  created at virtual time 0 are Ready at once.

- Node resources (reference sections 3, 9, 10): ``status.capacity.pods`` is the max pods of
  ``spec.networking.mode`` (:mod:`kubetwin.cloud.maxpods`; default ``aws-vpc-cni``, the EKS
  eni-max-pods.txt value; an explicit ``spec.kubelet.maxPods`` wins; ``spec.kubelet.podsPerCore``
  caps it at ``vCPU × podsPerCore``). ``spec.reservedPreset`` (``none`` default, ``eks``, ``gke``)
  fills kubeReserved (and, for eks, nodeadm's evictionHard) where ``spec.kubelet`` leaves them
  unset; the EKS memory formula uses the network's max pods, as nodeadm does. ``status.allocatable``
  is :func:`kubetwin.api.kubeletconfig.allocatable` of the effective KubeletConfiguration, which the
  Node carries as JSON in the annotation ``kubetwin.io/kubelet-config`` for the kubelet to read
  (eviction thresholds, periods).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from kubetwin.api import kubeletconfig, nodestatus
from kubetwin.api.errors import ApiError
from kubetwin.client import Client, Controller, InformerFactory
from kubetwin.cloud import catalog, cost, maxpods
from kubetwin.sim import SeededRNG
from kubetwin.store.copy import deep_copy

Obj = dict[str, Any]

NODEGROUP_RESOURCE = "nodegroups.kubetwin.io"
LABEL_NODEGROUP = "kubetwin.io/nodegroup"
LABEL_EKS_NODEGROUP = "eks.amazonaws.com/nodegroup"
LABEL_HOSTNAME = "kubernetes.io/hostname"
ANN_INSTANCE_TYPE = "kubetwin.io/instance-type"
ANN_CAPACITY_TYPE = "kubetwin.io/capacity-type"
ANN_PRICE = "kubetwin.io/price-per-hour"
ANN_BOOT_SECONDS = "kubetwin.io/boot-seconds"
ANN_KUBELET_CONFIG = "kubetwin.io/kubelet-config"
TAINT_NOT_READY = "node.kubernetes.io/not-ready"

DEFAULT_ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
# Launch-to-Ready for an EKS-optimised AMI node: EC2 boot, nodeadm, kubelet registration, aws-node
# (VPC CNI) start. About a minute on demand; spot adds the request-fulfilment step.
DEFAULT_BOOT_SECONDS = {"on-demand": 60.0, "spot": 70.0}
# The spot market is not modelled yet: without spec.spotPrice a spot instance costs a fixed fraction
# of the on-demand price. AWS advertises spot savings of "up to 90%" off on-demand, and typical
# savings for general-purpose types are 60-70%; the twin's default is 65% off (pay 35%).
DEFAULT_SPOT_DISCOUNT = 0.65
SPOT_PRICE_FACTOR = 1.0 - DEFAULT_SPOT_DISCOUNT
# Set by the cluster autoscaler (or a user) on a Node before lowering the group's desiredSize: the
# group removes marked nodes first (cloudprovider NodeGroup.DeleteNodes targets instances).
ANN_SCALE_DOWN = "kubetwin.io/scale-down"
# How often a group with running instances refreshes status.costUSD (written when a cent changes).
COST_REFRESH_SECONDS = 60.0

KUBELET_VERSION = "v1.32.0"
OS_IMAGE = "Amazon Linux 2023"
CONTAINER_RUNTIME_VERSION = "containerd://1.7.25"
KERNEL_VERSION = {"amd64": "6.1.128-136.201.amzn2023.x86_64", "arm64": "6.1.128-136.201.amzn2023.aarch64"}
KUBELET_PORT = 10250

POD_CIDR_FIRST_OCTET2 = 244  # 10.244.0.0/16, then 10.245.0.0/16, ... up to 10.255
MAX_POD_CIDRS = (256 - POD_CIDR_FIRST_OCTET2) * 256
VPC_ZONE_BLOCKS = 8  # 10.0.0.0/16 split into eight /19 subnets, one per zone


def allocatable_for(capacity: dict[str, str], kubelet_config: dict[str, Any]) -> dict[str, str]:
    """status.allocatable for a node with ``capacity`` and KubeletConfiguration ``kubelet_config``
    (capacity − kubeReserved − systemReserved − hard eviction threshold; see api.kubeletconfig)."""
    return kubeletconfig.allocatable(capacity, kubeletconfig.parse_kubelet_config(kubelet_config))


def private_dns_name(ip: str, region: str) -> str:
    """EC2 private DNS name: ``ip-10-0-1-23.ec2.internal`` (us-east-1) or ``...<region>.compute.internal``."""
    host = "ip-" + ip.replace(".", "-")
    return f"{host}.ec2.internal" if region == "us-east-1" else f"{host}.{region}.compute.internal"


def pod_cidr(index: int) -> str:
    return f"10.{POD_CIDR_FIRST_OCTET2 + index // 256}.{index % 256}.0/24"


def _pod_cidr_index(cidr: str) -> int | None:
    try:
        addr = cidr.split("/", 1)[0]
        parts = [int(p) for p in addr.split(".")]
    except ValueError:
        return None
    if len(parts) != 4 or parts[0] != 10 or parts[1] < POD_CIDR_FIRST_OCTET2:
        return None
    return (parts[1] - POD_CIDR_FIRST_OCTET2) * 256 + parts[2]


class SpecError(ValueError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


_PARSED: dict[str, tuple[Obj, GroupSpec]] = {}  # group name -> (the spec it was parsed from, result)


def parse_group_spec(name: str, spec: Obj) -> GroupSpec:
    """``GroupSpec(name, spec)``, remembered per group name while its spec stays equal (the
    controller re-reads each group every 30 s; a small dict compares in a microsecond, parsing
    the kubelet configuration takes a hundred). A GroupSpec is read-only. Raises SpecError."""
    hit = _PARSED.get(name)
    if hit is not None and hit[0] == spec:
        return hit[1]
    parsed = GroupSpec(name, spec)
    _PARSED[name] = (deep_copy(spec), parsed)
    return parsed


class GroupSpec:
    """A validated NodeGroup spec (read-only once built)."""

    def __init__(self, name: str, spec: Obj) -> None:
        self.name = name
        it_name = spec.get("instanceType")
        if not isinstance(it_name, str) or not it_name:
            raise SpecError("InvalidSpec", "spec.instanceType: Required value")
        try:
            self.instance_type = catalog.get(it_name)
        except catalog.UnknownInstanceType as e:
            raise SpecError("UnknownInstanceType", str(e)) from None
        self.min_size = _int(spec, "minSize", 0)
        self.max_size = _int(spec, "maxSize", max(self.min_size, 1))
        if self.min_size < 0 or self.max_size < 0:
            raise SpecError("InvalidSpec", "spec.minSize, spec.maxSize: must be greater than or equal to 0")
        if self.min_size > self.max_size:
            raise SpecError(
                "InvalidSpec",
                f"spec.minSize: Invalid value: {self.min_size}: must be less than or equal to maxSize",
            )
        desired = _int(spec, "desiredSize", self.min_size)
        self.desired = min(max(desired, self.min_size), self.max_size)
        capacity_type = str(spec.get("capacityType") or "on-demand").lower().replace("_", "-")
        if capacity_type not in DEFAULT_BOOT_SECONDS:
            raise SpecError(
                "InvalidSpec",
                f'spec.capacityType: Unsupported value: "{capacity_type}": supported values: '
                '"on-demand", "spot"',
            )
        self.capacity_type = capacity_type
        zones = spec.get("zones") or list(DEFAULT_ZONES)
        if not isinstance(zones, list) or not all(isinstance(z, str) for z in zones):
            raise SpecError("InvalidSpec", "spec.zones: must be a list of availability zone names")
        for z in zones:
            try:
                catalog.region_of(z)
            except (ValueError, IndexError):
                raise SpecError(
                    "InvalidSpec", f'spec.zones: Invalid value: "{z}": not an availability zone'
                ) from None
        self.zones: list[str] = list(dict.fromkeys(zones))
        self.labels: dict[str, str] = {str(k): str(v) for k, v in (spec.get("labels") or {}).items()}
        self.taints: list[Obj] = [dict(t) for t in spec.get("taints") or []]
        user_kubelet = spec.get("kubelet")
        if user_kubelet is not None and not isinstance(user_kubelet, dict):
            raise SpecError("InvalidSpec", "spec.kubelet: must be an object")
        mode = spec.get("networking", {}).get("mode") if isinstance(spec.get("networking"), dict) else None
        mode = mode or maxpods.DEFAULT_MODE
        if mode not in maxpods.MODES:
            raise SpecError(
                "InvalidSpec",
                f'spec.networking.mode: Unsupported value: "{mode}": supported values: '
                + ", ".join(f'"{m}"' for m in maxpods.MODES),
            )
        self.networking_mode: str = mode
        preset = spec.get("reservedPreset") or "none"
        if preset not in kubeletconfig.RESERVED_PRESETS:
            raise SpecError(
                "InvalidSpec",
                f'spec.reservedPreset: Unsupported value: "{preset}": supported values: '
                + ", ".join(f'"{p}"' for p in kubeletconfig.RESERVED_PRESETS),
            )
        self.reserved_preset: str = preset
        try:
            user_cfg = kubeletconfig.parse_kubelet_config(user_kubelet)
        except kubeletconfig.KubeletConfigError as e:
            raise SpecError("InvalidKubeletConfig", str(e)) from None
        it = self.instance_type
        explicit = (user_kubelet or {}).get("maxPods") or None
        network_max_pods = maxpods.max_pods(it, mode)
        node_max_pods = explicit or network_max_pods
        effective = kubeletconfig.apply_preset(
            user_kubelet, preset, it.vcpu * 1000, it.memory_bytes, network_max_pods
        )
        effective["maxPods"] = node_max_pods
        self.kubelet_config = kubeletconfig.parse_kubelet_config(effective)
        self.kubelet: Obj = self.kubelet_config.to_dict()
        pods = node_max_pods
        if user_cfg.pods_per_core > 0:
            pods = min(it.vcpu * user_cfg.pods_per_core, pods)
        self.capacity = catalog.node_capacity(it, pods)
        self.allocatable = kubeletconfig.allocatable(self.capacity, self.kubelet_config)
        spot = spec.get("spotPrice")
        self.spot_price: float | None = None
        if spot is not None:
            try:
                self.spot_price = float(spot)
            except (TypeError, ValueError):
                raise SpecError(
                    "InvalidSpec", f"spec.spotPrice: Invalid value: {spot!r}: must be a number (USD per hour)"
                ) from None
            if self.spot_price < 0:
                raise SpecError("InvalidSpec", "spec.spotPrice: must be greater than or equal to 0")
        boot = spec.get("bootSeconds")
        if boot is None:
            self.boot_seconds = DEFAULT_BOOT_SECONDS[capacity_type]
        else:
            try:
                self.boot_seconds = float(boot)
            except (TypeError, ValueError):
                raise SpecError(
                    "InvalidSpec", f"spec.bootSeconds: Invalid value: {boot!r}: must be a number"
                ) from None
            if self.boot_seconds < 0:
                raise SpecError("InvalidSpec", "spec.bootSeconds: must be greater than or equal to 0")

    @property
    def price_per_hour(self) -> float:
        """USD per instance-hour: the catalog's on-demand price, or for spot ``spec.spotPrice``
        (default on-demand × SPOT_PRICE_FACTOR)."""
        price = self.instance_type.price_per_hour
        if self.capacity_type != "spot":
            return price
        return self.spot_price if self.spot_price is not None else price * SPOT_PRICE_FACTOR


def _int(spec: Obj, field: str, default: int) -> int:
    value = spec.get(field, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError("InvalidSpec", f"spec.{field}: Invalid value: {value!r}: must be an integer")
    return value


def _condition(type_: str, status: str, reason: str, message: str, now: str, old: list[Obj]) -> Obj:
    prev = next((c for c in old if c.get("type") == type_), None)
    since = (
        prev["lastTransitionTime"]
        if prev and prev.get("status") == status and prev.get("lastTransitionTime")
        else now
    )
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": since,
    }


def _is_ready(node: Obj) -> bool:
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def build_node(spec: GroupSpec, zone: str, name: str) -> Obj:
    """The Node an instance of the group in ``zone`` registers as, minus what only a real instance
    has (providerID, podCIDR, addresses, boot ids, the boot taint): labels from the catalog and the
    group, the group's taints, capacity, allocatable and the kubelet-config annotation. Pure."""
    it = spec.instance_type
    labels = catalog.node_labels(it, zone, spec.capacity_type)
    labels.update(spec.labels)
    labels[LABEL_EKS_NODEGROUP] = spec.name
    labels[LABEL_NODEGROUP] = spec.name
    labels[LABEL_HOSTNAME] = name
    node_spec: Obj = {}
    if spec.taints:
        node_spec["taints"] = [deep_copy(t) for t in spec.taints]
    arch = it.arch
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {
                ANN_INSTANCE_TYPE: it.name,
                ANN_CAPACITY_TYPE: spec.capacity_type,
                ANN_PRICE: f"{spec.price_per_hour:.6g}",
                ANN_BOOT_SECONDS: "0",
                ANN_KUBELET_CONFIG: spec.kubelet_config.to_json(),
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": node_spec,
        "status": {
            "capacity": dict(spec.capacity),
            "allocatable": dict(spec.allocatable),
            "daemonEndpoints": {"kubeletEndpoint": {"Port": KUBELET_PORT}},
            "nodeInfo": {
                "architecture": arch,
                "bootID": "",
                "containerRuntimeVersion": CONTAINER_RUNTIME_VERSION,
                "kernelVersion": KERNEL_VERSION.get(arch, KERNEL_VERSION["amd64"]),
                "kubeProxyVersion": "",
                "kubeletVersion": KUBELET_VERSION,
                "machineID": "",
                "operatingSystem": "linux",
                "osImage": OS_IMAGE,
                "systemUUID": "",
            },
        },
    }


def template_node(nodegroup: Obj, index: int = 0) -> Obj:
    """The node a scale-up of ``nodegroup`` would add (cloudprovider NodeGroup.TemplateNodeInfo):
    exactly what the controller creates, in the group's first zone, Ready and without the boot-time
    not-ready taint (the cluster autoscaler sanitizes startup taints the same way). Named
    ``template-node-for-<group>-<index>``. Raises :class:`SpecError` for an invalid spec. Pure."""
    name = nodegroup["metadata"]["name"]
    spec = parse_group_spec(name, nodegroup.get("spec") or {})
    node = build_node(spec, spec.zones[0], f"template-node-for-{name}-{index}")
    node["status"]["conditions"] = [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]
    return node


_Bills = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]
_Tally = tuple[int, int, npt.NDArray[np.float64], npt.NDArray[np.float64]]


def _add_part(counts: list[int], node: Obj, sign: int) -> None:
    """Add ``node``'s part of a group's [ready, replicas] times ``sign``: a node not being deleted
    is a replica, and a ready one if its Ready condition is True."""
    if not node["metadata"].get("deletionTimestamp"):
        counts[1] += sign
        if _is_ready(node):
            counts[0] += sign


def _nodegroup_index(node: Obj) -> list[str]:
    """The ``nodegroup`` index: the group a node belongs to (its ``kubetwin.io/nodegroup`` label)."""
    return [node["metadata"].get("labels", {}).get(LABEL_NODEGROUP, "")]


def _labels(node: Obj) -> Any:
    """What ``_nodegroup_index`` reads of a node."""
    return node["metadata"].get("labels")


class NodeGroupController(Controller):
    """Keeps each NodeGroup's Nodes at its desired size (see the module docstring)."""

    name = "nodegroup-controller"

    def __init__(self, client: Client, informers: InformerFactory, rng: SeededRNG) -> None:
        super().__init__(client, informers)
        self.rng = rng.child("nodegroup")
        self.groups = informers.get(NODEGROUP_RESOURCE)
        self.nodes = informers.get("nodes")
        # the index reads only the labels: a status write keeps them and the values (a heartbeat,
        # which the node handlers' filter already tells apart, without a look at them)
        self.nodes.add_index("nodegroup", _nodegroup_index, reads=_labels, ignore=nodestatus.heartbeat_only)
        self.launched = 0
        self.terminated = 0
        # USD billed by each group's instances that are gone (see cloud.cost)
        self.closed_cost: dict[str, float] = {}
        self._billing: dict[str, tuple[float, float]] = {}  # node uid -> (USD per hour, launch time)
        # group -> [ready, replicas] over its members: counted once, then moved by the node handlers
        # as a member comes, goes, or flips Ready or deletion (not recounted per node event)
        self._counts: dict[str, list[int]] = {}
        # group -> (USD per hour, launch time) of every member in index order: rebuilt after a member
        # comes or goes (an update keeps a node's place in the index), not on every 30 s cost refresh
        self._bills: dict[str, _Bills] = {}

    def start(self) -> None:
        self.groups.add_handler(self.enqueue, lambda old, new: self.enqueue(new), self.enqueue)
        # a heartbeat keeps the group label, readiness and deletion as they were
        self.nodes.add_handler(self._node_changed, self._node_updated, self._node_deleted,
                               ignore=nodestatus.heartbeat_only)  # fmt: skip

    def _node_deleted(self, node: Obj) -> None:
        group = node["metadata"].get("labels", {}).get(LABEL_NODEGROUP)
        if not group:
            return
        self.closed_cost[group] = self.closed_cost.get(group, 0.0) + self._node_cost(node)
        self._billing.pop(node["metadata"].get("uid", ""), None)
        self._member_moved(group, node, -1)

    def _billing_of(self, node: Obj) -> tuple[float, float]:
        """(USD per hour, launch time): fixed for the instance's life, so parsed once per uid."""
        meta = node["metadata"]
        uid = meta.get("uid", "")
        billing = self._billing.get(uid)
        if billing is None:
            created = meta.get("creationTimestamp")
            if not created:
                return (0.0, self.loop.now)  # bills nothing yet (cost.instance_cost of no time)
            billing = self._billing[uid] = (cost.node_price(node), self.loop.parse_timestamp(created))
        return billing

    def _node_cost(self, node: Obj) -> float:
        price, launched = self._billing_of(node)
        return cost.instance_cost(price, launched, self.loop.now)

    def _group_tally(self, group: str) -> _Tally:
        """(ready, replicas, USD per hour, launch times) of ``group``'s members (its index bucket).
        The kept counts and billing columns are moved or dropped by the node handlers whenever a
        member comes, goes or changes what they read, so while both are kept the bucket is not
        listed (a 900-node list every 30 s)."""
        bills = self._bills.get(group)
        counts = self._counts.get(group)
        if counts is not None and bills is not None:
            return counts[0], counts[1], bills[0], bills[1]
        members = self.nodes.by_index("nodegroup", group)
        if counts is None:
            counts = self._counts[group] = [0, 0]
            for n in members:
                _add_part(counts, n, 1)
        if bills is None or len(bills[0]) != len(members):
            billing = [self._billing_of(n) for n in members]
            bills = self._bills[group] = (
                np.array([p for p, _ in billing], dtype=np.float64),
                np.array([t for _, t in billing], dtype=np.float64),
            )
        return counts[0], counts[1], bills[0], bills[1]

    def cost_usd(self, group: str) -> float:
        """USD billed so far by the group's instances (terminated and running)."""
        return self._cost(group)

    def _cost(self, group: str) -> float:
        """cost_usd of ``group``: the running ones' summed over the kept billing columns (the
        every-30 s refresh of a 900-node group)."""
        _, _, prices, launched = self._group_tally(group)
        return self.closed_cost.get(group, 0.0) + cost.instances_cost(prices, launched, self.loop.now)

    def _member_moved(self, group: str, node: Obj, sign: int) -> None:
        """``node`` joined (``sign`` 1) or left (-1) ``group``: its part of the kept counts moves,
        the billing columns are rebuilt at the next read, and the group is synced."""
        counts = self._counts.get(group)
        if counts is not None:
            _add_part(counts, node, sign)
        self._bills.pop(group, None)
        self.queue.add(group)

    def _node_changed(self, node: Obj) -> None:
        group = node["metadata"].get("labels", {}).get(LABEL_NODEGROUP)
        if group:
            self._member_moved(group, node, 1)

    def _node_updated(self, old: Obj, new: Obj) -> None:
        old_group = old["metadata"].get("labels", {}).get(LABEL_NODEGROUP)
        group = new["metadata"].get("labels", {}).get(LABEL_NODEGROUP)
        if old_group != group:
            if old_group:
                self._member_moved(old_group, old, -1)
            if group:
                self._member_moved(group, new, 1)
        elif group and (
            _is_ready(old) != _is_ready(new)
            or bool(old["metadata"].get("deletionTimestamp")) != bool(new["metadata"].get("deletionTimestamp"))
        ):
            # the same member (its place in the index kept): only its part of the counts moves
            counts = self._counts.get(group)
            if counts is not None:
                _add_part(counts, old, -1)
                _add_part(counts, new, 1)
            self.queue.add(group)

    # ------------------------------------------------------------------------------------------
    def reconcile(self, key: str) -> float | None:
        group = self.groups.get(key)
        if group is None or group["metadata"].get("deletionTimestamp"):
            for node in self.nodes.by_index("nodegroup", key):
                self._delete_node(node)
            return None
        try:
            spec = parse_group_spec(key, group.get("spec") or {})
        except SpecError as e:
            self._set_status(group, None, ("False", e.reason, e.message))
            return None
        if self._group_tally(key)[1] != spec.desired:
            members = self.nodes.by_index("nodegroup", key)
            active = [n for n in members if not n["metadata"].get("deletionTimestamp")]
            if len(active) < spec.desired:
                self._scale_up(group, spec, active, spec.desired - len(active))
            elif len(active) > spec.desired:
                self._scale_down(group, active, len(active) - spec.desired)
        self._set_status(group, spec, None)
        return COST_REFRESH_SECONDS if len(self._group_tally(key)[2]) else None

    # -- scale up -------------------------------------------------------------------------------
    def _scale_up(self, group: Obj, spec: GroupSpec, active: list[Obj], count: int) -> None:
        per_zone = {z: 0 for z in spec.zones}
        for n in active:
            z = n["metadata"].get("labels", {}).get("topology.kubernetes.io/zone", "")
            if z in per_zone:
                per_zone[z] += 1
        used_names = set(self.nodes.keys())
        used_cidrs: set[int] = set()
        for n in self.nodes.list():
            idx = _pod_cidr_index((n.get("spec") or {}).get("podCIDR") or "")
            if idx is not None:
                used_cidrs.add(idx)
        next_cidr = 0
        for _ in range(count):
            zone = min(spec.zones, key=lambda z: per_zone[z])  # first least-populated, in spec order
            while next_cidr in used_cidrs:
                next_cidr += 1
            if next_cidr >= MAX_POD_CIDRS:
                self.recorder.warning(
                    group, "CIDRNotAvailable", "no remaining pod CIDR ranges in 10.244.0.0/16-10.255.0.0/16"
                )
                return
            node = self._new_node(group, spec, zone, used_names, pod_cidr(next_cidr))
            try:
                created = self.client.create(node)
            except ApiError as e:
                self.recorder.warning(group, "FailedCreate", f"Error creating node: {e.message}")
                raise
            used_cidrs.add(next_cidr)
            used_names.add(created["metadata"]["name"])
            per_zone[zone] += 1
            self.launched += 1
            instance = created["spec"]["providerID"].rsplit("/", 1)[-1]
            self.recorder.normal(
                group,
                "SuccessfulCreate",
                f"Launched instance {instance} (node {created['metadata']['name']}) in {zone}",
            )

    def _new_node(self, group: Obj, spec: GroupSpec, zone: str, used: set[str], cidr: str) -> Obj:
        region = catalog.region_of(zone)
        zone_index = spec.zones.index(zone) % VPC_ZONE_BLOCKS
        while True:
            ip = f"10.0.{zone_index * 32 + self.rng.randint(0, 31)}.{self.rng.randint(4, 254)}"
            name = private_dns_name(ip, region)
            if name not in used:
                break
        at_start = self.loop.now <= 0.0
        boot = 0.0 if at_start else spec.boot_seconds
        node = build_node(spec, zone, name)
        meta = node["metadata"]
        meta["annotations"][ANN_BOOT_SECONDS] = f"{boot:g}"
        taints = node["spec"].get("taints") or []
        if boot > 0:
            if not any(t.get("key") == TAINT_NOT_READY for t in taints):
                node["spec"]["taints"] = [*taints, {"key": TAINT_NOT_READY, "effect": "NoSchedule"}]
            # registered as the kubelet's first setNodeStatus leaves it: not Ready while the CNI
            # starts (a node without conditions would lose the not-ready taint to the node
            # lifecycle controller before its kubelet posts one, and take pods while booting)
            node["status"]["conditions"] = nodestatus.registration_conditions(self.loop.timestamp(), ready=False)
        node["spec"].update(
            {"providerID": f"aws:///{zone}/i-0{self.rng.hex(16)}", "podCIDR": cidr, "podCIDRs": [cidr]}
        )
        uid = self.rng.hex(32)
        status = node["status"]
        status["addresses"] = [
            {"type": "InternalIP", "address": ip},
            {"type": "InternalDNS", "address": name},
            {"type": "Hostname", "address": name},
        ]
        info = status["nodeInfo"]
        info["bootID"] = _uuid(self.rng.hex(32))
        info["machineID"] = "ec2" + uid[3:]
        info["systemUUID"] = _uuid("ec2" + self.rng.hex(29))
        return node

    # -- scale down -----------------------------------------------------------------------------
    def _scale_down(self, group: Obj, active: list[Obj], count: int) -> None:
        # Nodes marked kubetwin.io/scale-down first, then the newest.
        newest = sorted(
            active,
            key=lambda n: (
                (n["metadata"].get("annotations") or {}).get(ANN_SCALE_DOWN) == "true",
                n["metadata"].get("creationTimestamp", ""),
                n["metadata"]["name"],
            ),
            reverse=True,
        )
        for node in newest[:count]:
            name = node["metadata"]["name"]
            if not (node.get("spec") or {}).get("unschedulable"):
                cordoned = deep_copy(node)
                cordoned["spec"]["unschedulable"] = True
                self.client.update(cordoned)
            self._delete_node(node)
            instance = (node.get("spec") or {}).get("providerID", "").rsplit("/", 1)[-1]
            self.recorder.normal(group, "SuccessfulDelete", f"Terminated instance {instance} (node {name})")

    def _delete_node(self, node: Obj) -> None:
        try:
            self.client.delete(
                "nodes", node["metadata"]["name"], preconditions={"uid": node["metadata"]["uid"]}
            )
            self.terminated += 1
        except ApiError as e:
            if e.code != 404:
                raise

    # -- status ---------------------------------------------------------------------------------
    def _set_status(self, group: Obj, spec: GroupSpec | None, failure: tuple[str, str, str] | None) -> None:
        old = group.get("status") or {}
        now = self.loop.timestamp()
        ready, replicas, _, _ = self._group_tally(group["metadata"]["name"])
        old_conds = old.get("conditions") or []
        if failure is not None:
            cond = _condition("Ready", *failure, now, old_conds)
        elif spec is not None and ready >= spec.desired and replicas == spec.desired:
            cond = _condition(
                "Ready", "True", "AllNodesReady", f"{ready}/{spec.desired} nodes ready", now, old_conds
            )
        else:
            desired = spec.desired if spec else 0
            cond = _condition(
                "Ready", "False", "NodesNotReady", f"{ready}/{desired} nodes ready", now, old_conds
            )
        status: Obj = {
            "observedGeneration": group["metadata"].get("generation", 1),
            "replicas": replicas,
            "readyReplicas": ready,
            "desiredSize": spec.desired if spec else 0,
            "conditions": [cond],
        }
        if spec is not None:
            status["instanceType"] = spec.instance_type.name
            status["selector"] = f"{LABEL_NODEGROUP}={spec.name}"
            status["capacityType"] = spec.capacity_type
            status["pricePerHour"] = round(spec.price_per_hour, 6)
        status["costUSD"] = round(self._cost(group["metadata"]["name"]), 2)
        if status == old:
            return
        prev = next((c for c in old_conds if c.get("type") == "Ready"), None)
        if failure is not None and (
            prev is None or prev.get("reason") != failure[1] or prev.get("message") != failure[2]
        ):
            self.recorder.warning(group, failure[1], failure[2])
        new = {
            "apiVersion": group["apiVersion"],
            "kind": group["kind"],
            "metadata": {"name": group["metadata"]["name"], "uid": group["metadata"].get("uid")},
            "status": status,
        }
        self.client.update_status(new)


def _uuid(h: str) -> str:
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
