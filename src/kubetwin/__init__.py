"""kubetwin: a Kubernetes digital twin in one Python process."""

__version__ = "0.1.0"
KUBERNETES_VERSION = "v1.32.0"
