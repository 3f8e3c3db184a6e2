"""HTTP plumbing shared by the handlers: JSON/YAML/protobuf request bodies, Status responses,
content negotiation (k8s.io/apiserver/pkg/endpoints/handlers/negotiation and responsewriters)."""

from __future__ import annotations

from typing import Any

import orjson
import yaml
from aiohttp import web

from kubetwin.api import errors
from kubetwin.server import protobuf

PROTOBUF = "application/vnd.kubernetes.protobuf"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = {JSON_PATCH: "json", MERGE_PATCH: "merge", STRATEGIC_PATCH: "strategic", APPLY_PATCH: "apply"}


def json_response(obj: Any, status: int = 200, content_type: str = "application/json") -> web.Response:
    resp = web.Response(body=orjson.dumps(obj), status=status)
    resp.headers["Content-Type"] = content_type
    return resp


def status_response(err: errors.ApiError) -> web.Response:
    return json_response(err.status, err.code)


def success(code: int = 200, details: dict[str, Any] | None = None) -> dict[str, Any]:
    st: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code}
    if details:
        st["details"] = details
    return st


def not_found_path() -> errors.ApiError:
    return errors.ApiError(404, "NotFound", "the server could not find the requested resource")


def media_types(accept: str) -> list[tuple[str, dict[str, str]]]:
    out = []
    for part in accept.split(","):
        params = [p.strip() for p in part.split(";")]
        if not params[0]:
            continue
        kv = {}
        for p in params[1:]:
            if "=" in p:
                k, v = p.split("=", 1)
                kv[k.strip()] = v.strip()
        out.append((params[0].lower(), kv))
    return out


def wants_table(request: web.Request) -> bool:
    for mt, kv in media_types(request.headers.get("Accept", "")):
        if kv.get("as") == "Table" and mt in ("application/json", "*/*"):
            return True
        if mt in ("application/json", "*/*") and not kv.get("as"):
            return False
    return False


def check_acceptable(request: web.Request) -> None:
    """406 when the client accepts nothing we can write (we only write JSON)."""
    accept = request.headers.get("Accept", "")
    if not accept.strip():
        return
    for mt, _kv in media_types(accept):
        if mt in ("application/json", "*/*", "application/*", PROTOBUF, "application/yaml", "text/plain"):
            return
    raise errors.ApiError(
        406, "NotAcceptable", f"only the following media types are accepted: application/json, {PROTOBUF}"
    )


def _content_type(request: web.Request) -> str:
    return (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()


async def read_body(request: web.Request, allow_empty: bool = False) -> Any:
    """The decoded request body (None when empty and allowed). Malformed bodies give 400."""
    raw = await request.read()
    ct = _content_type(request)
    if not raw.strip():
        if allow_empty:
            return None
        raise errors.bad_request("the request body is empty; expected a JSON object")
    if ct == PROTOBUF or raw.startswith(protobuf.MAGIC):
        try:
            return protobuf.decode(raw)
        except protobuf.ProtobufError as e:
            raise errors.bad_request(f"invalid protobuf body: {e}") from None
        except LookupError as e:
            raise errors.ApiError(415, "UnsupportedMediaType", str(e)) from None
    if ct in ("application/yaml", "application/x-yaml", "text/yaml", APPLY_PATCH):
        try:
            return yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError as e:
            problem = getattr(e, "problem", None) or str(e).splitlines()[0]
            raise errors.bad_request(f"error converting YAML to JSON: yaml: {problem}") from None
    if ct not in ("", "application/json", "application/octet-stream", "text/plain", *PATCH_TYPES):
        raise errors.ApiError(
            415,
            "UnsupportedMediaType",
            f'the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, {PROTOBUF}',
        )
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise errors.bad_request(f"couldn't get version/kind; json parse error: {e}") from None


def query_bool(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("true", "1")


def query_int(request: web.Request, name: str) -> int | None:
    v = request.query.get(name)
    if v in (None, ""):
        return None
    try:
        return int(v)
    except ValueError:
        raise errors.bad_request(f"invalid value for {name}: {v!r}: must be an integer") from None


def dry_run(request: web.Request) -> bool:
    values = request.query.getall("dryRun", [])
    for v in values:
        if v != "All":
            raise errors.bad_request(f'Invalid value: "{v}": supported values: "All"')
    return bool(values)
