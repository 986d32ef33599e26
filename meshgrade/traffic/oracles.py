"""Oracles: what version (and pod) answered a sampled request.

A per-response oracle turns one HTTP response into a `Classification`. Generic apps are read
through a response header, a body regex or a JSON field (chosen by a rubric's ``oracle:``
setting); Bookinfo has its own oracle in `bookinfo_oracle`. Prometheus' ``istio_requests_total``
cannot classify single responses, so it is read as per-version counter deltas for a batch."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import requests

PROMETHEUS_QUERY = ('sum(istio_requests_total{{destination_service_name="{service}"{extra}}}) '
                    'by (destination_version)')


@dataclass(frozen=True)
class Classification:
    """What one response says: the version and pod that served it (None when unknown),
    anything suspicious about it, and whether it is an application error page."""

    version: str | None
    pod: str | None = None
    problems: tuple[str, ...] = ()
    error_page: bool = False


class Oracle(Protocol):
    """Anything that classifies a response to a version."""

    def classify(self, response: requests.Response) -> Classification: ...


def _text(value: Any) -> str | None:
    """A version or pod value as a non-empty string, else None."""
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


class HeaderOracle:
    """Version from a response header (e.g. ``x-version``); optionally the pod from another."""

    def __init__(self, name: str, pod_header: str | None = None) -> None:
        self.name, self.pod_header = name, pod_header

    def classify(self, response: requests.Response) -> Classification:
        version = _text(response.headers.get(self.name))
        pod = _text(response.headers.get(self.pod_header)) if self.pod_header else None
        problems = () if version else (f"no {self.name} header",)
        return Classification(version, pod, problems)


class BodyRegexOracle:
    """Version from the first match of ``pattern`` in the body (capture ``group``)."""

    def __init__(self, pattern: str, group: int | str = 1) -> None:
        self.pattern = re.compile(pattern)
        self.group = group

    def classify(self, response: requests.Response) -> Classification:
        found = self.pattern.search(response.text)
        if found is None:
            return Classification(None, problems=(f"body does not match {self.pattern.pattern!r}",))
        try:
            version = _text(found.group(self.group))
        except (IndexError, re.error):
            version = None
        problems = () if version else (f"group {self.group!r} of the body regex is empty",)
        return Classification(version, None, problems)


def json_field(data: Any, path: str) -> Any:
    """``data`` at a dotted ``path`` ("a.b.0.c"); None when any step is missing."""
    for step in path.split(".") if path else []:
        if isinstance(data, Mapping):
            data = data.get(step)
        elif isinstance(data, list) and step.isdigit() and int(step) < len(data):
            data = data[int(step)]
        else:
            return None
    return data


class JsonFieldOracle:
    """Version from a JSON body field at a dotted ``path``; optionally the pod from another."""

    def __init__(self, path: str, pod_path: str | None = None) -> None:
        self.path, self.pod_path = path, pod_path

    def classify(self, response: requests.Response) -> Classification:
        try:
            data = response.json()
        except (ValueError, json.JSONDecodeError):
            return Classification(None, problems=("body is not JSON",))
        version = _text(json_field(data, self.path))
        pod = _text(json_field(data, self.pod_path)) if self.pod_path else None
        problems = () if version else (f"no JSON field {self.path!r}",)
        return Classification(version, pod, problems)


def oracle_from_settings(settings: Mapping[str, Any]) -> Oracle:
    """The oracle a rubric names: ``{header: x-version}``, ``{regex: "...", group: 1}``,
    ``{json: version}`` (each may add ``pod: <header or path>``) or ``{bookinfo: true}``."""
    kinds = [k for k in ("header", "regex", "json", "bookinfo", "prometheus") if k in settings]
    if len(kinds) != 1:
        raise ValueError("oracle settings need exactly one of header, regex, json, bookinfo; "
                         f"got {sorted(settings)}")
    kind, value, pod = kinds[0], settings[kinds[0]], settings.get("pod")
    if kind == "prometheus":
        raise ValueError("prometheus counts batches, not single responses: "
                         "use prometheus_version_deltas")
    if kind == "bookinfo":
        from .bookinfo_oracle import BookinfoOracle  # cycle: bookinfo_oracle imports oracles
        return BookinfoOracle()
    if not isinstance(value, str) or not value:
        raise ValueError(f"oracle {kind}: expected a non-empty string, got {value!r}")
    if kind == "header":
        return HeaderOracle(value, pod_header=pod)
    if kind == "json":
        return JsonFieldOracle(value, pod_path=pod)
    try:
        return BodyRegexOracle(value, settings.get("group", 1))
    except re.error as exc:
        raise ValueError(f"oracle regex {value!r}: {exc}") from exc


QueryFn = Callable[[str], Mapping[str, Any]]


def prometheus_via_api(get: Callable[[str], Any], namespace: str = "istio-system",
                       service: str = "prometheus:9090") -> QueryFn:
    """A query function through the Kubernetes API server's service proxy; ``get(path)``
    is e.g. ``ApiClient(kubeconfig).get``."""
    base = f"/api/v1/namespaces/{namespace}/services/{service}/proxy/api/v1/query"
    return lambda promql: get(f"{base}?query={quote(promql, safe='')}")


def _by_version(answer: Mapping[str, Any]) -> dict[str, float]:
    if answer.get("status") not in (None, "success"):
        raise RuntimeError(f"Prometheus: {answer.get('error', answer)}")
    out: dict[str, float] = {}
    for row in (answer.get("data") or {}).get("result") or []:
        version = (row.get("metric") or {}).get("destination_version") or "unknown"
        out[version] = out.get(version, 0.0) + float(row["value"][1])
    return out


def prometheus_version_deltas(query_fn: QueryFn, service: str,
                              before: Mapping[str, float] | None) -> dict[str, float]:
    """Requests received by ``service`` per ``destination_version``.

    With ``before`` None: the current counter totals (keep them). With ``before``: the
    increase since then per version (negative increases, a counter reset, count as 0).
    Series with ``reporter="destination"`` are read first; setups without the reporter label
    fall back to all series of the service."""
    now = _by_version(query_fn(PROMETHEUS_QUERY.format(service=service,
                                                       extra=',reporter="destination"')))
    if not now:
        now = _by_version(query_fn(PROMETHEUS_QUERY.format(service=service, extra="")))
    if before is None:
        return now
    return {v: max(0.0, now.get(v, 0.0) - before.get(v, 0.0)) for v in {*now, *before}}
