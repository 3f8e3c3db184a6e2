"""Validation with upstream field paths and messages.

Mirrors k8s.io/apimachinery/pkg/api/validation (ObjectMeta), pkg/apis/core/validation
(Pod, PodSpec, containers, resources, tolerations, Service, Namespace, Node),
pkg/apis/apps/validation, pkg/apis/batch/validation, pkg/apis/policy/validation,
pkg/apis/scheduling/validation and pkg/apis/autoscaling/validation, reduced to the rules a
simulated cluster needs. Each cause's ``message`` is upstream's ``field.Error.ErrorBody()``
(``Invalid value: "Foo_1": ...``, ``Required value``, ``Unsupported value: ...``) and its
``reason`` the metav1 CauseType.

Validation never raises on malformed input: a value of the wrong type is a cause too.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from kubetwin.api.errors import Cause
from kubetwin.api.kinds import KINDS
from kubetwin.api.kubeletconfig import RESERVED_PRESETS, validate_kubelet_config
from kubetwin.api.quantity import parse_quantity
from kubetwin.api.selectors import (
    DNS1123_SUBDOMAIN_FMT_MSG,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_label_value,
    label_selector_from_dict,
)
from kubetwin.sim.time import parse_duration

Obj = dict[str, Any]
Errs = list[Cause]

INVALID = "FieldValueInvalid"
REQUIRED = "FieldValueRequired"
NOT_SUPPORTED = "FieldValueNotSupported"
DUPLICATE = "FieldValueDuplicate"
FORBIDDEN = "FieldValueForbidden"
TOO_LONG = "FieldValueTooLong"
TYPE_INVALID = "FieldValueTypeInvalid"

HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000
SYSTEM_PRIORITY_CLASSES = {"system-cluster-critical": 2_000_000_000, "system-node-critical": 2_000_001_000}
MAX_INT32 = 2**31 - 1

DNS1123_LABEL_FMT_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
    "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1035_LABEL_FMT_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
    "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
_DNS1123_LABEL_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1035_LABEL_RE = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_IANA_SVC_NAME_RE = re.compile(r"[-a-z0-9]+")
_PERCENT_RE = re.compile(r"[0-9]+%")
_NAMESPACED = {k.kind: k.namespaced for k in KINDS}

RESTART_POLICIES = ("Always", "Never", "OnFailure")
DNS_POLICIES = ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
PROTOCOLS = ("SCTP", "TCP", "UDP")
TAINT_EFFECTS = ("NoExecute", "NoSchedule", "PreferNoSchedule")


# -- error constructors (field.Error.ErrorBody) ------------------------------------------------
def go_value(value: Any) -> str:
    """Render a value roughly as Go's %v/%q would in field errors."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, int | float):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        inner = ", ".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in sorted(value.items()))
        return "map[string]string{" + inner + "}"
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return repr(value)


def invalid(path: str, value: Any, detail: str) -> Cause:
    return Cause(path, f"Invalid value: {go_value(value)}: {detail}", INVALID)


def required(path: str, detail: str = "") -> Cause:
    return Cause(path, "Required value" + (f": {detail}" if detail else ""), REQUIRED)


def not_supported(path: str, value: Any, valid: Iterable[str]) -> Cause:
    quoted = ", ".join(json.dumps(v) for v in valid)
    return Cause(path, f"Unsupported value: {go_value(value)}: supported values: {quoted}", NOT_SUPPORTED)


def duplicate(path: str, value: Any) -> Cause:
    return Cause(path, f"Duplicate value: {go_value(value)}", DUPLICATE)


def forbidden(path: str, detail: str) -> Cause:
    return Cause(path, f"Forbidden: {detail}", FORBIDDEN)


def too_long(path: str, max_len: int) -> Cause:
    return Cause(path, f"Too long: may not be more than {max_len} bytes", TOO_LONG)


def type_invalid(path: str, value: Any, type_name: str) -> Cause:
    return Cause(path, f"Invalid value: {go_value(value)}: must be of type {type_name}", TYPE_INVALID)


def child(path: str, *names: str) -> str:
    for n in names:
        path = f"{path}.{n}" if path else n
    return path


def index(path: str, i: int | str) -> str:
    return f"{path}[{i}]"


# -- typed access: wrong types become causes ---------------------------------------------------
def get_dict(obj: Obj, key: str, path: str, errs: Errs) -> Obj:
    v = obj.get(key)
    if v is None:
        return {}
    if not isinstance(v, dict):
        errs.append(type_invalid(child(path, key), v, "object"))
        return {}
    return v


def get_list(obj: Obj, key: str, path: str, errs: Errs) -> list[Any]:
    v = obj.get(key)
    if v is None:
        return []
    if not isinstance(v, list):
        errs.append(type_invalid(child(path, key), v, "array"))
        return []
    return v


def get_dicts(obj: Obj, key: str, path: str, errs: Errs) -> list[tuple[str, Obj]]:
    """(path, item) for each dict item of a list field; non-dict items are causes."""
    out = []
    p = child(path, key)
    for i, item in enumerate(get_list(obj, key, path, errs)):
        if isinstance(item, dict):
            out.append((index(p, i), item))
        else:
            errs.append(type_invalid(index(p, i), item, "object"))
    return out


def get_str(obj: Obj, key: str, path: str, errs: Errs) -> str | None:
    v = obj.get(key)
    if v is None:
        return None
    if not isinstance(v, str):
        errs.append(type_invalid(child(path, key), v, "string"))
        return None
    return v


def get_int(obj: Obj, key: str, path: str, errs: Errs) -> int | None:
    v = obj.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        errs.append(type_invalid(child(path, key), v, "integer"))
        return None
    return v


def get_bool(obj: Obj, key: str, path: str, errs: Errs) -> bool | None:
    v = obj.get(key)
    if v is None:
        return None
    if not isinstance(v, bool):
        errs.append(type_invalid(child(path, key), v, "boolean"))
        return None
    return v


def nonnegative(obj: Obj, key: str, path: str, errs: Errs) -> int | None:
    v = get_int(obj, key, path, errs)
    if v is not None and v < 0:
        errs.append(invalid(child(path, key), v, "must be greater than or equal to 0"))
    return v


def one_of(obj: Obj, key: str, path: str, errs: Errs, valid: tuple[str, ...]) -> None:
    """An optional enum field: unset or empty is fine, anything else must be one of ``valid``."""
    v = get_str(obj, key, path, errs)
    if v and v not in valid:
        errs.append(not_supported(child(path, key), v, valid))


# -- names and metadata ------------------------------------------------------------------------
def dns1123_label_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _DNS1123_LABEL_RE.fullmatch(value):
        errs.append(DNS1123_LABEL_FMT_MSG)
    return errs


def dns1035_label_errors(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _DNS1035_LABEL_RE.fullmatch(value):
        errs.append(DNS1035_LABEL_FMT_MSG)
    return errs


_NAME_RULES: dict[str, Callable[[str], list[str]]] = {
    "Namespace": dns1123_label_errors,
    "Service": dns1035_label_errors,
}


# Label keys and values, namespaces: the same few texts are checked on every write, so their
# messages are remembered (tuples: shared, never changed).
@functools.lru_cache(maxsize=8192)
def _label_key_messages(key: str) -> tuple[str, ...]:
    return tuple(is_qualified_name(key))


@functools.lru_cache(maxsize=8192)
def _label_value_messages(value: str) -> tuple[str, ...]:
    return tuple(is_valid_label_value(value))


@functools.lru_cache(maxsize=1024)
def _namespace_messages(ns: str) -> tuple[str, ...]:
    return tuple(dns1123_label_errors(ns))


def validate_labels(labels: Any, path: str) -> Errs:
    if labels is None:
        return []
    if not isinstance(labels, dict):
        return [type_invalid(path, labels, "object")]
    errs: Errs = []
    for k, v in labels.items():
        if not isinstance(k, str):
            errs.append(type_invalid(path, k, "string"))
            continue
        msgs = _label_key_messages(k)
        if msgs:
            errs.extend(invalid(path, k, m) for m in msgs)
        if not isinstance(v, str):
            errs.append(type_invalid(index(path, k), v, "string"))
            continue
        msgs = _label_value_messages(v)
        if msgs:
            errs.extend(invalid(path, v, m) for m in msgs)
    return errs


def validate_annotations(annotations: Any, path: str) -> Errs:
    if annotations is None:
        return []
    if not isinstance(annotations, dict):
        return [type_invalid(path, annotations, "object")]
    errs: Errs = []
    total = 0
    for k, v in annotations.items():
        if not isinstance(k, str) or not isinstance(v, str):
            errs.append(type_invalid(path, k if not isinstance(k, str) else v, "string"))
            continue
        msgs = _label_key_messages(k.lower())  # is_qualified_name, memoised per key
        if msgs:
            errs.extend(invalid(path, k, m) for m in msgs)
        total += len(k) + len(v)
    if total > 256 * 1024:
        errs.append(too_long(path, 256 * 1024))
    return errs


def validate_metadata(obj: Obj, kind: str) -> Errs:
    errs: Errs = []
    meta = get_dict(obj, "metadata", "", errs)
    name = get_str(meta, "name", "metadata", errs)
    generate_name = get_str(meta, "generateName", "metadata", errs)
    if not name:
        if not generate_name and "name" not in errs_fields(errs):
            errs.append(required("metadata.name", "name or generateName is required"))
    else:
        rule = _NAME_RULES.get(kind, is_dns1123_subdomain)
        msgs = rule(name)
        if msgs:
            errs.extend(invalid("metadata.name", name, m) for m in msgs)
    namespaced = _NAMESPACED.get(kind)
    ns = get_str(meta, "namespace", "metadata", errs)
    if namespaced is True:
        if not ns:
            errs.append(required("metadata.namespace"))
        else:
            ns_msgs = _namespace_messages(ns)
            if ns_msgs:
                errs.extend(invalid("metadata.namespace", ns, m) for m in ns_msgs)
    elif namespaced is False and ns:
        errs.append(forbidden("metadata.namespace", "not allowed on this type"))
    if meta.get("labels") is not None:
        errs.extend(validate_labels(meta["labels"], "metadata.labels"))
    if meta.get("annotations") is not None:
        errs.extend(validate_annotations(meta["annotations"], "metadata.annotations"))
    if meta.get("ownerReferences") is not None:
        for p, ref in get_dicts(meta, "ownerReferences", "metadata", errs):
            for key in ("apiVersion", "kind", "name", "uid"):
                if not get_str(ref, key, p, errs):
                    errs.append(required(child(p, key)))
    if meta.get("finalizers") is not None:
        get_list(meta, "finalizers", "metadata", errs)
    return errs


def errs_fields(errs: Errs) -> set[str]:
    return {e.field.rsplit(".", 1)[-1] for e in errs}


def validate_metadata_update(obj: Obj, old: Obj) -> Errs:
    errs: Errs = []
    new_meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    old_meta = old.get("metadata") if isinstance(old.get("metadata"), dict) else {}
    assert isinstance(new_meta, dict) and isinstance(old_meta, dict)
    for key in ("name", "namespace", "uid", "creationTimestamp"):
        if old_meta.get(key) and new_meta.get(key) != old_meta.get(key):
            errs.append(invalid(child("metadata", key), new_meta.get(key), "field is immutable"))
    return errs


# -- quantities and resources ------------------------------------------------------------------
def _is_native(name: str) -> bool:
    return "/" not in name or name.startswith("kubernetes.io/")


def _overcommit_allowed(name: str) -> bool:
    return _is_native(name) and not name.startswith("hugepages-")


def _quantity(value: Any, path: str, errs: Errs) -> Any:
    """Parse a quantity; returns the Quantity or None (with a cause)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        errs.append(type_invalid(path, value, "string"))
        return None
    try:
        q = parse_quantity(value)
    except ValueError as exc:
        errs.append(invalid(path, value, str(exc)))
        return None
    if q.sign() < 0:
        errs.append(invalid(path, str(q), "must be greater than or equal to 0"))
        return None
    return q


def validate_resource_list(rl: Any, path: str) -> tuple[Errs, dict[str, Any]]:
    if rl is None:
        return [], {}
    if not isinstance(rl, dict):
        return [type_invalid(path, rl, "object")], {}
    errs: Errs = []
    parsed = {}
    for name, value in rl.items():
        p = index(path, name)
        if not isinstance(name, str) or is_qualified_name(name):
            errs.append(invalid(p, name, "must be a standard resource type or fully qualified"))
            continue
        q = _quantity(value, p, errs)
        if q is None:
            continue
        if not _overcommit_allowed(name) and q.amount.denominator != 1:
            errs.append(invalid(p, str(q), "must be an integer"))
        parsed[name] = q
    return errs, parsed


def validate_resources(res: Any, path: str) -> Errs:
    if res is None:
        return []
    if not isinstance(res, dict):
        return [type_invalid(path, res, "object")]
    lim_path, req_path = child(path, "limits"), child(path, "requests")
    errs, limits = validate_resource_list(res.get("limits"), lim_path)
    req_errs, requests = validate_resource_list(res.get("requests"), req_path)
    errs.extend(req_errs)
    for name, q in requests.items():
        lim = limits.get(name)
        if lim is not None:
            if q != lim and not _overcommit_allowed(name):
                errs.append(invalid(req_path, str(q), f"must be equal to {name} limit of {lim}"))
            elif q > lim:
                errs.append(invalid(req_path, str(q), f"must be less than or equal to {name} limit of {lim}"))
        elif not _overcommit_allowed(name):
            errs.append(required(lim_path, "Limit must be set for non overcommitable resources"))
    return errs


# -- pods --------------------------------------------------------------------------------------
def validate_container(c: Obj, path: str, names: set[str], errs: Errs) -> None:
    name = get_str(c, "name", path, errs)
    if not name:
        errs.append(required(child(path, "name")))
    else:
        errs.extend(invalid(child(path, "name"), name, m) for m in dns1123_label_errors(name))
        if name in names:
            errs.append(duplicate(child(path, "name"), name))
        names.add(name)
    if not get_str(c, "image", path, errs):
        errs.append(required(child(path, "image")))
    one_of(c, "imagePullPolicy", path, errs, PULL_POLICIES)
    one_of(c, "terminationMessagePolicy", path, errs, ("FallbackToLogsOnError", "File"))
    for p, port in get_dicts(c, "ports", path, errs):
        cp = get_int(port, "containerPort", p, errs)
        if cp is None:
            if "containerPort" not in port:
                errs.append(required(child(p, "containerPort")))
        elif not 1 <= cp <= 65535:
            errs.append(invalid(child(p, "containerPort"), cp, "must be between 1 and 65535, inclusive"))
        one_of(port, "protocol", p, errs, PROTOCOLS)
    errs.extend(validate_resources(c.get("resources"), child(path, "resources")))
    get_list(c, "command", path, errs)
    get_list(c, "args", path, errs)
    get_list(c, "env", path, errs)


def validate_toleration(t: Obj, path: str, errs: Errs) -> None:
    key = get_str(t, "key", path, errs) or ""
    if key:
        errs.extend(invalid(child(path, "key"), key, m) for m in is_qualified_name(key))
    op = get_str(t, "operator", path, errs) or ""
    value = get_str(t, "value", path, errs) or ""
    if not key and op != "Exists":
        errs.append(
            invalid(
                child(path, "operator"),
                op,
                'operator must be Exists when `key` is empty, which means "match all values and all keys"',
            )
        )
    if op in ("", "Equal"):
        errs.extend(invalid(child(path, "value"), value, m) for m in is_valid_label_value(value))
    elif op == "Exists":
        if value:
            errs.append(
                invalid(
                    child(path, "operator"), t.get("value"), "value must be empty when `operator` is 'Exists'"
                )
            )
    else:
        errs.append(not_supported(child(path, "operator"), op, ("Equal", "Exists")))
    effect = get_str(t, "effect", path, errs) or ""
    if effect and effect not in TAINT_EFFECTS:
        errs.append(not_supported(child(path, "effect"), effect, TAINT_EFFECTS))
    seconds = get_int(t, "tolerationSeconds", path, errs)
    if seconds is not None and effect != "NoExecute":
        errs.append(
            invalid(
                child(path, "effect"), effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"
            )
        )


# validate_pod_spec's answers by the spec's content: pods made from one template (every replica a
# controller creates, ~35,000 a day in the full-size bench) have the same spec, and validating it
# takes ~50 us against ~3 us for its canonical JSON.
_POD_SPEC_MEMO: dict[tuple[bytes, str, tuple[str, ...]], tuple[Cause, ...]] = {}
_POD_SPEC_MEMO_SIZE = 512


def validate_pod_spec(spec: Obj, path: str, restart_policies: tuple[str, ...] = RESTART_POLICIES) -> Errs:
    """ValidatePodSpec (pkg/apis/core/validation): a pure function of the spec's content, memoised
    by its canonical JSON. A spec that is not plain JSON data, or holds a null (orjson writes NaN
    and infinities as null too), is validated every time."""
    try:
        text = orjson.dumps(spec, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return _validate_pod_spec(spec, path, restart_policies)
    if b"null" in text:
        return _validate_pod_spec(spec, path, restart_policies)
    key = (text, path, restart_policies)
    hit = _POD_SPEC_MEMO.get(key)
    if hit is None:
        hit = tuple(_validate_pod_spec(spec, path, restart_policies))
        if len(_POD_SPEC_MEMO) >= _POD_SPEC_MEMO_SIZE:
            _POD_SPEC_MEMO.clear()
        _POD_SPEC_MEMO[key] = hit
    return list(hit)


def _validate_pod_spec(spec: Obj, path: str, restart_policies: tuple[str, ...]) -> Errs:
    errs: Errs = []
    names: set[str] = set()
    for p, c in get_dicts(spec, "initContainers", path, errs):
        validate_container(c, p, names, errs)
        one_of(c, "restartPolicy", p, errs, ("Always",))
    containers = get_dicts(spec, "containers", path, errs)
    if not containers and not any(e.field.startswith(child(path, "containers")) for e in errs):
        errs.append(required(child(path, "containers")))
    for p, c in containers:
        validate_container(c, p, names, errs)
        if "restartPolicy" in c:
            errs.append(forbidden(child(p, "restartPolicy"), "may not be set for non-init containers"))
    policy = get_str(spec, "restartPolicy", path, errs)
    if not policy:
        errs.append(required(child(path, "restartPolicy")))
    elif policy not in restart_policies:
        errs.append(not_supported(child(path, "restartPolicy"), policy, restart_policies))
    one_of(spec, "dnsPolicy", path, errs, DNS_POLICIES)
    nonnegative(spec, "terminationGracePeriodSeconds", path, errs)
    deadline = get_int(spec, "activeDeadlineSeconds", path, errs)
    if deadline is not None and not 1 <= deadline <= MAX_INT32:
        errs.append(
            invalid(
                child(path, "activeDeadlineSeconds"),
                deadline,
                f"must be between 1 and {MAX_INT32}, inclusive",
            )
        )
    errs.extend(validate_labels(spec.get("nodeSelector"), child(path, "nodeSelector")))
    node_name = get_str(spec, "nodeName", path, errs)
    if node_name:
        errs.extend(invalid(child(path, "nodeName"), node_name, m) for m in is_dns1123_subdomain(node_name))
    for p, t in get_dicts(spec, "tolerations", path, errs):
        validate_toleration(t, p, errs)
    get_int(spec, "priority", path, errs)
    one_of(spec, "preemptionPolicy", path, errs, ("Never", "PreemptLowerPriority"))
    for key in ("hostNetwork", "enableServiceLinks"):
        get_bool(spec, key, path, errs)
    get_dict(spec, "affinity", path, errs)
    get_dict(spec, "securityContext", path, errs)
    overhead_errs, _ = validate_resource_list(spec.get("overhead"), child(path, "overhead"))
    errs.extend(overhead_errs)
    errs.extend(validate_resources(spec.get("resources"), child(path, "resources")))
    return errs


def validate_pod(obj: Obj, old: Obj | None) -> Errs:
    errs: Errs = []
    spec = get_dict(obj, "spec", "", errs)
    errs.extend(validate_pod_spec(spec, "spec"))
    if old is not None and not errs:
        old_spec = old.get("spec")
        errs.extend(validate_pod_update(spec, old_spec if isinstance(old_spec, dict) else {}))
    return errs


POD_UPDATE_FORBIDDEN = (
    "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,"
    "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)


def validate_pod_update(spec: Obj, old_spec: Obj) -> Errs:
    """ValidatePodUpdate: only images, activeDeadlineSeconds, added tolerations and gates may change."""
    errs: Errs = []
    old_tols = old_spec.get("tolerations") or []
    new_tols = spec.get("tolerations") or []
    if isinstance(old_tols, list) and isinstance(new_tols, list):
        missing = [t for t in old_tols if t not in new_tols]
        if missing:
            errs.append(
                forbidden(
                    "spec.tolerations", "existing toleration can not be modified except its tolerationSeconds"
                )
            )
    old_deadline = old_spec.get("activeDeadlineSeconds")
    new_deadline = spec.get("activeDeadlineSeconds")
    if isinstance(old_deadline, int) and (not isinstance(new_deadline, int) or new_deadline > old_deadline):
        errs.append(
            invalid(
                "spec.activeDeadlineSeconds", new_deadline, "must be less than or equal to previous value"
            )
        )
    if _masked_spec(spec) != _masked_spec(old_spec):
        errs.append(forbidden("spec", POD_UPDATE_FORBIDDEN))
    return errs


def _masked_spec(spec: Obj) -> Obj:
    masked = dict(spec)
    for key in ("activeDeadlineSeconds", "tolerations", "schedulingGates"):
        masked.pop(key, None)
    for key in ("containers", "initContainers"):
        cs = masked.get(key)
        if isinstance(cs, list):
            masked[key] = [{**c, "image": None} if isinstance(c, dict) else c for c in cs]
    if isinstance(masked.get("terminationGracePeriodSeconds"), int):
        masked.pop("terminationGracePeriodSeconds")
    return masked


# -- workloads ---------------------------------------------------------------------------------
def validate_label_selector(sel: Any, path: str) -> Errs:
    """ValidateLabelSelector: operators, values per operator, label keys and values."""
    if sel is None:
        return []
    if not isinstance(sel, dict):
        return [type_invalid(path, sel, "object")]
    errs = validate_labels(sel.get("matchLabels"), child(path, "matchLabels"))
    for p, expr in get_dicts(sel, "matchExpressions", path, errs):
        op = get_str(expr, "operator", p, errs)
        values = get_list(expr, "values", p, errs)
        if op in ("In", "NotIn"):
            if not values:
                errs.append(
                    required(child(p, "values"), "must be specified when `operator` is 'In' or 'NotIn'")
                )
        elif op in ("Exists", "DoesNotExist"):
            if values:
                errs.append(
                    forbidden(
                        child(p, "values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    )
                )
        else:
            errs.append(invalid(child(p, "operator"), op, "not a valid selector operator"))
        key = get_str(expr, "key", p, errs) or ""
        errs.extend(invalid(child(p, "key"), key, m) for m in is_qualified_name(key))
        for i, v in enumerate(values):
            if not isinstance(v, str):
                errs.append(type_invalid(index(child(p, "values"), i), v, "string"))
            else:
                errs.extend(invalid(index(child(p, "values"), i), v, m) for m in is_valid_label_value(v))
    return errs


def validate_selector_and_template(
    spec: Obj, errs: Errs, restart_policies: tuple[str, ...], kind: str, *, selector_required: bool = True
) -> None:
    sel = spec.get("selector")
    sel_errs = validate_label_selector(sel, "spec.selector")
    errs.extend(sel_errs)
    selector = None
    if sel is None:
        if selector_required:
            errs.append(required("spec.selector"))
    elif not sel_errs and isinstance(sel, dict):
        try:
            selector = label_selector_from_dict(sel)
        except ValueError as exc:
            errs.append(invalid("spec.selector", sel, str(exc)))
        if selector is not None and selector.empty:
            errs.append(invalid("spec.selector", sel, f"empty selector is invalid for {kind}"))
            selector = None
    template = get_dict(spec, "template", "spec", errs)
    if not template:
        if "template" not in spec:
            errs.append(required("spec.template"))
        return
    tmeta = get_dict(template, "metadata", "spec.template", errs)
    tlabels = tmeta.get("labels")
    label_errs = validate_labels(tlabels, "spec.template.metadata.labels")
    errs.extend(label_errs)
    if selector is not None and not label_errs:
        labels = tlabels if isinstance(tlabels, dict) else {}
        if not selector.matches(labels):
            errs.append(
                invalid(
                    "spec.template.metadata.labels", labels, "`selector` does not match template `labels`"
                )
            )
    tspec = get_dict(template, "spec", "spec.template", errs)
    errs.extend(validate_pod_spec(tspec, "spec.template.spec", restart_policies))


def _int_or_percent(value: Any, path: str, errs: Errs) -> int | None:
    """IsValidIntOrPercent + non-negative; returns the integer or percent number."""
    if isinstance(value, bool) or value is None:
        if value is not None:
            errs.append(type_invalid(path, value, "int or string"))
        return None
    if isinstance(value, int):
        if value < 0:
            errs.append(invalid(path, value, "must be greater than or equal to 0"))
        return value
    if isinstance(value, str):
        if not _PERCENT_RE.fullmatch(value):
            errs.append(
                invalid(
                    path,
                    value,
                    "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
                )
            )
            return None
        pct = int(value[:-1])
        if pct > 100:
            errs.append(invalid(path, value, "must not be greater than 100%"))
        return pct
    errs.append(type_invalid(path, value, "int or string"))
    return None


def _rolling_update(ru: Obj, path: str, errs: Errs) -> None:
    mu = _int_or_percent(ru.get("maxUnavailable"), child(path, "maxUnavailable"), errs)
    ms = _int_or_percent(ru.get("maxSurge"), child(path, "maxSurge"), errs)
    if mu == 0 and ms == 0:
        errs.append(
            invalid(
                child(path, "maxUnavailable"), ru.get("maxUnavailable"), "may not be 0 when `maxSurge` is 0"
            )
        )


def _selector_immutable(obj: Obj, old: Obj | None, errs: Errs) -> None:
    if old is None:
        return
    new_sel = (obj.get("spec") or {}).get("selector") if isinstance(obj.get("spec"), dict) else None
    old_spec = old.get("spec") if isinstance(old.get("spec"), dict) else {}
    assert isinstance(old_spec, dict)
    if new_sel != old_spec.get("selector"):
        errs.append(invalid("spec.selector", new_sel, "field is immutable"))


def validate_deployment(obj: Obj, old: Obj | None) -> Errs:
    errs: Errs = []
    spec = get_dict(obj, "spec", "", errs)
    nonnegative(spec, "replicas", "spec", errs)
    validate_selector_and_template(spec, errs, ("Always",), "deployment")
    strategy = get_dict(spec, "strategy", "spec", errs)
    stype = get_str(strategy, "type", "spec.strategy", errs)
    if stype and stype not in ("Recreate", "RollingUpdate"):
        errs.append(not_supported("spec.strategy.type", stype, ("Recreate", "RollingUpdate")))
    ru = get_dict(strategy, "rollingUpdate", "spec.strategy", errs)
    if stype == "Recreate" and strategy.get("rollingUpdate") is not None:
        errs.append(
            forbidden(
                "spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"
            )
        )
    elif ru:
        _rolling_update(ru, "spec.strategy.rollingUpdate", errs)
    nonnegative(spec, "revisionHistoryLimit", "spec", errs)
    min_ready = nonnegative(spec, "minReadySeconds", "spec", errs)
    deadline = nonnegative(spec, "progressDeadlineSeconds", "spec", errs)
    if deadline is not None and min_ready is not None and deadline <= min_ready:
        errs.append(invalid("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"))
    get_bool(spec, "paused", "spec", errs)
    _selector_immutable(obj, old, errs)
    return errs


def validate_replicaset(obj: Obj, old: Obj | None) -> Errs:
    errs: Errs = []
    spec = get_dict(obj, "spec", "", errs)
    nonnegative(spec, "replicas", "spec", errs)
    nonnegative(spec, "minReadySeconds", "spec", errs)
    validate_selector_and_template(spec, errs, ("Always",), "replicaset")
    _selector_immutable(obj, old, errs)
    return errs


def validate_daemonset(obj: Obj, old: Obj | None) -> Errs:
    errs: Errs = []
    spec = get_dict(obj, "spec", "", errs)
    validate_selector_and_template(spec, errs, ("Always",), "daemonset")
    strategy = get_dict(spec, "updateStrategy", "spec", errs)
    stype = get_str(strategy, "type", "spec.updateStrategy", errs)
    if stype and stype not in ("OnDelete", "RollingUpdate"):
        errs.append(not_supported("spec.updateStrategy.type", stype, ("OnDelete", "RollingUpdate")))
    ru = get_dict(strategy, "rollingUpdate", "spec.updateStrategy", errs)
    if ru:
        _rolling_update(ru, "spec.updateStrategy.rollingUpdate", errs)
    nonnegative(spec, "revisionHistoryLimit", "spec", errs)
    nonnegative(spec, "minReadySeconds", "spec", errs)
    _selector_immutable(obj, old, errs)
    return errs


_STS_MUTABLE = (
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
)


def validate_statefulset(obj: Obj, old: Obj | None) -> Errs:
    errs: Errs = []
    spec = get_dict(obj, "spec", "", errs)
    nonnegative(spec, "replicas", "spec", errs)
    validate_selector_and_template(spec, errs, ("Always",), "statefulset")
    one_of(spec, "podManagementPolicy", "spec", errs, ("OrderedReady", "Parallel"))
    strategy = get_dict(spec, "updateStrategy", "spec", errs)
    one_of(strategy, "type", "spec.updateStrategy", errs, ("OnDelete", "RollingUpdate"))
    nonnegative(spec, "revisionHistoryLimit", "spec", errs)
    if old is not None and isinstance(old.get("spec"), dict):
        strip = lambda s: {k: v for k, v in s.items() if k not in _STS_MUTABLE}  # noqa: E731
        if strip(spec) != strip(old["spec"]):
            errs.append(
                forbidden(
                    "spec",
                    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
                    "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
                )
            )
    return errs


def _validate_job_spec(spec: Obj, errs: Errs) -> None:
    for key in ("parallelism", "completions", "backoffLimit", "ttlSecondsAfterFinished"):
        nonnegative(spec, key, "spec", errs)
    deadline = get_int(spec, "activeDeadlineSeconds", "spec", errs)
    if deadline is not None and deadline <= 0:
        errs.append(invalid("spec.activeDeadlineSeconds", deadline, "must be greater than or equal to 1"))
    one_of(spec, "completionMode", "spec", errs, ("Indexed", "NonIndexed"))
    if spec.get("completionMode") == "Indexed" and spec.get("completions") is None:
        errs.append(required("spec.completions", "when completion mode is Indexed"))
    one_of(spec, "podReplacementPolicy", "spec", errs, ("Failed", "TerminatingOrFailed"))
    get_bool(spec, "suspend", "spec", errs)
    validate_selector_and_template(spec, errs, ("OnFailure", "Never"), "job", selector_required=False)


def validate_job(obj: Obj, old: Obj | None) -> Errs:
    errs: Errs = []
    _validate_job_spec(get_dict(obj, "spec", "", errs), errs)
    return errs


_CRON_FIELD_RE = re.compile(r"[0-9A-Za-z*?/,\-LW#]+")


def validate_cronjob(obj: Obj, old: Obj | None) -> Errs:
    errs: Errs = []
    spec = get_dict(obj, "spec", "", errs)
    schedule = get_str(spec, "schedule", "spec", errs)
    if not schedule:
        errs.append(required("spec.schedule"))
    else:
        fields = schedule.split()
        ok = schedule.startswith("@") or (
            len(fields) == 5 and all(_CRON_FIELD_RE.fullmatch(f) for f in fields)
        )
        if not ok:
            errs.append(
                invalid(
                    "spec.schedule", schedule, f"expected exactly 5 fields, found {len(fields)}: {schedule}"
                )
            )
    one_of(spec, "concurrencyPolicy", "spec", errs, ("Allow", "Forbid", "Replace"))
    for key in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit", "startingDeadlineSeconds"):
        nonnegative(spec, key, "spec", errs)
    job_template = get_dict(spec, "jobTemplate", "spec", errs)
    job_errs: Errs = []
    _validate_job_spec(get_dict(job_template, "spec", "spec.jobTemplate", job_errs), job_errs)
    errs.extend(Cause("spec.jobTemplate." + e.field, e.message, e.reason) for e in job_errs)
    return errs


# -- core kinds --------------------------------------------------------------------------------
SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")


def validate_service(obj: Obj, old: Obj | None) -> Errs:
    errs: Errs = []
    spec = get_dict(obj, "spec", "", errs)
    stype = get_str(spec, "type", "spec", errs) or "ClusterIP"
    if stype not in SERVICE_TYPES:
        errs.append(not_supported("spec.type", stype, SERVICE_TYPES))
    ports = get_dicts(spec, "ports", "spec", errs)
    if not ports and stype != "ExternalName" and "ports" not in errs_fields(errs):
        errs.append(required("spec.ports"))
    seen_names: set[str] = set()
    seen_ports: set[tuple[Any, Any]] = set()
    for p, port in ports:
        name = get_str(port, "name", p, errs) or ""
        if len(ports) > 1 and not name:
            errs.append(required(child(p, "name")))
        elif name:
            errs.extend(invalid(child(p, "name"), name, m) for m in dns1123_label_errors(name))
            if name in seen_names:
                errs.append(duplicate(child(p, "name"), name))
            seen_names.add(name)
        number = get_int(port, "port", p, errs)
        if number is None:
            if "port" not in port:
                errs.append(required(child(p, "port")))
        elif not 1 <= number <= 65535:
            errs.append(invalid(child(p, "port"), number, "must be between 1 and 65535, inclusive"))
        one_of(port, "protocol", p, errs, PROTOCOLS)
        key = (number, port.get("protocol") or "TCP")
        if number is not None and key in seen_ports:
            errs.append(duplicate(p, {"port": number, "protocol": key[1]}))
        seen_ports.add(key)
        target = port.get("targetPort")
        if isinstance(target, bool) or (target is not None and not isinstance(target, int | str)):
            errs.append(type_invalid(child(p, "targetPort"), target, "int or string"))
        elif isinstance(target, int) and not 1 <= target <= 65535:
            errs.append(invalid(child(p, "targetPort"), target, "must be between 1 and 65535, inclusive"))
        elif (
            isinstance(target, str)
            and target
            and not (len(target) <= 15 and _IANA_SVC_NAME_RE.fullmatch(target))
        ):
            errs.append(
                invalid(
                    child(p, "targetPort"),
                    target,
                    "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                )
            )
    errs.extend(validate_labels(spec.get("selector"), "spec.selector"))
    one_of(spec, "sessionAffinity", "spec", errs, ("ClientIP", "None"))
    return errs


def validate_namespace(obj: Obj, old: Obj | None) -> Errs:
    errs: Errs = []
    spec = get_dict(obj, "spec", "", errs)
    for i, f in enumerate(get_list(spec, "finalizers", "spec", errs)):
        if not isinstance(f, str):
            errs.append(type_invalid(index("spec.finalizers", i), f, "string"))
    return errs


def validate_taint(t: Obj, path: str, errs: Errs) -> None:
    key = get_str(t, "key", path, errs) or ""
    errs.extend(invalid(child(path, "key"), key, m) for m in is_qualified_name(key))
    value = get_str(t, "value", path, errs) or ""
    errs.extend(invalid(child(path, "value"), value, m) for m in is_valid_label_value(value))
    effect = get_str(t, "effect", path, errs)
    if not effect:
        errs.append(required(child(path, "effect")))
    elif effect not in TAINT_EFFECTS:
        errs.append(not_supported(child(path, "effect"), effect, TAINT_EFFECTS))


def _validate_taints(spec: Obj, path: str, errs: Errs) -> None:
    seen: set[tuple[str, str]] = set()
    for p, t in get_dicts(spec, "taints", path, errs):
        validate_taint(t, p, errs)
        key = (str(t.get("key")), str(t.get("effect")))
        if key in seen:
            errs.append(duplicate(p, f"{key[0]}:{key[1]}"))
        seen.add(key)


def validate_node(obj: Obj, old: Obj | None) -> Errs:
    errs: Errs = []
    spec = get_dict(obj, "spec", "", errs)
    _validate_taints(spec, "spec", errs)
    get_bool(spec, "unschedulable", "spec", errs)
    status = get_dict(obj, "status", "", errs)
    for key in ("capacity", "allocatable"):
        rl_errs, _ = validate_resource_list(status.get(key), child("status", key))
        errs.extend(rl_errs)
    return errs


# -- policy, scheduling, autoscaling -----------------------------------------------------------
def validate_pdb(obj: Obj, old: Obj | None) -> Errs:
    errs: Errs = []
    spec = get_dict(obj, "spec", "", errs)
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        errs.append(invalid("spec", spec, "minAvailable and maxUnavailable cannot be both set"))
    for key in ("minAvailable", "maxUnavailable"):
        _int_or_percent(spec.get(key), child("spec", key), errs)
    errs.extend(validate_label_selector(spec.get("selector"), "spec.selector"))
    one_of(spec, "unhealthyPodEvictionPolicy", "spec", errs, ("AlwaysAllow", "IfHealthyBudget"))
    return errs


def validate_priority_class(obj: Obj, old: Obj | None) -> Errs:
    errs: Errs = []
    name = (obj.get("metadata") or {}).get("name") if isinstance(obj.get("metadata"), dict) else None
    value = get_int(obj, "value", "", errs)
    is_system = isinstance(name, str) and name in SYSTEM_PRIORITY_CLASSES
    if isinstance(name, str) and name.startswith("system-") and not is_system:
        errs.append(invalid("metadata.name", name, "priority class names with 'system-' prefix are reserved"))
    if value is None:
        if "value" not in obj:
            errs.append(required("value"))
    elif not is_system and value > HIGHEST_USER_DEFINABLE_PRIORITY:
        errs.append(
            forbidden(
                "value",
                f"maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}",
            )
        )
    get_bool(obj, "globalDefault", "", errs)
    one_of(obj, "preemptionPolicy", "", errs, ("Never", "PreemptLowerPriority"))
    if old is not None and old.get("value") != obj.get("value"):
        errs.append(forbidden("value", "may not be changed in an update."))
    return errs


def validate_hpa(obj: Obj, old: Obj | None) -> Errs:
    errs: Errs = []
    spec = get_dict(obj, "spec", "", errs)
    ref = get_dict(spec, "scaleTargetRef", "spec", errs)
    for key in ("kind", "name"):
        if not get_str(ref, key, "spec.scaleTargetRef", errs):
            errs.append(required(child("spec.scaleTargetRef", key)))
    min_r = get_int(spec, "minReplicas", "spec", errs)
    max_r = get_int(spec, "maxReplicas", "spec", errs)
    if min_r is not None and min_r < 1:
        errs.append(invalid("spec.minReplicas", min_r, "must be greater than or equal to 1"))
    if max_r is None:
        if "maxReplicas" not in spec:
            errs.append(required("spec.maxReplicas"))
    elif max_r < 1:
        errs.append(invalid("spec.maxReplicas", max_r, "must be greater than 0"))
    elif min_r is not None and max_r < min_r:
        errs.append(invalid("spec.maxReplicas", max_r, "must be greater than or equal to `minReplicas`"))
    get_list(spec, "metrics", "spec", errs)
    return errs


# -- autoscaling.k8s.io (Vertical Pod Autoscaler CRD + its admission webhook's validateVPA) ------
VPA_UPDATE_MODES = ("Off", "Initial", "Recreate", "Auto")
VPA_CONTAINER_SCALING_MODES = ("Auto", "Off")
VPA_CONTROLLED_VALUES = ("RequestsAndLimits", "RequestsOnly")
VPA_CONTROLLED_RESOURCES = ("cpu", "memory")


def validate_vpa(obj: Obj, old: Obj | None) -> Errs:
    """vertical-pod-autoscaler pkg/admission-controller/resource/vpa/validation.go and the CRD's
    schema (required targetRef.kind/name, enums)."""
    errs: Errs = []
    spec = get_dict(obj, "spec", "", errs)
    if spec.get("targetRef") is None:
        if old is None:
            errs.append(required("spec.targetRef", "If you're using v1beta1 version of the API, please migrate to v1"))
    else:
        ref = get_dict(spec, "targetRef", "spec", errs)
        for key in ("kind", "name"):
            if not get_str(ref, key, "spec.targetRef", errs) and child("spec.targetRef", key) not in errs_fields(errs):
                errs.append(required(child("spec.targetRef", key)))
    if spec.get("updatePolicy") is not None:
        up = get_dict(spec, "updatePolicy", "spec", errs)
        mode = get_str(up, "updateMode", "spec.updatePolicy", errs)
        if mode is None:
            if "spec.updatePolicy.updateMode" not in errs_fields(errs):
                errs.append(required("spec.updatePolicy.updateMode", "updateMode is required if UpdatePolicy is used"))
        elif mode in ("InPlaceOrRecreate", "InPlace"):
            errs.append(forbidden("spec.updatePolicy.updateMode", f"in order to use UpdateMode {mode}, you must enable "
                                  f"feature gate {mode} in the admission-controller args"))  # fmt: skip
        elif mode not in VPA_UPDATE_MODES:
            errs.append(not_supported("spec.updatePolicy.updateMode", mode, VPA_UPDATE_MODES))
        min_replicas = get_int(up, "minReplicas", "spec.updatePolicy", errs)
        if min_replicas is not None and min_replicas <= 0:
            errs.append(invalid("spec.updatePolicy.minReplicas", min_replicas, "minReplicas has to be positive"))
    rp = get_dict(spec, "resourcePolicy", "spec", errs)
    for i, policy in enumerate(get_list(rp, "containerPolicies", "spec.resourcePolicy", errs)):
        path = index("spec.resourcePolicy.containerPolicies", i)
        if not isinstance(policy, dict):
            errs.append(type_invalid(path, policy, "object"))
            continue
        if not policy.get("containerName"):
            errs.append(required(child(path, "containerName")))
        mode = get_str(policy, "mode", path, errs)
        if mode is not None and mode not in VPA_CONTAINER_SCALING_MODES:
            errs.append(not_supported(child(path, "mode"), mode, VPA_CONTAINER_SCALING_MODES))
        bounds: dict[str, dict[str, Any]] = {}
        for key in ("minAllowed", "maxAllowed"):
            rl = get_dict(policy, key, path, errs)
            bounds[key] = {}
            for res, value in rl.items():
                q = _quantity(value, f"{child(path, key)}[{res}]", errs)
                if q is None:
                    continue
                bounds[key][res] = q
                if res == "cpu" and (q.amount * 1000).denominator != 1:
                    errs.append(invalid(f"{child(path, key)}[{res}]", str(q), "must be a whole number of milli CPUs"))
                elif res == "memory" and q.amount.denominator != 1:
                    errs.append(invalid(f"{child(path, key)}[{res}]", str(q), "must be a whole number of bytes"))
        for res, lo in bounds["minAllowed"].items():
            hi = bounds["maxAllowed"].get(res)
            if hi is not None and hi.cmp(lo) < 0:
                errs.append(invalid(f"{child(path, 'maxAllowed')}[{res}]", str(hi),
                                    f'max resource for {res} is lower than min of "{lo}"'))  # fmt: skip
        resources = get_list(policy, "controlledResources", path, errs)
        for j, res in enumerate(resources):
            if res not in VPA_CONTROLLED_RESOURCES:
                errs.append(not_supported(index(child(path, "controlledResources"), j), res, VPA_CONTROLLED_RESOURCES))
        values = get_str(policy, "controlledValues", path, errs)
        if values is not None and values not in VPA_CONTROLLED_VALUES:
            errs.append(not_supported(child(path, "controlledValues"), values, VPA_CONTROLLED_VALUES))
        elif mode == "Off" and values == "RequestsAndLimits":
            errs.append(forbidden(child(path, "controlledValues"),
                                  "controlledValues shouldn't be specified if container scaling mode is off"))  # fmt: skip
    if len(get_list(spec, "recommenders", "spec", errs)) > 1:
        errs.append(Cause("spec.recommenders", f"Too many: {len(spec['recommenders'])}: must have at most 1 items",
                          "FieldValueTooMany"))  # fmt: skip
    return errs


# -- kubetwin.io kinds -------------------------------------------------------------------------
CAPACITY_TYPES = ("on-demand", "spot")
# spec.networking.mode: how many pods a node may run (see kubetwin.cloud.maxpods).
NETWORKING_MODES = ("aws-vpc-cni", "aws-vpc-cni-prefix", "overlay")


def validate_nodegroup(obj: Obj, old: Obj | None) -> Errs:
    errs: Errs = []
    spec = get_dict(obj, "spec", "", errs)
    if not get_str(spec, "instanceType", "spec", errs) and "instanceType" not in errs_fields(errs):
        errs.append(required("spec.instanceType"))
    sizes = {key: nonnegative(spec, key, "spec", errs) for key in ("minSize", "maxSize", "desiredSize")}
    lo, hi, want = sizes["minSize"], sizes["maxSize"], sizes["desiredSize"]
    if lo is not None and hi is not None and lo > hi:
        errs.append(invalid("spec.minSize", lo, f"must be less than or equal to maxSize ({hi})"))
    elif want is not None and ((lo is not None and want < lo) or (hi is not None and want > hi)):
        errs.append(invalid("spec.desiredSize", want, f"must be between minSize ({lo}) and maxSize ({hi})"))
    one_of(spec, "capacityType", "spec", errs, CAPACITY_TYPES)
    for i, zone in enumerate(get_list(spec, "zones", "spec", errs)):
        if not isinstance(zone, str) or not zone:
            errs.append(invalid(index("spec.zones", i), zone, "must be a non-empty string"))
    errs.extend(validate_labels(spec.get("labels"), "spec.labels"))
    _validate_taints(spec, "spec", errs)
    if "kubelet" in spec and spec["kubelet"] is not None:
        errs.extend(validate_kubelet_config(spec["kubelet"], "spec.kubelet"))
    one_of(spec, "reservedPreset", "spec", errs, RESERVED_PRESETS)
    networking = get_dict(spec, "networking", "spec", errs)
    one_of(networking, "mode", "spec.networking", errs, NETWORKING_MODES)
    return errs


def validate_clusterautoscaler(obj: Obj, old: Obj | None) -> Errs:
    """kubetwin.io ClusterAutoscaler: one per cluster, named "default"; the flags in spec are
    checked by the autoscaler's admission plugin (kubetwin.autoscaler.admission)."""
    errs: Errs = []
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if name != "default":
        errs.append(invalid("metadata.name", name, 'must be "default" (one ClusterAutoscaler per cluster)'))
    if obj.get("spec") is not None:
        get_dict(obj, "spec", "", errs)
    return errs


def validate_scenario(obj: Obj, old: Obj | None) -> Errs:
    errs: Errs = []
    spec = get_dict(obj, "spec", "", errs)
    duration = spec.get("duration")
    if duration is None:
        errs.append(required("spec.duration"))
    elif isinstance(duration, bool) or not isinstance(duration, str | int | float):
        errs.append(type_invalid("spec.duration", duration, "string"))
    else:
        try:
            parse_duration(duration)
        except ValueError as exc:
            errs.append(invalid("spec.duration", duration, str(exc)))
    get_int(spec, "seed", "spec", errs)
    metrics = get_dict(spec, "metrics", "spec", errs)
    resolution = _duration(metrics, "resolution", "spec.metrics", errs)
    if resolution is not None and resolution <= 0:
        errs.append(invalid("spec.metrics.resolution", metrics["resolution"], "must be greater than 0"))
    return errs


LOADPROFILE_TRAFFIC = ("constant", "steps", "ramp", "diurnal", "trace")
_CLOCK_RE = re.compile(r"([01]?[0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?")


def _rate(obj: Obj, key: str, path: str, errs: Errs, required_: bool = True) -> float | None:
    """A non-negative number (requests per second)."""
    v = obj.get(key)
    if v is None:
        if required_:
            errs.append(required(child(path, key)))
        return None
    if isinstance(v, bool) or not isinstance(v, int | float):
        errs.append(type_invalid(child(path, key), v, "number"))
        return None
    if v < 0:
        errs.append(invalid(child(path, key), v, "must be greater than or equal to 0"))
        return None
    return float(v)


def _duration(obj: Obj, key: str, path: str, errs: Errs, required_: bool = False) -> float | None:
    v = obj.get(key)
    if v is None:
        if required_:
            errs.append(required(child(path, key)))
        return None
    if isinstance(v, bool) or not isinstance(v, str | int | float):
        errs.append(type_invalid(child(path, key), v, "string"))
        return None
    try:
        return parse_duration(v)
    except ValueError as exc:
        errs.append(invalid(child(path, key), v, str(exc)))
        return None


def _csv_errors(text: str) -> str | None:
    """First problem of an inline ``time,value`` CSV trace, or None."""
    rows = [r.strip() for r in text.splitlines()]
    rows = [r for r in rows if r and not r.startswith("#")]
    if rows:
        try:
            parse_duration(rows[0].split(",")[0].strip())
        except ValueError:
            rows = rows[1:]  # a header line
    if not rows:
        return "the trace has no data lines"
    for n, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row.split(",")]
        try:
            parse_duration(cells[0])
            [float(c) for c in cells[1:2]]
        except ValueError:
            return f"data line {n}: expected a time and a number, got {row!r}"
        if len(cells) < 2:
            return f"data line {n}: expected a time and a number, got {row!r}"
    return None


def _validate_traffic(traffic: Obj, errs: Errs, p: str = "spec.traffic", rate: str = "rps") -> None:
    """A traffic shape (LoadProfile ``spec.traffic``; ExternalMetricSeries ``spec.values`` with
    ``rate="value"``)."""
    present = [k for k in LOADPROFILE_TRAFFIC if traffic.get(k) is not None]
    if len(present) != 1:
        detail = "must specify exactly one of: " + ", ".join(f"`{k}`" for k in LOADPROFILE_TRAFFIC)
        errs.append(invalid(p, traffic, detail) if present else required(p, detail))
        return
    kind = present[0]
    kp = child(p, kind)
    if kind == "steps":
        steps = get_dicts(traffic, "steps", p, errs)
        if isinstance(traffic.get("steps"), list) and not traffic["steps"]:
            errs.append(required(kp, "at least one step"))
        for sp, step in steps:
            _duration(step, "at", sp, errs, required_=True)
            _rate(step, rate, sp, errs)
        return
    body = get_dict(traffic, kind, p, errs)
    if kind == "constant":
        _rate(body, rate, kp, errs)
    elif kind == "ramp":
        _rate(body, "from", kp, errs)
        _rate(body, "to", kp, errs)
        _duration(body, "over", kp, errs, required_=True)
        _duration(body, "at", kp, errs)
    elif kind == "diurnal":
        base = _rate(body, "base", kp, errs)
        peak = _rate(body, "peak", kp, errs)
        if base is not None and peak is not None and peak < base:
            errs.append(invalid(child(kp, "peak"), body["peak"], "must be greater than or equal to `base`"))
        at = body.get("peakAt")
        if at is None:
            errs.append(required(child(kp, "peakAt")))
        elif not isinstance(at, str) or not _CLOCK_RE.fullmatch(at):
            errs.append(invalid(child(kp, "peakAt"), at, 'must be a time of day like "14:00"'))
        period = _duration(body, "period", kp, errs)
        if period is not None and period <= 0:
            errs.append(invalid(child(kp, "period"), body["period"], "must be greater than 0"))
    else:
        csv = get_str(body, "csv", kp, errs)
        if not csv:
            if "csv" not in errs_fields(errs):
                errs.append(required(child(kp, "csv"), "inline CSV (time,rps) or a file path"))
        elif "\n" in csv or "," in csv:
            problem = _csv_errors(csv)
            if problem:
                errs.append(invalid(child(kp, "csv"), csv[:40], problem))
        column = body.get("column")
        if column is not None and (isinstance(column, bool) or not isinstance(column, str | int)):
            errs.append(type_invalid(child(kp, "column"), column, "string"))


def validate_loadprofile(obj: Obj, old: Obj | None) -> Errs:
    errs: Errs = []
    spec = get_dict(obj, "spec", "", errs)
    if spec.get("selector") is None:
        errs.append(required("spec.selector"))
    else:
        errs.extend(validate_label_selector(spec.get("selector"), "spec.selector"))
    if spec.get("traffic") is None:
        errs.append(required("spec.traffic", "must specify exactly one of: " +
                             ", ".join(f"`{k}`" for k in LOADPROFILE_TRAFFIC)))  # fmt: skip
    else:
        traffic = get_dict(spec, "traffic", "spec", errs)
        if isinstance(spec.get("traffic"), dict):
            _validate_traffic(traffic, errs)
    per = get_dict(spec, "perPod", "spec", errs)
    pp = "spec.perPod"
    base = get_dict(per, "baseline", pp, errs)
    for key in ("cpu", "memory"):
        if base.get(key) is not None:
            _quantity(base[key], child(pp, "baseline", key), errs)
    for key in ("cpuPerRequest", "memoryPerRps", "memoryLeakPerHour"):
        if per.get(key) is not None:
            _quantity(per[key], child(pp, key), errs)
    startup = get_dict(per, "startup", pp, errs)
    if startup:
        if startup.get("cpu") is None:
            errs.append(required(child(pp, "startup", "cpu")))
        else:
            _quantity(startup["cpu"], child(pp, "startup", "cpu"), errs)
        _duration(startup, "duration", child(pp, "startup"), errs)
    _validate_profile_metrics(spec, errs)
    return errs


LOADPROFILE_METRIC_TYPES = ("requestsPerSecond", "latency", "errorRate")


def _validate_profile_metrics(spec: Obj, errs: Errs) -> None:
    """``spec.metrics``: the custom metrics the profile's pods expose (kubetwin.metrics.pipeline)."""
    names: set[str] = set()
    for mp, m in get_dicts(spec, "metrics", "spec", errs):
        name = get_str(m, "name", mp, errs)
        if m.get("name") in (None, ""):
            errs.append(required(child(mp, "name")))
        elif not name:
            pass  # not a string: reported by get_str
        elif "/" in name or "%" in name:
            errs.append(invalid(child(mp, "name"), name, "may not contain '/' or '%'"))
        elif name in names:
            errs.append(duplicate(child(mp, "name"), name))
        else:
            names.add(name)
        mtype = m.get("type")  # absent: requestsPerSecond
        if mtype is not None and mtype not in LOADPROFILE_METRIC_TYPES:
            errs.append(not_supported(child(mp, "type"), mtype, LOADPROFILE_METRIC_TYPES))
        base = _duration(m, "base", mp, errs)
        cap = _duration(m, "max", mp, errs)
        for key, v in (("base", base), ("max", cap)):
            if v is not None and v <= 0:
                errs.append(invalid(child(mp, key), m[key], "must be greater than 0"))
        if base is not None and cap is not None and 0 < cap < base:
            errs.append(invalid(child(mp, "max"), m["max"], "must be greater than or equal to `base`"))
        ratio = m.get("ratio")
        if ratio is not None:
            if isinstance(ratio, bool) or not isinstance(ratio, int | float):
                errs.append(type_invalid(child(mp, "ratio"), ratio, "number"))
            elif not 0 <= ratio <= 1:
                errs.append(invalid(child(mp, "ratio"), ratio, "must be between 0 and 1, inclusive"))
        if m.get("labels") is not None:
            errs.extend(validate_labels(m.get("labels"), child(mp, "labels")))


def validate_external_metric_series(obj: Obj, old: Obj | None) -> Errs:
    """kubetwin.io ExternalMetricSeries: ``spec.metricName``, ``spec.labels`` (what a
    metricSelector matches) and ``spec.values`` (one traffic shape with ``value`` for ``rps``)."""
    errs: Errs = []
    spec = get_dict(obj, "spec", "", errs)
    name = get_str(spec, "metricName", "spec", errs)
    if spec.get("metricName") in (None, ""):
        errs.append(required("spec.metricName"))
    elif not name:
        pass  # not a string: reported by get_str
    elif "/" in name or "%" in name:
        errs.append(invalid("spec.metricName", name, "may not contain '/' or '%'"))
    if spec.get("labels") is not None:
        errs.extend(validate_labels(spec.get("labels"), "spec.labels"))
    detail = "must specify exactly one of: " + ", ".join(f"`{k}`" for k in LOADPROFILE_TRAFFIC)
    if spec.get("values") is None:
        errs.append(required("spec.values", detail))
    else:
        values = get_dict(spec, "values", "spec", errs)
        if isinstance(spec.get("values"), dict):
            _validate_traffic(values, errs, "spec.values", "value")
    return errs


Validator = Callable[[Obj, Obj | None], Errs]

VALIDATORS: dict[str, Validator] = {
    "Pod": validate_pod,
    "Service": validate_service,
    "Namespace": validate_namespace,
    "Node": validate_node,
    "Deployment": validate_deployment,
    "ReplicaSet": validate_replicaset,
    "DaemonSet": validate_daemonset,
    "StatefulSet": validate_statefulset,
    "Job": validate_job,
    "CronJob": validate_cronjob,
    "PodDisruptionBudget": validate_pdb,
    "PriorityClass": validate_priority_class,
    "HorizontalPodAutoscaler": validate_hpa,
    "VerticalPodAutoscaler": validate_vpa,
    "NodeGroup": validate_nodegroup,
    "ClusterAutoscaler": validate_clusterautoscaler,
    "Scenario": validate_scenario,
    "LoadProfile": validate_loadprofile,
    "ExternalMetricSeries": validate_external_metric_series,
}


def _validate(obj: Any, old: Any) -> Errs:
    if not isinstance(obj, dict):
        return [type_invalid("", obj, "object")]
    kind = obj.get("kind") if isinstance(obj.get("kind"), str) else ""
    assert isinstance(kind, str)
    errs = validate_metadata(obj, kind)
    old_obj = old if isinstance(old, dict) else None
    if old_obj is not None:
        errs.extend(validate_metadata_update(obj, old_obj))
    validator = VALIDATORS.get(kind)
    if validator is not None:
        errs.extend(validator(obj, old_obj))
    return errs


def validate(obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[Cause]:
    """Field errors for ``obj`` (``old`` is the stored object on update, for immutability rules)."""
    try:
        return _validate(obj, old)
    except Exception as exc:  # a validator bug must surface as a 422 cause, never as a 500
        return [Cause("", f"Invalid value: {type(exc).__name__}: {exc}", INVALID)]


__all__ = ["validate", "VALIDATORS", "DNS1123_SUBDOMAIN_FMT_MSG"]
