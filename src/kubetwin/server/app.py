"""The aiohttp application: routing, the error middleware and the non-resource endpoints
(k8s.io/apiserver/pkg/server: handler chain, /version, discovery, /openapi/v2 and v3, healthz).

Every request first lets the virtual clock catch up with wall time (so timestamps and AGE are
current), then runs its handler synchronously against the registry, then kicks the clock driver
so work the write scheduled at the current instant (controller queues) runs right away.
Every failure leaves as a ``Status``: ApiErrors verbatim, anything unexpected as a 500 with a
short message (the traceback goes to stderr only).
"""

from __future__ import annotations

import asyncio
import sys
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from kubetwin.api import errors
from kubetwin.server import clock as clockapi
from kubetwin.server import custom_metrics, discovery, http, metrics, openapi, rest
from kubetwin.server.clock import ClockDriver

if TYPE_CHECKING:
    from kubetwin.scenario.runtime import Cluster

BOOKMARK_INTERVAL = 10.0


@dataclass
class ServerState:
    cluster: Cluster
    driver: ClockDriver
    server_address: str = "127.0.0.1:6443"
    bookmark_interval: float = BOOKMARK_INTERVAL
    usage_provider: metrics.UsageProvider = metrics.requests_usage
    node_usage: metrics.NodeUsage | None = None  # None: sum of the node's pods + overhead
    watches: set[asyncio.Queue[Any]] = field(default_factory=set)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error_middleware(state: ServerState) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            state.driver.sync()
            if request.path.rstrip("/") != "/openapi/v2":  # negotiates its own media types
                http.check_acceptable(request)
            resp = await handler(request)
        except errors.ApiError as e:
            resp = http.status_response(e)
        except web.HTTPException:
            raise
        except asyncio.CancelledError:
            raise
        except Exception as e:  # never a traceback on the wire
            print(f"kubetwin serve: {request.method} {request.path_qs} failed:", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
            resp = http.status_response(errors.internal(f"{type(e).__name__}: {e}"))
        if request.method != "GET":
            state.driver.kick()
        return resp

    return middleware


def _discovery_response(request: web.Request, core: bool) -> web.Response | None:
    v = discovery.negotiate(request.headers.get("Accept", ""))
    if v is not None:
        return http.json_response(discovery.aggregated(v, core), content_type=discovery.AGGREGATED_CT.format(v=v))
    return None


class Dispatcher:
    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.rest = rest.ResourceAPI(state)

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        segs = [s for s in path.split("/") if s]
        m = request.method
        if path == "/version":
            return http.json_response(discovery.version_info())
        if path in ("/healthz", "/livez", "/readyz"):
            return web.Response(text="ok", content_type="text/plain")
        if path == "/api":
            return _discovery_response(request, True) or http.json_response(
                discovery.api_versions(self.state.server_address)
            )
        if path == "/apis":
            return custom_metrics.apis_response(request)  # discovery + the metrics adapters' groups
        if segs[0] == "openapi":
            return self.openapi(request, segs)
        if segs[0] == "api" and len(segs) >= 2:
            group, version, rest_segs = "", segs[1], segs[2:]
        elif segs[0] == "apis" and len(segs) >= 2:
            if segs[1] in custom_metrics.GROUPS:
                if len(segs) == 2:
                    return custom_metrics.group_response(segs[1])
                return custom_metrics.handle(self.state, request, segs[1], segs[2], segs[3:])
            if len(segs) == 2:
                doc = discovery.api_group(segs[1])
                if doc is None:
                    raise http.not_found_path()
                return http.json_response(doc)
            group, version, rest_segs = segs[1], segs[2], segs[3:]
        else:
            raise http.not_found_path()
        if not rest_segs:
            if m != "GET":
                raise errors.method_not_allowed(f"{m} is not supported")
            doc = discovery.api_resource_list(group, version)
            if doc is None:
                raise http.not_found_path()
            return http.json_response(doc)
        if group == "kubetwin.io" and rest_segs[0] == "clock" and len(rest_segs) <= 2:
            body = await http.read_body(request, allow_empty=True) if m in ("POST", "PUT") else None
            action = rest_segs[1] if len(rest_segs) == 2 else None
            return http.json_response(clockapi.handle(self.state.driver, m, action, body))
        if group == "metrics.k8s.io" and version == "v1beta1":
            return self.metrics(request, rest_segs)
        if group == "authorization.k8s.io" and version == "v1":
            return await self.authorization(request, rest_segs)
        target = rest.parse(group, version, rest_segs)
        if target is None:
            raise http.not_found_path()
        return await self.rest.handle(request, target)

    def openapi(self, request: web.Request, segs: list[str]) -> web.Response:
        if segs == ["openapi", "v2"]:
            from kubetwin.server import openapi_v2  # imported on first use: startup does not pay for it

            return openapi_v2.respond(request)
        if len(segs) >= 2 and segs[1] == "v3":
            if len(segs) == 2:
                return http.json_response(openapi.openapi_v3_index())
            if segs[2] == "api" and len(segs) == 4:
                doc = openapi.openapi_v3_document("", segs[3])
            elif segs[2] == "apis" and len(segs) == 5:
                doc = openapi.openapi_v3_document(segs[3], segs[4])
            else:
                doc = None
            if doc is not None:
                return http.json_response(doc)
        raise http.not_found_path()

    def metrics(self, request: web.Request, segs: list[str]) -> web.Response:
        if request.method != "GET":
            raise errors.method_not_allowed(f"{request.method} is not supported on metrics")
        ns = None
        if segs[0] == "namespaces" and len(segs) >= 3:
            ns, segs = segs[1], segs[2:]
        if segs[0] not in ("nodes", "pods") or len(segs) > 2 or (segs[0] == "nodes" and ns is not None):
            raise http.not_found_path()
        cluster = self.state.cluster
        return http.json_response(
            metrics.serve(
                cluster.store,
                cluster.loop,
                self.state.usage_provider,
                segs[0],
                ns,
                segs[1] if len(segs) == 2 else None,
                request.query.get("labelSelector") or None,
                request.query.get("fieldSelector") or None,
                self.state.node_usage,
            )
        )

    async def authorization(self, request: web.Request, segs: list[str]) -> web.Response:
        """Self reviews answer "allowed" until authorization lands (issue: auth)."""
        if len(segs) != 1 or segs[0] not in ("selfsubjectaccessreviews", "selfsubjectrulesreviews"):
            raise http.not_found_path()
        if request.method != "POST":
            raise errors.method_not_allowed(f"{request.method} is not supported on {segs[0]}")
        body = await http.read_body(request)
        if not isinstance(body, dict):
            raise errors.bad_request("the request body must be an object")
        out = dict(body)
        out["apiVersion"] = "authorization.k8s.io/v1"
        out.setdefault("metadata", {})
        if segs[0] == "selfsubjectaccessreviews":
            out["kind"] = "SelfSubjectAccessReview"
            out["status"] = {"allowed": True, "reason": "kubetwin allows every request"}
        else:
            out["kind"] = "SelfSubjectRulesReview"
            out["status"] = {
                "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                "incomplete": False,
            }
        return http.json_response(out, 201)


def make_app(state: ServerState) -> web.Application:
    app = web.Application(middlewares=[_error_middleware(state)], client_max_size=64 * 1024 * 1024)
    custom_metrics.install(state)  # metrics.k8s.io reads the metrics pipeline when there is one
    dispatcher = Dispatcher(state)
    app.router.add_route("*", "/{tail:.*}", dispatcher.__call__)

    async def on_shutdown(_app: web.Application) -> None:
        rest.close_watches(state.watches)

    app.on_shutdown.append(on_shutdown)
    return app
