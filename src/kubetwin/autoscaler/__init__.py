"""The cluster autoscaler (kubernetes/autoscaler: cluster-autoscaler) over kubetwin NodeGroups.

One layer above the peers: it simulates placement with the scheduler's framework and builds
template nodes with the cloud package's NodeGroup logic, as upstream vendors kube-scheduler and
calls its cloud provider. Nothing imports it but scenario, server and cli.
"""

from kubetwin.autoscaler.autoscaler import ClusterAutoscaler
from kubetwin.autoscaler.config import Options

__all__ = ["ClusterAutoscaler", "Options"]
