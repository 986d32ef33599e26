"""Kubernetes `Status` objects and the errors that carry them."""

from __future__ import annotations

from typing import Any

from .resources import Resource, routing_kinds


class ApiError(Exception):
    """An error the server answers with a Status object."""

    def __init__(self, code: int, reason: str, message: str,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                               "status": "Failure", "message": self.message,
                               "reason": self.reason, "code": self.code}
        if self.details is not None:
            out["details"] = self.details
        return out


def _details(res: Resource, name: str, kind: str | None = None) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": kind or res.plural}
    if res.group:
        details["group"] = res.group
    return details


def not_found(res: Resource, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{res.qualified} "{name}" not found', _details(res, name))


def no_route() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def already_exists(res: Resource, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{res.qualified} "{name}" already exists',
                    _details(res, name))


def conflict(res: Resource, name: str) -> ApiError:
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {res.qualified} "{name}": '
                    "the object has been modified; please apply your changes to the latest "
                    "version and try again", _details(res, name))


def read_only(res: Resource | None, verb: str, routing_only: bool = True) -> ApiError:
    """405 for a write the server does not take: in "routing" mode anything but routing
    objects; otherwise what the lab itself manages (ReplicaSets, Events, Nodes...)."""
    what = res.qualified if res else "this resource"
    why = (f"the meshgrade lab only accepts writes to routing objects "
           f"({', '.join(routing_kinds())})" if routing_only else
           f"the meshgrade lab manages {what} itself (see `meshgrade lab --help`)")
    return ApiError(405, "MethodNotAllowed", f"{verb} on {what} is not allowed: {why}",
                    {"kind": res.plural} if res else None)


def unsupported(what: str) -> ApiError:
    """A request the lab does not implement, said plainly (never a misleading 404)."""
    return ApiError(405, "MethodNotAllowed", f"the meshgrade lab does not support {what} "
                    "(see `meshgrade lab --help` for what works)")


def not_allowed(message: str) -> ApiError:
    return ApiError(405, "MethodNotAllowed", message)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def invalid(res: Resource, name: str, causes: list[tuple[str, str]]) -> ApiError:
    """422 Invalid; causes are (field, message) pairs."""
    text = "; ".join(f"{f}: {m}" for f, m in causes)
    details = _details(res, name, res.kind)
    details["causes"] = [{"reason": "FieldValueInvalid", "message": m, "field": f}
                         for f, m in causes]
    what = f"{res.kind}.{res.group}" if res.group else res.kind
    return ApiError(422, "Invalid", f'{what} "{name}" is invalid: {text}', details)


def unsupported_media(content_type: str) -> ApiError:
    return ApiError(415, "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted media types "
                    f"include: application/json-patch+json, application/merge-patch+json, "
                    f"application/apply-patch+yaml (got {content_type!r})")


def namespace_missing(namespace: str) -> ApiError:
    return ApiError(404, "NotFound", f'namespaces "{namespace}" not found',
                    {"name": namespace, "kind": "namespaces"})


def unavailable(message: str) -> ApiError:
    return ApiError(503, "ServiceUnavailable", message)


def internal(message: str) -> ApiError:
    return ApiError(500, "InternalError", message)
