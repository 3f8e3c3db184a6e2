"""Protobuf request bodies of typed clients, decoded into the JSON shapes the API uses.

kubectl's typed clientsets send ``Content-Type: application/vnd.kubernetes.protobuf`` for
``kubectl create <kind>`` (deployment, configmap, secret, service, namespace, job, cronjob, quota,
role, rolebinding, ...), ``auth can-i`` (SelfSubjectAccessReview/RulesReview), drain's Eviction and
drain's fallback DELETE (DeleteOptions). The wire format is k8s.io/apimachinery's
runtime/serializer/protobuf: the ``k8s\\x00`` magic, then a ``runtime.Unknown`` envelope
(1 typeMeta{1 apiVersion, 2 kind}, 2 raw, 3 contentEncoding, 4 contentType) whose ``raw`` is the
object's own message (its TypeMeta lives only in the envelope).

The schemas are upstream's: ``data/k8s-descriptors.binpb.gz`` is the FileDescriptorSet of every
``k8s.io/api`` and ``k8s.io/apimachinery`` ``generated.proto``, extracted from a kubectl 1.32
binary by ``tools/gen_k8s_proto_descriptors.py`` (regenerate with
``python tools/gen_k8s_proto_descriptors.py /path/to/kubectl``). The ``protobuf`` package parses
``raw`` into a dynamic message for the envelope's apiVersion/kind (looked up through the OpenAPI
definitions' group-version-kinds, :mod:`kubetwin.api.schema`), and :func:`to_json` turns it into
what k8s.io/apimachinery's JSON encoding of the same Go object gives:

- JSON names and inlined structs come from the OpenAPI definition of each message: a field whose
  name is a property is that property (case-insensitively: proto ``uID`` is JSON ``uid``); a
  message field that is not a property but whose own fields are is inlined (``Volume.volumeSource``,
  ``Probe.handler``, ``ConfigMapKeySelector.localObjectReference``).
- Presence follows Go: gogo writes a pointer field only when it is set and a value field always.
  The descriptors keep gogo's ``(gogoproto.nullable) = false`` on value fields, so a pointer field
  on the wire is kept whatever its value (``replicas: 0``, ``emptyDir: {}``), a value struct is
  kept even when empty (``strategy: {}``, as Go's encoder writes it), and a value scalar equal to
  its zero is dropped (``omitempty``) unless the definition lists it as required (``port``,
  ``value``).
- Special types: meta/v1 Time (RFC 3339; the zero time is null, as Go writes it, so a template's
  ``metadata`` is ``{creationTimestamp: null}`` exactly as in kubectl's JSON and the pod-template
  hash matches), MicroTime (microseconds), Duration (Go duration string), resource.Quantity (its
  string), intstr.IntOrString (int or string), runtime.RawExtension and meta/v1 FieldsV1 (their
  JSON, null when empty), bytes (base64), Go named slices (``ExtraValue``, ``Verbs``: a message of
  one repeated ``items`` field and no definition) as lists.

The result equals ``kubectl create ... --dry-run=client -o json`` for every ``kubectl create``
subcommand (tests/server/test_protobuf.py holds kubectl 1.32's bodies and that JSON).

Malformed bodies raise :class:`ProtobufError` (the server answers 400); kinds without a schema raise
:class:`UnsupportedKind` (a LookupError; the server answers 415). Responses are always JSON, which
kubectl accepts.
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message

from kubetwin.api import schema

MAGIC = b"k8s\x00"
DESCRIPTORS = "k8s-descriptors.binpb.gz"
_NULLABLE_FALSE = b"\xc8\xde\x1f\x00"  # FieldOptions extension 65001 (gogoproto.nullable) = false

_META = "k8s.io.apimachinery.pkg.apis.meta.v1."
_TIME = _META + "Time"
_MICRO_TIME = _META + "MicroTime"
_DURATION = _META + "Duration"
_FIELDS_V1 = _META + "FieldsV1"
_QUANTITY = "k8s.io.apimachinery.pkg.api.resource.Quantity"
_INT_OR_STRING = "k8s.io.apimachinery.pkg.util.intstr.IntOrString"
_RAW_EXTENSION = "k8s.io.apimachinery.pkg.runtime.RawExtension"
_UNKNOWN = "k8s.io.apimachinery.pkg.runtime.Unknown"


class ProtobufError(ValueError):
    """A body that is not the protobuf we expect; the message says why."""


class UnsupportedKind(LookupError):
    """An envelope whose apiVersion/kind has no protobuf schema."""


# -- schemas ---------------------------------------------------------------------------------------
@functools.cache
def pool() -> descriptor_pool.DescriptorPool:
    """A DescriptorPool with every upstream generated.proto (files are stored dependencies first)."""
    return load_pool(DESCRIPTORS)


def load_pool(data_file: str) -> descriptor_pool.DescriptorPool:
    """A new DescriptorPool of the gzipped FileDescriptorSet ``server/data/<data_file>`` (as the
    tools/gen_k8s_proto_descriptors.py writes them: dependencies first)."""
    data = gzip.decompress((resources.files("kubetwin.server") / "data" / data_file).read_bytes())
    p = descriptor_pool.DescriptorPool()
    for f in descriptor_pb2.FileDescriptorSet.FromString(data).file:
        p.Add(f)
    return p


def _find(full_name: str) -> Descriptor | None:
    try:
        return pool().FindMessageTypeByName(full_name)
    except KeyError:
        return None


@functools.lru_cache(maxsize=512)
def descriptor_for(api_version: str, kind: str) -> Descriptor | None:
    """The message of an apiVersion/kind: through the OpenAPI definition that carries the gvk
    (``io.k8s.api.apps.v1.Deployment`` is proto ``k8s.io.api.apps.v1.Deployment``), else the
    package named by the group's first label (core for ""; k8s.io/metrics' layout too), else
    meta/v1 (DeleteOptions)."""
    name = schema.definition_name(api_version, kind)
    if name and name.startswith("io.k8s."):
        found = _find("k8s.io." + name[len("io.k8s.") :])
        if found is not None:
            return found
    group, version = schema.split_api_version(api_version)
    label = group.split(".", 1)[0] if group else "core"
    for package in (
        f"k8s.io.api.{label}.{version}",
        f"k8s.io.{label}.pkg.apis.{label}.{version}",  # k8s.io/metrics
        f"k8s.io.apimachinery.pkg.apis.meta.{version or 'v1'}",
    ):
        found = _find(f"{package}.{kind}")
        if found is not None:
            return found
    return None


def message_class(api_version: str, kind: str) -> type[Message]:
    """The dynamic message class of a kind (tests and tools build bodies with it)."""
    d = descriptor_for(api_version, kind)
    if d is None:
        raise UnsupportedKind(f"no protobuf schema for {kind} ({api_version})")
    return message_factory.GetMessageClass(d)


def _definition(full_name: str) -> dict[str, Any] | None:
    if not full_name.startswith("k8s.io."):
        return None
    return schema.definitions().get("io.k8s." + full_name[len("k8s.io.") :])


def _is_repeated(fd: FieldDescriptor) -> bool:
    rep = getattr(fd, "is_repeated", None)
    return bool(rep) if rep is not None else fd.label == FieldDescriptor.LABEL_REPEATED


# What to do with a field's value (see _value).
(_SCALAR, _STRING, _BYTES, _MESSAGE, _TIME_K, _MICRO_K, _DURATION_K, _QUANTITY_K, _INTSTR_K, _RAW_K, _SLICE_K) = range(11)
_SPECIAL = {
    _TIME: _TIME_K,
    _MICRO_TIME: _MICRO_K,
    _DURATION: _DURATION_K,
    _QUANTITY: _QUANTITY_K,
    _INT_OR_STRING: _INTSTR_K,
    _RAW_EXTENSION: _RAW_K,
    _FIELDS_V1: _RAW_K,
}


@dataclass(frozen=True, slots=True)
class _Field:
    name: str  # JSON name; "" when the field's struct is inlined into its parent
    kind: int  # _SCALAR ... of the value (of a map: of its values; repeated: of its items)
    shape: int  # _SINGLE, _LIST or _DICT
    keep_zero: bool  # pointer field (nullable) or a required value field: a zero on the wire stays


_SINGLE, _LIST, _DICT = range(3)


def _kind_of(fd: FieldDescriptor) -> tuple[int, Descriptor | None]:
    if fd.type == FieldDescriptor.TYPE_BYTES:
        return _BYTES, None
    if fd.type == FieldDescriptor.TYPE_STRING:
        return _STRING, None
    if fd.type != FieldDescriptor.TYPE_MESSAGE:
        return _SCALAR, None
    m = fd.message_type
    special = _SPECIAL.get(m.full_name)
    if special is not None:
        return special, m
    if _named_slice(m):
        return _SLICE_K, m
    return _MESSAGE, m


def _named_slice(m: Descriptor) -> bool:
    """A Go named slice (``type ExtraValue []string``): one repeated ``items`` field, no definition."""
    return (
        len(m.fields) == 1
        and m.fields[0].name == "items"
        and _is_repeated(m.fields[0])
        and _definition(m.full_name) is None
    )


@functools.cache
def _plan(m: Descriptor) -> dict[int, _Field]:
    """How each field (by number) of a message becomes JSON."""
    d = _definition(m.full_name) or {}
    props: dict[str, Any] = d.get("properties") or {}
    lower = {p.lower(): p for p in props}
    required = set(d.get("required") or ())
    plan: dict[int, _Field] = {}
    for fd in m.fields:
        shape = _LIST if _is_repeated(fd) else _SINGLE
        if fd.type == FieldDescriptor.TYPE_MESSAGE and fd.message_type.GetOptions().map_entry:
            shape = _DICT
            kind, msg = _kind_of(fd.message_type.fields_by_name["value"])
        else:
            kind, msg = _kind_of(fd)
        name = fd.name if fd.name in props else lower.get(fd.name.lower(), "")
        if not name:
            inline = (
                bool(props)
                and shape == _SINGLE
                and kind == _MESSAGE
                and msg is not None
                and all(sub.name in props or sub.name.lower() in lower for sub in msg.fields)
            )
            name = "" if inline else fd.name
        nonnull = _NULLABLE_FALSE in fd.GetOptions().SerializeToString()
        plan[fd.number] = _Field(name, kind, shape, keep_zero=not nonnull or name in required)
    return plan


# -- message -> JSON ---------------------------------------------------------------------------------
def to_json(msg: Message) -> dict[str, Any]:
    """The JSON object Go's encoding of the same object gives (see the module docstring)."""
    out: dict[str, Any] = {}
    plan = _plan(msg.DESCRIPTOR)
    for fd, value in msg.ListFields():
        f = plan[fd.number]
        if f.shape == _DICT:
            out[f.name] = {_text(k): _item(f.kind, v) for k, v in value.items()}
        elif f.shape == _LIST:
            out[f.name] = [_item(f.kind, v) for v in value]
        else:
            conv = _value(f.kind, value, f.keep_zero)
            if conv is _OMIT:
                continue
            if f.name:
                out[f.name] = conv
            else:  # an inlined struct
                out.update(conv)
    return out


_OMIT: Any = object()


def _item(kind: int, v: Any) -> Any:
    """A list item or map value: always written."""
    if kind == _MESSAGE:
        return to_json(v)
    if kind == _STRING:
        return _text(v)
    return v if kind == _SCALAR else _value(kind, v, True)


def _text(v: str | bytes) -> str:
    """A proto2 string field: upb hands back bytes when they are not UTF-8; Go keeps such bytes
    and its JSON encoder writes U+FFFD for them, so do the same."""
    return v if isinstance(v, str) else v.decode("utf-8", "replace")


def _value(kind: int, v: Any, keep_zero: bool) -> Any:
    if kind == _STRING:
        return _text(v) if v or keep_zero else _OMIT
    if kind == _SCALAR:
        return v if v or keep_zero else _OMIT
    if kind == _MESSAGE:
        return to_json(v)
    if kind == _BYTES:
        return base64.b64encode(v).decode("ascii")
    if kind == _QUANTITY_K:
        return _text(v.string) or "0"
    if kind == _INTSTR_K:
        return _text(v.strVal) if v.type == 1 else v.intVal
    if kind == _TIME_K or kind == _MICRO_K:
        if not v.HasField("seconds") and not v.HasField("nanos"):
            return None  # Go's zero time: no bytes on the wire, null in JSON
        try:
            t = datetime.fromtimestamp(v.seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise ProtobufError(f"time out of range: {v.seconds} s") from None
        if kind == _TIME_K:
            return t.strftime("%Y-%m-%dT%H:%M:%SZ")
        return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{max(0, v.nanos) // 1000:06d}Z"
    if kind == _DURATION_K:
        return go_duration(v.duration)
    if kind == _RAW_K:
        raw = v.raw if v.DESCRIPTOR.full_name == _RAW_EXTENSION else v.Raw
        if not raw:
            return None  # Go writes a nil Raw as null
        try:
            return json.loads(raw)
        except ValueError:
            raise ProtobufError(f"{v.DESCRIPTOR.name} does not hold JSON") from None
    if kind == _SLICE_K:
        return [_text(x) if isinstance(x, bytes) else x for x in v.items]
    raise AssertionError(kind)


def go_duration(ns: int) -> str:
    """Go's time.Duration.String() of a nanosecond count: 0s, 1.5ms, 90s -> 1m30s, 1h0m0s."""
    if ns == 0:
        return "0s"
    sign, u = ("-", -ns) if ns < 0 else ("", ns)

    def frac(whole: int, scale: int) -> str:
        q, r = divmod(whole, scale)
        if not r:
            return str(q)
        return f"{q}." + f"{r:0{len(str(scale)) - 1}d}".rstrip("0")

    if u < 1_000:
        return f"{sign}{u}ns"
    if u < 1_000_000:
        return f"{sign}{frac(u, 1_000)}µs"
    if u < 1_000_000_000:
        return f"{sign}{frac(u, 1_000_000)}ms"
    secs, rest = divmod(u, 1_000_000_000)
    h, rem = divmod(secs, 3600)
    m, s = divmod(rem, 60)
    out = frac(s * 1_000_000_000 + rest, 1_000_000_000) + "s"
    if h:
        return f"{sign}{h}h{m}m{out}"
    if m:
        return f"{sign}{m}m{out}"
    return sign + out


# -- envelope ----------------------------------------------------------------------------------------
def _parse(cls: type[Message], raw: bytes, what: str) -> Message:
    msg = cls()
    try:
        msg.ParseFromString(raw)
    except (DecodeError, ValueError, RuntimeError) as e:
        raise ProtobufError(f"cannot parse {what}: {e}") from None
    return msg


def decode(body: bytes) -> dict[str, Any]:
    """The JSON-shaped object in a protobuf request body. Raises ProtobufError (malformed) or
    UnsupportedKind (a kind without a schema)."""
    if not body.startswith(MAGIC):
        raise ProtobufError("protobuf body does not start with the k8s\\x00 magic prefix")
    unknown_d = _find(_UNKNOWN)
    assert unknown_d is not None
    env: Any = _parse(message_factory.GetMessageClass(unknown_d), body[len(MAGIC) :], "the runtime.Unknown envelope")
    api_version, kind = _text(env.typeMeta.apiVersion), _text(env.typeMeta.kind)
    if env.contentEncoding:
        raise ProtobufError(f"content encoding {_text(env.contentEncoding)!r} is not supported")
    if not kind:
        raise ProtobufError("the runtime.Unknown envelope has no kind")
    obj: dict[str, Any]
    content_type = _text(env.contentType)
    if content_type == "application/json":  # an envelope may carry JSON (runtime.Unknown allows it)
        try:
            obj = json.loads(env.raw)
        except ValueError as e:
            raise ProtobufError(f"the envelope's JSON does not parse: {e}") from None
        if not isinstance(obj, dict):
            raise ProtobufError("the envelope's JSON is not an object")
    elif content_type not in ("", "application/vnd.kubernetes.protobuf"):
        raise UnsupportedKind(f"protobuf envelopes carrying {content_type!r} are not supported; send JSON")
    else:
        d = descriptor_for(api_version, kind)
        if d is None:
            raise UnsupportedKind(f"protobuf bodies of kind {kind!r} ({api_version}) are not supported; send JSON")
        msg = _parse(message_factory.GetMessageClass(d), env.raw, f"{kind} ({api_version})")
        try:
            obj = to_json(msg)
        except ProtobufError:
            raise
        except ValueError as e:  # UnicodeDecodeError among them
            raise ProtobufError(f"cannot decode {kind} ({api_version}): {e}") from None
    head: dict[str, Any] = {"apiVersion": api_version} if api_version else {}
    head["kind"] = kind
    head.update(obj)
    return head


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


def envelope(api_version: str, kind: str, raw: bytes | Message) -> bytes:
    """A ``k8s\\x00`` + runtime.Unknown body around an encoded message (bytes or a message)."""
    if isinstance(raw, Message):
        raw = raw.SerializeToString()
    type_meta = enc_bytes(1, api_version) + enc_bytes(2, kind)
    return MAGIC + enc_bytes(1, type_meta) + enc_bytes(2, raw) + enc_bytes(3, "") + enc_bytes(4, "")
