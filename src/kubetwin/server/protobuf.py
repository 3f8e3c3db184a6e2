"""Just enough of the Kubernetes protobuf wire format to read the request bodies typed clients send
(k8s.io/apimachinery/pkg/runtime/serializer/protobuf: the ``k8s\\x00`` magic plus a
``runtime.Unknown`` envelope).

kubectl's typed clientsets POST protobuf for ``auth can-i`` (SelfSubjectAccessReview,
SelfSubjectRulesReview), for drain's Eviction and for drain's fallback DELETE (DeleteOptions).
We decode those few messages by field number into the JSON shapes the API uses; anything else is
reported as a 415 by the caller. Responses are always JSON (kubectl accepts that).
"""

from __future__ import annotations

from typing import Any

MAGIC = b"k8s\x00"


class ProtobufError(ValueError):
    """A body that is not the protobuf we expect; the message says why."""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ProtobufError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ProtobufError("varint too long")


def fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs: varints as int, length-delimited as bytes."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            v, pos = _varint(buf, pos)
            out.append((num, v))
        elif wire == 2:
            n, pos = _varint(buf, pos)
            if pos + n > len(buf):
                raise ProtobufError("truncated length-delimited field")
            out.append((num, buf[pos : pos + n]))
            pos += n
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
    return out


def _strings(buf: bytes, names: dict[int, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for num, v in fields(buf):
        if num in names and isinstance(v, bytes):
            out[names[num]] = v.decode("utf-8", "replace")
    return out


def _object_meta(buf: bytes) -> dict[str, Any]:
    return _strings(buf, {1: "name", 2: "generateName", 3: "namespace", 5: "uid", 6: "resourceVersion"})


def _delete_options(buf: bytes) -> dict[str, Any]:
    out: dict[str, Any] = {}
    dry: list[str] = []
    for num, v in fields(buf):
        if num == 1 and isinstance(v, int):
            out["gracePeriodSeconds"] = v - (1 << 64) if v >= 1 << 63 else v
        elif num == 2 and isinstance(v, bytes):
            out["preconditions"] = _strings(v, {1: "uid", 2: "resourceVersion"})
        elif num == 3 and isinstance(v, int):
            out["orphanDependents"] = bool(v)
        elif num == 4 and isinstance(v, bytes):
            out["propagationPolicy"] = v.decode()
        elif num == 5 and isinstance(v, bytes):
            dry.append(v.decode())
    if dry:
        out["dryRun"] = dry
    return out


def _eviction(buf: bytes) -> dict[str, Any]:
    out: dict[str, Any] = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {}}
    for num, v in fields(buf):
        if num == 1 and isinstance(v, bytes):
            out["metadata"] = _object_meta(v)
        elif num == 2 and isinstance(v, bytes):
            out["deleteOptions"] = _delete_options(v)
    return out


_RESOURCE_ATTRIBUTES = {1: "namespace", 2: "verb", 3: "group", 4: "version", 5: "resource", 6: "subresource", 7: "name"}


def _ssar(buf: bytes, kind: str) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    for num, v in fields(buf):
        if num != 2 or not isinstance(v, bytes):
            continue
        for snum, sv in fields(v):
            if not isinstance(sv, bytes):
                continue
            if kind == "SelfSubjectAccessReview" and snum == 1:
                spec["resourceAttributes"] = _strings(sv, _RESOURCE_ATTRIBUTES)
            elif kind == "SelfSubjectAccessReview" and snum == 2:
                spec["nonResourceAttributes"] = _strings(sv, {1: "path", 2: "verb"})
            elif kind == "SelfSubjectRulesReview" and snum == 1:
                spec["namespace"] = sv.decode()
    return {"apiVersion": "authorization.k8s.io/v1", "kind": kind, "metadata": {}, "spec": spec}


_DECODERS = {
    "Eviction": lambda raw: _eviction(raw),
    "DeleteOptions": lambda raw: dict(_delete_options(raw), kind="DeleteOptions"),
    "SelfSubjectAccessReview": lambda raw: _ssar(raw, "SelfSubjectAccessReview"),
    "SelfSubjectRulesReview": lambda raw: _ssar(raw, "SelfSubjectRulesReview"),
}


def decode(body: bytes) -> dict[str, Any]:
    """The JSON-shaped object in a protobuf request body. Raises ProtobufError (malformed) or
    LookupError (a kind we do not decode)."""
    if not body.startswith(MAGIC):
        raise ProtobufError("protobuf body does not start with the k8s\\x00 magic prefix")
    api_version = kind = ""
    raw = b""
    for num, v in fields(body[len(MAGIC) :]):
        if num == 1 and isinstance(v, bytes):
            tm = _strings(v, {1: "apiVersion", 2: "kind"})
            api_version, kind = tm.get("apiVersion", ""), tm.get("kind", "")
        elif num == 2 and isinstance(v, bytes):
            raw = v
    dec = _DECODERS.get(kind)
    if dec is None:
        raise LookupError(f"protobuf bodies of kind {kind!r} ({api_version}) are not supported; send JSON")
    obj = dec(raw)
    if api_version and kind != "DeleteOptions":
        obj["apiVersion"] = api_version
    return obj


# -- encoding, for tests and tools ---------------------------------------------------------------
def _key(num: int, wire: int) -> bytes:
    return _enc_varint(num << 3 | wire)


def _enc_varint(v: int) -> bytes:
    if v < 0:
        v += 1 << 64
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def enc_bytes(num: int, data: bytes | str) -> bytes:
    raw = data.encode() if isinstance(data, str) else data
    return _key(num, 2) + _enc_varint(len(raw)) + raw


def enc_varint(num: int, v: int) -> bytes:
    return _key(num, 0) + _enc_varint(v)


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    """A ``k8s\\x00`` + runtime.Unknown body around an encoded message."""
    type_meta = enc_bytes(1, api_version) + enc_bytes(2, kind)
    return MAGIC + enc_bytes(1, type_meta) + enc_bytes(2, raw) + enc_bytes(3, "") + enc_bytes(4, "")
