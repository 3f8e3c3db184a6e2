"""Versioned object storage and the generic API registry over it.

``Store`` (storage.py) is the etcd-like layer: objects by (resource, namespace, name), a global
monotonically increasing resourceVersion, optimistic concurrency, a watch history window with
"too old" (410) semantics. It keeps everything in memory and, when given a sqlite path, writes
through to sqlite so a restarted process recovers every acknowledged write.

``Registry`` (registry.py) is the apiserver's generic registry: defaulting, validation,
generateName, uid/creationTimestamp/generation, status subresource rules, finalizers and
graceful deletion. Clients and the HTTP server talk to the registry, never to the Store directly.
"""

from kubetwin.store.registry import Registry
from kubetwin.store.storage import Store, Watcher, WatchEvent

__all__ = ["Registry", "Store", "WatchEvent", "Watcher"]
