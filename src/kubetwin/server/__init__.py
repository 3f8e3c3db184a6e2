"""``kubetwin serve``: the Kubernetes HTTP API over the twin (thin: HTTP <-> Registry).

Modules: app (routing, error middleware, non-resource endpoints), rest (resource verbs, watch,
subresources), discovery, http (bodies, negotiation), protobuf (protobuf request bodies of any
built-in kind, decoded with upstream's descriptors in data/), clock (virtual clock driver + clock
API), metrics (metrics.k8s.io and the usage-provider seam), custom_metrics (custom.metrics.k8s.io
and external.metrics.k8s.io from the metrics pipeline), logs (synthetic pods/log), render (Table
and field-validation collaborators), tls, kubeconfig, serve (the Server and the CLI entry point).
"""
