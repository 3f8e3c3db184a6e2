"""Names the scheduler shares across its modules.

The pod resource math, label/node selector matching and taint toleration the scheduler needs
come from the api package (``kubetwin.api.resources``, ``kubetwin.api.selectors``); this module only
keeps the resource names and the selector identity used as a cache key.
"""

from __future__ import annotations

from kubetwin.api.selectors import label_selector_key as selector_key

CPU = "cpu"
MEMORY = "memory"
EPHEMERAL = "ephemeral-storage"
PODS = "pods"

__all__ = ["CPU", "EPHEMERAL", "MEMORY", "PODS", "selector_key"]
