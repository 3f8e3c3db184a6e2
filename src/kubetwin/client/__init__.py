"""In-process client, shared informers with listers and indexes, work queues, controller base.

Peers (scheduler, kubelet, controllers, cloud, ...) talk to the cluster only through this layer.
"""

from kubetwin.client.client import Client
from kubetwin.client.controller import Controller
from kubetwin.client.events import EventRecorder
from kubetwin.client.informer import Informer, InformerFactory
from kubetwin.client.workqueue import RateLimiter, WorkQueue

__all__ = ["Client", "Controller", "EventRecorder", "Informer", "InformerFactory", "RateLimiter", "WorkQueue"]
