"""Kubernetes ``Status`` errors (k8s.io/apimachinery/pkg/api/errors/errors.go).

Every failure that crosses a layer boundary is an :class:`ApiError` carrying a ``metav1.Status``
dict: reason, HTTP code, message and field causes. The server returns ``err.status`` verbatim; the
CLI prints ``err.message`` as one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Cause:
    """One field error (metav1.StatusCause): ``reason`` is a CauseType like FieldValueInvalid."""

    field: str
    message: str
    reason: str = "FieldValueInvalid"

    def as_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message, "field": self.field}


class ApiError(Exception):
    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        causes: list[Cause] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = dict(details or {})
        self.causes = list(causes or [])

    @property
    def status(self) -> dict[str, Any]:
        st: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        details = dict(self.details)
        if self.causes:
            details["causes"] = [c.as_dict() for c in self.causes]
        if details:
            st["details"] = details
        return st

    def __repr__(self) -> str:
        return f"ApiError({self.code}, {self.reason!r}, {self.message!r})"


def _details(kind: str, name: str, group: str = "") -> dict[str, Any]:
    d: dict[str, Any] = {"name": name, "kind": kind}
    if group:
        d["group"] = group
    return d


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, name: str, group: str = "") -> ApiError:
    return ApiError(
        404, "NotFound", f'{_qualified(resource, group)} "{name}" not found', details=_details(resource, name, group)
    )


def already_exists(resource: str, name: str, group: str = "") -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f'{_qualified(resource, group)} "{name}" already exists',
        details=_details(resource, name, group),
    )


def conflict(resource: str, name: str, reason: str, group: str = "") -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": {reason}',
        details=_details(resource, name, group),
    )


def invalid(kind: str, name: str, causes: list[Cause], group: str = "") -> ApiError:
    """422 Invalid; message joins the causes like upstream's NewInvalid."""
    if not causes:
        raise ValueError("invalid() needs at least one cause")
    parts = [f"{c.field}: {c.message}" if c.field else c.message for c in causes]
    msg = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    qualified = f"{kind}.{group}" if group else kind
    return ApiError(
        422, "Invalid", f'{qualified} "{name}" is invalid: {msg}', details=_details(kind, name, group), causes=causes
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def too_many_requests(message: str, retry_after: int | None = None) -> ApiError:
    details: dict[str, Any] = {}
    if retry_after is not None:
        details["retryAfterSeconds"] = retry_after
    return ApiError(429, "TooManyRequests", message, details=details)


def method_not_allowed(message: str) -> ApiError:
    return ApiError(405, "MethodNotAllowed", message)


def forbidden(resource: str, name: str, message: str, group: str = "") -> ApiError:
    return ApiError(
        403,
        "Forbidden",
        f'{_qualified(resource, group)} "{name}" is forbidden: {message}',
        details=_details(resource, name, group),
    )


def internal(message: str) -> ApiError:
    return ApiError(500, "InternalError", f"Internal error occurred: {message}")
