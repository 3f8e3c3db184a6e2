"""REST handlers for every kind in ``api.kinds`` (k8s.io/apiserver/pkg/endpoints/handlers:
get.go, create.go, update.go, patch.go, delete.go, watch.go) plus the subresources status, scale,
pods/eviction, pods/binding, pods/log and namespaces/finalize.

Handlers translate HTTP to Registry calls and back; all write logic lives in the registry (the
same write path the in-process client uses). A version served by conversion (autoscaling/v1
HorizontalPodAutoscalers, stored as v2) is converted at this boundary: every object leaving is
``api.conversion.from_storage``'d to the URL's version, bodies in that version are converted by the
registry on the way in, and patches are applied to the object in the URL's version. Everything runs on the one asyncio loop that also
drives the virtual clock, so no lock is needed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from kubetwin.api import conversion, errors, kinds, selectors
from kubetwin.server import http, render
from kubetwin.store.copy import deep_copy
from kubetwin.store.patch import json_patch, merge_patch

if TYPE_CHECKING:
    from kubetwin.server.app import ServerState

_BY_GVR = {(k.group, k.version, k.plural): k for k in kinds.all_served()}


@dataclass
class Target:
    info: kinds.KindInfo
    namespace: str | None  # None: all namespaces (or cluster-scoped)
    name: str | None
    subresource: str | None
    watch: bool


def parse(group: str, version: str, rest: list[str]) -> Target | None:
    """The resource a path names, or None if it names nothing we serve."""
    watch = False
    if rest and rest[0] == "watch":
        watch, rest = True, rest[1:]
    if not rest:
        return None
    ns: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3 and (group, version, rest[2]) in _BY_GVR:
        ns, rest = rest[1], rest[2:]
    if len(rest) > 3:
        return None
    info = _BY_GVR.get((group, version, rest[0]))
    if info is None:
        return None
    if ns is not None and not info.namespaced:
        return None
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if name == "":
        return None
    return Target(info, ns, name, sub, watch)


def _manager(request: web.Request) -> str:
    """fieldManager, else the User-Agent's first word (apiserver's default field manager)."""
    m = request.query.get("fieldManager")
    if m:
        if len(m) > 128:
            raise errors.bad_request("fieldManager: Too long: may not be more than 128 bytes")
        return m
    ua = request.headers.get("User-Agent", "")
    return ua.split("/", 1)[0].strip()[:128] or "unknown"


def _without_directives(patch: Any) -> Any:
    """A strategic merge patch less its ``$`` directives (``$patch``, ``$setElementOrder/...``,
    ``$retainKeys``, ``$deleteFromPrimitiveList/...``), the part that is fields of the kind."""
    if isinstance(patch, dict):
        return {k: _without_directives(v) for k, v in patch.items() if not k.startswith("$")}
    if isinstance(patch, list):
        return [_without_directives(v) for v in patch]
    return patch


def _list_kind_obj(info: kinds.KindInfo) -> str:
    return f"{info.kind}List"


class ResourceAPI:
    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.registry = state.cluster.registry
        self.clock = state.cluster.loop

    # -- entry ---------------------------------------------------------------------------------
    async def handle(self, request: web.Request, t: Target) -> web.StreamResponse:
        m = request.method
        if t.watch or (m == "GET" and t.name is None and http.query_bool(request, "watch")):
            if m != "GET":
                raise errors.method_not_allowed(f"{m} is not supported on a watch")
            return await self.watch(request, t)
        if t.subresource:
            return await self.subresource(request, t)
        if t.name is None:
            if m == "GET":
                return self.list(request, t)
            if m == "POST":
                return await self.create(request, t)
            if m == "DELETE":
                return await self.delete_collection(request, t)
        else:
            if m == "GET":
                return self.get(request, t)
            if m == "PUT":
                return await self.update(request, t)
            if m == "PATCH":
                return await self.patch(request, t)
            if m == "DELETE":
                return await self.delete(request, t)
        raise errors.method_not_allowed(f"the server does not allow this method on the requested resource ({m})")

    def _ns(self, t: Target) -> str | None:
        if not t.info.namespaced:
            return None
        return t.namespace

    def _require_ns(self, t: Target) -> str:
        if t.info.namespaced and t.namespace is None:
            raise http.not_found_path()
        return t.namespace or ""

    @staticmethod
    def _out(t: Target, obj: dict[str, Any]) -> dict[str, Any]:
        """A stored object as the URL's version serves it."""
        return conversion.from_storage(obj, t.info.api_version) if t.info.converted else obj

    def _table(self, t: Target, objs: list[dict[str, Any]], include: str) -> dict[str, Any]:
        """The Table of stored objects (the printers read the stored version, as upstream's read the
        internal one); with includeObject=Object the rows carry the objects in the URL's version."""
        table = render.to_table(t.info, objs, include, self.clock)
        if t.info.converted and include == "Object":
            for row, obj in zip(table["rows"], objs, strict=True):
                row["object"] = self._out(t, obj)
        return table

    def _respond(self, request: web.Request, t: Target, obj: dict[str, Any], code: int = 200) -> web.Response:
        if http.wants_table(request):
            return http.json_response(self._table(t, [obj], request.query.get("includeObject", "Metadata")), code)
        return http.json_response(self._out(t, obj), code)

    def _validate_fields(self, request: web.Request, obj: Any, prune: bool = False) -> list[str]:
        """fieldValidation: Strict rejects unknown fields (400), Warn returns them as warnings.
        ``prune`` (a whole object: create, update): under Warn and Ignore the unknown fields are
        also dropped from ``obj``, as kube-apiserver's decoding drops what its types do not have."""
        mode = request.query.get("fieldValidation", "Warn") or "Warn"
        if mode not in ("Strict", "Warn", "Ignore"):
            raise errors.bad_request(
                f'fieldValidation: Unsupported value: "{mode}": supported values: "Ignore", "Strict", "Warn"'
            )
        if not isinstance(obj, dict) or (mode == "Ignore" and not prune):
            return []
        check = render.field_pruner() if prune and mode != "Strict" else render.strict_checker()
        try:
            unknown = check(obj)
        except Exception:  # the schema does not know this kind: no opinion
            return []
        if mode == "Ignore":
            return []
        if not unknown:
            return []
        msgs = [f'unknown field "{f}"' for f in unknown]
        if mode == "Strict":
            raise errors.bad_request("strict decoding error: " + ", ".join(msgs))
        return msgs

    @staticmethod
    def _warn(resp: web.Response, warnings: list[str]) -> web.Response:
        for w in warnings:
            resp.headers.add("Warning", '299 - "' + w.replace('"', '\\"') + '"')
        return resp

    def _fill_type(self, t: Target, obj: Any) -> dict[str, Any]:
        if not isinstance(obj, dict):
            raise errors.bad_request("the request body must be a JSON object")
        av, kind = obj.get("apiVersion"), obj.get("kind")
        if not av and not kind:
            obj = dict(obj, apiVersion=t.info.api_version, kind=t.info.kind)
        else:
            info = kinds.for_object(obj)  # the stored kind; legacy aliases (events.k8s.io/v1) map to it
            served = {info.api_version, *(kinds.served_as(info, v).api_version for v in info.served_versions)}
            if info.resource != t.info.resource or (av != t.info.api_version and av in served):
                raise errors.bad_request(
                    f"the API version in the data ({av}) does not match the expected API version "
                    f"({t.info.api_version})"
                    if info.kind == t.info.kind
                    else f"the kind in the data ({kind}) does not match the resource {t.info.resource}"
                )
        return obj

    # -- reads ---------------------------------------------------------------------------------
    def get(self, request: web.Request, t: Target) -> web.Response:
        assert t.name is not None
        obj = self.registry.get(t.info.resource, t.name, self._require_ns(t), copy=False)
        return self._respond(request, t, obj)

    def list(self, request: web.Request, t: Target) -> web.Response:
        q = request.query
        limit = http.query_int(request, "limit")
        result = self.registry.list(
            t.info.resource,
            self._ns(t),
            label_selector=q.get("labelSelector") or None,
            field_selector=q.get("fieldSelector") or None,
            limit=limit if limit and limit > 0 else None,
            continue_token=q.get("continue") or None,
            copy=False,
        )
        if http.wants_table(request):
            table = self._table(t, result["items"], q.get("includeObject", "Metadata"))
            table["metadata"] = dict(result["metadata"])
            return http.json_response(table)
        if t.info.converted:
            result = dict(result, apiVersion=t.info.api_version, items=[self._out(t, o) for o in result["items"]])
        return http.json_response(result)

    # -- writes --------------------------------------------------------------------------------
    async def create(self, request: web.Request, t: Target) -> web.Response:
        ns = self._require_ns(t) if t.info.namespaced else None
        obj = self._fill_type(t, await http.read_body(request))
        warnings = self._validate_fields(request, obj, prune=True)
        created = self.registry.create(
            obj, namespace=ns, dry_run=http.dry_run(request), field_manager=_manager(request)
        )
        return self._warn(self._respond(request, t, created, 201), warnings)

    async def update(self, request: web.Request, t: Target, subresource: str | None = None) -> web.Response:
        assert t.name is not None
        ns = self._require_ns(t)
        obj = self._fill_type(t, await http.read_body(request))
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if meta.get("name") not in (None, t.name):
            raise errors.bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({t.name})"
            )
        if t.info.namespaced and meta.get("namespace") not in (None, "", ns):
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        obj = dict(obj, metadata=dict(meta, name=t.name, **({"namespace": ns} if t.info.namespaced else {})))
        warnings = self._validate_fields(request, obj, prune=True)
        updated = self.registry.update(
            obj, subresource=subresource, dry_run=http.dry_run(request), field_manager=_manager(request)
        )
        return self._warn(self._respond(request, t, updated), warnings)

    async def patch(self, request: web.Request, t: Target, subresource: str | None = None) -> web.Response:
        assert t.name is not None
        ns = self._require_ns(t)
        ct = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        ptype = http.PATCH_TYPES.get(ct)
        if ptype is None:
            raise errors.ApiError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format - accepted media types include: "
                f"{', '.join(http.PATCH_TYPES)}",
            )
        body = await http.read_body(request)
        force = http.query_bool(request, "force")
        if force and ptype != "apply":
            raise errors.bad_request("force may not be set for non-apply patch")
        manager = request.query.get("fieldManager") or None
        if ptype != "apply":
            manager = _manager(request)
        if ptype == "apply" and isinstance(body, dict) and (body.get("apiVersion") or body.get("kind")):
            self._fill_type(t, body)
        # Unknown fields in the patch itself (less its SMP directives; JSON patches are not objects of the kind).
        warnings = (
            self._validate_fields(
                request, dict(_without_directives(body), apiVersion=t.info.api_version, kind=t.info.kind)
            )
            if ptype in ("merge", "apply", "strategic") and isinstance(body, dict) and subresource is None
            else []
        )
        exists = self.registry.store.get(t.info.resource, ns if t.info.namespaced else "", t.name) is not None
        mode = request.query.get("fieldValidation", "Warn") or "Warn"
        prune = render.field_pruner() if ptype != "apply" and mode != "Strict" else None
        result = self.registry.patch(
            t.info.resource,
            t.name,
            body,
            ns if t.info.namespaced else None,
            patch_type=ptype,
            subresource=subresource,
            dry_run=http.dry_run(request),
            field_manager=manager,
            force=force,
            version=t.info.api_version if t.info.converted else None,
            prune=prune,
        )
        code = 201 if ptype == "apply" and not exists else 200
        return self._warn(self._respond(request, t, result, code), warnings)

    async def _delete_options(self, request: web.Request) -> dict[str, Any]:
        body = await http.read_body(request, allow_empty=True)
        opts: dict[str, Any] = dict(body) if isinstance(body, dict) else {}
        grace = http.query_int(request, "gracePeriodSeconds")
        if grace is not None:
            opts["gracePeriodSeconds"] = grace
        if request.query.get("propagationPolicy"):
            opts["propagationPolicy"] = request.query["propagationPolicy"]
        if "orphanDependents" in request.query:
            opts["orphanDependents"] = http.query_bool(request, "orphanDependents")
        if opts.get("orphanDependents") is not None and opts.get("propagationPolicy"):
            raise errors.invalid(
                "DeleteOptions",
                "",
                [errors.Cause("propagationPolicy", "Invalid value: orphanDependents and deletionPropagation cannot be both set")],
            )
        if opts.get("orphanDependents") is True:
            opts["propagationPolicy"] = "Orphan"
        if http.dry_run(request):
            opts["dryRun"] = ["All"]
        return opts

    def _delete_one(self, t: Target, name: str, ns: str | None, opts: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        before = self.registry.store.get(t.info.resource, ns or "", name)
        result = self.registry.delete(
            t.info.resource,
            name,
            ns,
            propagation_policy=opts.get("propagationPolicy"),
            grace_period_seconds=opts.get("gracePeriodSeconds"),
            preconditions=opts.get("preconditions"),
            dry_run="All" in (opts.get("dryRun") or []),
        )
        still = self.registry.store.get(t.info.resource, ns or "", name)
        gone = still is None or (before is not None and still.get("metadata", {}).get("uid") != before["metadata"].get("uid"))
        return result, gone

    async def delete(self, request: web.Request, t: Target) -> web.Response:
        assert t.name is not None
        ns = self._require_ns(t) if t.info.namespaced else None
        opts = await self._delete_options(request)
        result, gone = self._delete_one(t, t.name, ns, opts)
        if gone and t.info.kind != "Pod":
            # generic Store.Delete without ReturnDeletedObject: a Success Status naming the object
            details = {"name": t.name, "kind": t.info.plural, "uid": result["metadata"].get("uid")}
            if t.info.group:
                details["group"] = t.info.group
            return http.json_response(http.success(200, details))
        return self._respond(request, t, result)

    async def delete_collection(self, request: web.Request, t: Target) -> web.Response:
        ns = self._ns(t)
        opts = await self._delete_options(request)
        listed = self.registry.list(
            t.info.resource,
            ns,
            label_selector=request.query.get("labelSelector") or None,
            field_selector=request.query.get("fieldSelector") or None,
            copy=False,
        )
        deleted = []
        for obj in listed["items"]:
            m = obj["metadata"]
            try:
                result, _ = self._delete_one(t, m["name"], m.get("namespace") if t.info.namespaced else None, opts)
            except errors.ApiError as e:
                if e.code == 404:
                    continue
                raise
            deleted.append(result)
        return http.json_response(
            {
                "apiVersion": t.info.api_version,
                "kind": _list_kind_obj(t.info),
                "metadata": {"resourceVersion": str(self.registry.store.resource_version)},
                "items": [self._out(t, o) for o in deleted],
            }
        )

    # -- watch ---------------------------------------------------------------------------------
    async def watch(self, request: web.Request, t: Target) -> web.StreamResponse:
        q = request.query
        ns = self._ns(t)
        field_selector = q.get("fieldSelector") or None
        if t.name is not None:  # legacy /watch/namespaces/ns/pods/name
            name_term = f"metadata.name={t.name}"
            field_selector = f"{field_selector},{name_term}" if field_selector else name_term
        timeout = http.query_int(request, "timeoutSeconds")
        bookmarks = http.query_bool(request, "allowWatchBookmarks")
        table = http.wants_table(request)
        include = q.get("includeObject", "Metadata")
        queue: asyncio.Queue[Any] = asyncio.Queue()
        resp = web.StreamResponse(status=200)
        resp.headers["Content-Type"] = "application/json"
        resp.enable_chunked_encoding()
        try:
            watcher = self.registry.watch(
                t.info.resource,
                queue.put_nowait,
                ns,
                q.get("resourceVersion") or None,
                q.get("labelSelector") or None,
                field_selector,
            )
        except errors.ApiError as e:
            if e.code != 410:
                raise
            await resp.prepare(request)
            await resp.write(orjson.dumps({"type": "ERROR", "object": e.status}) + b"\n")
            await resp.write_eof()
            return resp
        self.state.watches.add(queue)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout if timeout and timeout > 0 else None
        interval = self.state.bookmark_interval
        next_bookmark = loop.time() + interval
        first_table = True
        try:
            await resp.prepare(request)
            while True:
                now = loop.time()
                wait = next_bookmark - now if bookmarks else None
                if deadline is not None:
                    wait = deadline - now if wait is None else min(wait, deadline - now)
                try:
                    ev = await asyncio.wait_for(queue.get(), wait) if wait is not None else await queue.get()
                except TimeoutError:
                    ev = None
                now = loop.time()
                if ev is None and deadline is not None and now >= deadline:
                    break
                if ev is None and bookmarks and now >= next_bookmark:
                    next_bookmark = now + interval
                    bm = {
                        "kind": t.info.kind,
                        "apiVersion": t.info.api_version,
                        "metadata": {"resourceVersion": str(self.registry.store.resource_version)},
                    }
                    await resp.write(orjson.dumps({"type": "BOOKMARK", "object": bm}) + b"\n")
                    continue
                if ev is None:
                    continue
                if ev is _CLOSE:
                    break
                obj = ev.object
                if table:
                    tab = self._table(t, [obj], include)
                    if not first_table:
                        tab["columnDefinitions"] = []
                    first_table = False
                    tab["metadata"] = {"resourceVersion": str(ev.rv)}
                    obj = tab
                else:
                    obj = self._out(t, obj)
                await resp.write(orjson.dumps({"type": ev.type, "object": obj}) + b"\n")
            await resp.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            watcher.stop()
            self.state.watches.discard(queue)
        return resp

    # -- subresources --------------------------------------------------------------------------
    async def subresource(self, request: web.Request, t: Target) -> web.StreamResponse:
        assert t.name is not None and t.subresource is not None
        sub, kind, m = t.subresource, t.info.kind, request.method
        if sub == "status" and t.info.status_subresource:
            if m == "GET":
                return self.get(request, t)
            if m == "PUT":
                return await self.update(request, t, "status")
            if m == "PATCH":
                return await self.patch(request, t, "status")
        elif sub == "scale" and t.info.scale_subresource:
            return await self.scale(request, t)
        elif sub == "finalize" and kind == "Namespace" and m == "PUT":
            return await self.update(request, t, "finalize")
        elif kind == "Pod" and sub == "eviction" and m == "POST":
            return await self.evict(request, t)
        elif kind == "Pod" and sub == "binding" and m == "POST":
            return await self.bind(request, t)
        elif kind == "Pod" and sub == "log" and m == "GET":
            return self.log(request, t)
        else:
            raise http.not_found_path()
        raise errors.method_not_allowed(f"the server does not allow this method on the requested resource ({m})")

    # scale (pkg/registry/apps/deployment/storage/storage.go ScaleREST, autoscaling/v1 Scale)
    @staticmethod
    def _replicas_field(info: kinds.KindInfo) -> str:
        return "desiredSize" if info.kind == "NodeGroup" else "replicas"

    def _scale_of(self, t: Target, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        if t.info.kind == "NodeGroup":
            replicas = int(spec.get("desiredSize", spec.get("minSize", 0)) or 0)
            selector = f"kubetwin.io/nodegroup={meta['name']}"
        else:
            replicas = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
            try:
                selector = str(selectors.label_selector_from_dict(spec.get("selector") or {}))
            except ValueError:
                selector = ""
        smeta = {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta}
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": smeta,
            "spec": {"replicas": replicas},
            "status": {"replicas": int(status.get("replicas", 0) or 0), "selector": selector},
        }

    async def scale(self, request: web.Request, t: Target) -> web.Response:
        assert t.name is not None
        ns = self._require_ns(t) if t.info.namespaced else None
        current = self.registry.get(t.info.resource, t.name, ns, copy=False)
        scale = self._scale_of(t, current)
        m = request.method
        if m == "GET":
            return http.json_response(scale)
        if m not in ("PUT", "PATCH"):
            raise errors.method_not_allowed(f"the server does not allow this method on the requested resource ({m})")
        body = await http.read_body(request)
        if m == "PUT":
            new_scale = body
        else:
            ct = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            ptype = http.PATCH_TYPES.get(ct)
            if ptype is None or ptype == "apply":
                if ptype is None:
                    raise errors.ApiError(415, "UnsupportedMediaType", f"unsupported patch type {ct!r}")
                new_scale = merge_patch(scale, {k: v for k, v in body.items() if k not in ("apiVersion", "kind")})
            elif ptype == "json":
                new_scale = json_patch(scale, body)
            else:
                new_scale = merge_patch(scale, body)
        if not isinstance(new_scale, dict):
            raise errors.bad_request("the Scale must be a JSON object")
        replicas = (new_scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise errors.invalid(
                "Scale",
                t.name,
                [errors.Cause("spec.replicas", f"Invalid value: {replicas!r}: must be greater than or equal to 0")],
                "autoscaling",
            )
        rv = (new_scale.get("metadata") or {}).get("resourceVersion")
        if rv and rv != current["metadata"].get("resourceVersion"):
            raise errors.conflict(
                t.info.plural,
                t.name,
                "the object has been modified; please apply your changes to the latest version and try again",
                t.info.group,
            )
        obj = deep_copy(current)
        obj.setdefault("spec", {})[self._replicas_field(t.info)] = replicas
        updated = self.registry.update(obj, dry_run=http.dry_run(request))
        return http.json_response(self._scale_of(t, updated))

    async def evict(self, request: web.Request, t: Target) -> web.Response:
        assert t.name is not None
        ns = self._require_ns(t)
        body = await http.read_body(request)
        if not isinstance(body, dict):
            raise errors.bad_request("the request body must be an Eviction object")
        name = (body.get("metadata") or {}).get("name")
        if name and name != t.name:
            raise errors.bad_request("name in URL does not match name in Eviction object")
        opts = body.get("deleteOptions") or {}
        self.registry.evict(ns, t.name, opts, dry_run=http.dry_run(request))
        return http.json_response(http.success(201), 201)

    async def bind(self, request: web.Request, t: Target) -> web.Response:
        assert t.name is not None
        ns = self._require_ns(t)
        body = await http.read_body(request)
        if not isinstance(body, dict):
            raise errors.bad_request("the request body must be a Binding object")
        meta = body.get("metadata") or {}
        if meta.get("name") not in (None, t.name):
            raise errors.bad_request("name in URL does not match name in Binding object")
        target = (body.get("target") or {}).get("name") or ""
        self.registry.bind(ns, t.name, target, uid=meta.get("uid"))
        return http.json_response(http.success(201), 201)

    def log(self, request: web.Request, t: Target) -> web.Response:
        assert t.name is not None
        from kubetwin.server.logs import pod_log

        pod = self.registry.get("pods", t.name, self._require_ns(t), copy=False)
        text = pod_log(
            pod,
            request.query.get("container"),
            http.query_int(request, "tailLines"),
            self.clock,
            timestamps=http.query_bool(request, "timestamps"),
            previous=http.query_bool(request, "previous"),
        )
        return web.Response(text=text, content_type="text/plain")


class _Close:
    pass


_CLOSE = _Close()


def close_watches(queues: set[asyncio.Queue[Any]]) -> None:
    for q in list(queues):
        q.put_nowait(_CLOSE)
