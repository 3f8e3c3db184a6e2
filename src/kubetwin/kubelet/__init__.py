"""Simulated kubelets: one per Node (pkg/kubelet).

Upstream files whose behaviour is reproduced: kubelet.go (admission flow, rejectPod),
kubelet_node_status.go + nodestatus/setters.go (node conditions), nodelease (Lease renewal),
lifecycle/predicate.go (admission), pod_workers.go + kuberuntime (pod lifecycle, back-off),
status/status_manager.go + status/generate.go + kubelet_pods.go (pod status), images/image_manager.go
(pull events), and the CNI host-local IPAM plugin (pod IPs).
"""

from kubetwin.kubelet.kubelet import Kubelet
from kubetwin.kubelet.manager import KubeletManager
from kubetwin.kubelet.resource_model import NoopResourceModel, ResourceModel

__all__ = ["Kubelet", "KubeletManager", "NoopResourceModel", "ResourceModel"]
