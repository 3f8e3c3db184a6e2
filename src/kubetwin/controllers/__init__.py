"""Workload and cluster controllers, one module per upstream controller (pkg/controller/...).

``ALL`` lists the controller classes in start order; each is constructed ``(client, informers)``
and started with ``start()``.
"""

from __future__ import annotations

from kubetwin.client.controller import Controller
from kubetwin.controllers.daemonset import DaemonSetController
from kubetwin.controllers.deployment import DeploymentController
from kubetwin.controllers.disruption import DisruptionController
from kubetwin.controllers.garbagecollector import GarbageCollector
from kubetwin.controllers.hpa import HPAController
from kubetwin.controllers.job import JobController, TTLAfterFinishedController
from kubetwin.controllers.namespace import NamespaceController
from kubetwin.controllers.nodelifecycle import NodeLifecycleController, TaintEvictionController
from kubetwin.controllers.podgc import PodGCController
from kubetwin.controllers.replicaset import ReplicaSetController
from kubetwin.controllers.vpa.recommender import VPARecommender
from kubetwin.controllers.vpa.updater import VPAUpdater

ALL: list[type[Controller]] = [
    NamespaceController,
    GarbageCollector,
    NodeLifecycleController,
    TaintEvictionController,
    DeploymentController,
    ReplicaSetController,
    DaemonSetController,
    JobController,
    TTLAfterFinishedController,
    HPAController,
    VPARecommender,
    VPAUpdater,
    DisruptionController,
    PodGCController,
]

__all__ = [
    "ALL",
    "DaemonSetController",
    "DeploymentController",
    "DisruptionController",
    "GarbageCollector",
    "HPAController",
    "JobController",
    "NamespaceController",
    "NodeLifecycleController",
    "PodGCController",
    "ReplicaSetController",
    "TTLAfterFinishedController",
    "TaintEvictionController",
    "VPARecommender",
    "VPAUpdater",
]
