"""Any workload that is not Bookinfo: an echo server that tells who answered and what it got."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment

from .podserver import PodSpec, Request, Response

_ENV = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)

ECHO_PAGE = _ENV.from_string("""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{{ info.pod }}</title></head>
<body>
<h1>{{ info.pod }}</h1>
<dl>
  <dt>app</dt><dd>{{ info.app }}</dd>
  <dt>version</dt><dd>{{ info.version }}</dd>
  <dt>namespace</dt><dd>{{ info.namespace }}</dd>
  <dt>workload</dt><dd>{{ info.workload }}</dd>
  <dt>method</dt><dd>{{ info.method }}</dd>
  <dt>path</dt><dd>{{ info.path }}</dd>
  <dt>query</dt><dd>{{ info.query }}</dd>
</dl>
<h2>Request headers</h2>
<table>
{% for name, value in info.headers.items() %}
  <tr><th>{{ name }}</th><td>{{ value }}</td></tr>
{% endfor %}
</table>
</body>
</html>
""")

_HTML, _JSON = "text/html", "application/json"


def prefers_html(accept: str) -> bool:
    """True when the Accept header ranks text/html strictly above application/json."""
    best = {_HTML: (-1, 0.0), _JSON: (-1, 0.0)}  # (specificity, q) of the best-matching range
    for part in accept.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        media = media.lower()
        if not media:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        for target in best:
            kind = target.split("/")[0]
            specificity = (3 if media == target else 2 if media == f"{kind}/*"
                           else 1 if media == "*/*" else -1)
            if specificity > best[target][0]:
                best[target] = (specificity, q)
    return best[_HTML][1] > best[_JSON][1]


class Generic:
    """Answers every path and method with the pod's identity and the request it received."""

    def __init__(self, spec: PodSpec) -> None:
        self.spec = spec

    def info(self, request: Request) -> dict[str, Any]:
        spec = self.spec
        return {"pod": spec.name, "app": spec.app, "version": spec.version,
                "namespace": spec.namespace, "workload": spec.workload,
                "labels": dict(spec.labels), "method": request.method, "path": request.path,
                "query": request.query_string, "headers": dict(request.headers)}

    def __call__(self, request: Request) -> Response:
        info = self.info(request)
        if prefers_html(request.header("accept")):
            return Response.html(ECHO_PAGE.render(info=info))
        return Response.json(info)
