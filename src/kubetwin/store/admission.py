"""Built-in admission plugins that run inside the registry (plugin/pkg/admission/...).

- NamespaceLifecycle: namespaced objects need an existing, non-terminating namespace.
- Priority (plugin/pkg/admission/priority/admission.go): resolves ``priorityClassName`` to
  ``spec.priority`` and ``spec.preemptionPolicy``; the globalDefault class (or 0) when unset;
  unknown class => Forbidden. The two system classes always exist.
- DefaultTolerationSeconds (plugin/pkg/admission/defaulttolerationseconds): pods tolerate
  ``node.kubernetes.io/not-ready`` and ``unreachable`` NoExecute for 300 s unless they say otherwise.

A plugin is ``fn(registry, obj, old, operation)``; it may mutate ``obj`` or raise ApiError.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from kubetwin.api import errors

if TYPE_CHECKING:
    from kubetwin.store.registry import Registry

AdmissionPlugin = Callable[["Registry", dict[str, Any], "dict[str, Any] | None", str], None]
_P = TypeVar("_P", bound=AdmissionPlugin)


def handles(*kinds: str, ops: tuple[str, ...] = ("CREATE", "UPDATE")) -> Callable[[_P], _P]:
    """Declare the kinds and operations an admission plugin acts on (upstream: a plugin's
    ``Handles(operation)`` and its own kind check), so the registry calls it for those writes
    only; ``kinds`` empty: every kind. The plugin keeps its own checks (direct callers)."""

    def mark(fn: _P) -> _P:
        fn.admission_kinds = frozenset(kinds) or None  # type: ignore[attr-defined]
        fn.admission_ops = frozenset(ops)  # type: ignore[attr-defined]
        return fn

    return mark


def applies(plugin: AdmissionPlugin, kind: str, op: str) -> bool:
    """Whether ``plugin`` acts on ``op`` writes of ``kind`` (undeclared plugins: always)."""
    kinds = getattr(plugin, "admission_kinds", None)
    ops = getattr(plugin, "admission_ops", None)
    return (kinds is None or kind in kinds) and (ops is None or op in ops)

SYSTEM_PRIORITY_CLASSES = {
    "system-node-critical": 2000001000,
    "system-cluster-critical": 2000000000,
}
DEFAULT_NOT_READY_TOLERATION_SECONDS = 300
DEFAULT_UNREACHABLE_TOLERATION_SECONDS = 300
TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"


def _forbidden(obj: dict[str, Any], message: str, causes: list[errors.Cause] | None = None) -> errors.ApiError:
    """admission.NewForbidden: ``pods "x" is forbidden: ...``, or ``pods is forbidden: ...`` when the
    name is not known yet (generateName is resolved after admission, as upstream)."""
    from kubetwin.api import kinds

    try:
        info = kinds.for_object(obj)
        resource, group = info.plural, info.group
    except errors.ApiError:
        resource, group = obj.get("kind", "").lower() + "s", ""
    qualified = f"{resource}.{group}" if group else resource
    name = (obj.get("metadata") or {}).get("name") or ""
    text = f'{qualified} "{name}" is forbidden: {message}' if name else f"{qualified} is forbidden: {message}"
    details: dict[str, Any] = {"name": name, "kind": resource}
    if group:
        details["group"] = group
    return errors.ApiError(403, "Forbidden", text, details=details, causes=causes)


@handles(ops=("CREATE",))
def namespace_lifecycle(reg: Registry, obj: dict[str, Any], old: dict[str, Any] | None, op: str) -> None:
    if op != "CREATE" or obj.get("kind") == "Namespace":
        return
    ns = obj.get("metadata", {}).get("namespace")
    if not ns:
        return
    nsobj = reg.store.get("namespaces", "", ns)
    if nsobj is None:
        raise errors.not_found("namespaces", ns)
    if nsobj.get("metadata", {}).get("deletionTimestamp") and obj.get("kind") != "Event":
        raise _forbidden(
            obj,
            f"unable to create new content in namespace {ns} because it is being terminated",
            [errors.Cause("metadata.namespace", f"namespace {ns} is being terminated", "NamespaceTerminating")],
        )


def _find_priority_class(reg: Registry, name: str) -> tuple[int, str] | None:
    if name in SYSTEM_PRIORITY_CLASSES:
        return SYSTEM_PRIORITY_CLASSES[name], "PreemptLowerPriority"
    pc = reg.store.get("priorityclasses.scheduling.k8s.io", "", name)
    if pc is None:
        return None
    return int(pc.get("value", 0)), pc.get("preemptionPolicy", "PreemptLowerPriority")


def _global_default(reg: Registry) -> tuple[str, int, str] | None:
    best: tuple[str, int, str] | None = None
    for pc in reg.store.iter("priorityclasses.scheduling.k8s.io"):
        if pc.get("globalDefault"):
            value = int(pc.get("value", 0))
            # Upstream picks the one with the lowest value if several claim to be the default.
            if best is None or value < best[1]:
                best = (pc["metadata"]["name"], value, pc.get("preemptionPolicy", "PreemptLowerPriority"))
    return best


@handles("Pod", ops=("CREATE",))
def priority(reg: Registry, obj: dict[str, Any], old: dict[str, Any] | None, op: str) -> None:
    if op != "CREATE" or obj.get("kind") != "Pod":
        return
    spec = obj.setdefault("spec", {})
    name = spec.get("priorityClassName") or ""
    if name:
        found = _find_priority_class(reg, name)
        if found is None:
            raise _forbidden(obj, f"no PriorityClass with name {name} was found")
        value, policy = found
    else:
        default = _global_default(reg)
        if default is None:
            value, policy = 0, "PreemptLowerPriority"
        else:
            spec["priorityClassName"], value, policy = default
    if "priority" in spec and spec["priority"] is not None and spec["priority"] != value:
        raise _forbidden(
            obj,
            f"the integer value of priority ({spec['priority']}) must not be provided in pod spec; "
            f"priority admission controller computed {value} from the given PriorityClass name",
        )
    spec["priority"] = value
    if spec.get("preemptionPolicy") and spec["preemptionPolicy"] != policy:
        raise _forbidden(
            obj,
            f"the string value of PreemptionPolicy ({spec['preemptionPolicy']}) must not be provided in pod spec; "
            f"priority admission controller computed {policy} from the given PriorityClass name",
        )
    spec["preemptionPolicy"] = policy


@handles("Pod", ops=("CREATE",))
def default_toleration_seconds(
    reg: Registry, obj: dict[str, Any], old: dict[str, Any] | None, op: str
) -> None:
    if op != "CREATE" or obj.get("kind") != "Pod":
        return
    spec = obj.setdefault("spec", {})
    tolerations = spec.get("tolerations") or []
    for key, seconds in (
        (TAINT_NOT_READY, DEFAULT_NOT_READY_TOLERATION_SECONDS),
        (TAINT_UNREACHABLE, DEFAULT_UNREACHABLE_TOLERATION_SECONDS),
    ):
        covered = any(
            (t.get("key") == key or (not t.get("key") and t.get("operator") == "Exists"))
            and t.get("effect") in (None, "", "NoExecute")
            for t in tolerations
        )
        if not covered:
            tolerations.append(
                {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": seconds}
            )
    spec["tolerations"] = tolerations


DEFAULT_PLUGINS: tuple[AdmissionPlugin, ...] = (namespace_lifecycle, priority, default_toleration_seconds)
