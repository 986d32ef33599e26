"""Traffic checks explain failures by what was observed (status codes and their share, Envoy's
own answers, failed logins, error pages, each with a request id), then the likely cause the
routing model points to (object, field, file and line): real lab runs and the summariser."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from requests.structures import CaseInsensitiveDict

from meshgrade.checklib.sampling import likely_cause
from meshgrade.cli.main import main
from meshgrade.routing import Step
from meshgrade.submission.objects import KObject
from meshgrade.traffic import Classification, Sample, observed
from meshgrade.traffic import answers as A

from .conftest import EXAMPLES

PART1 = EXAMPLES / "part1-bookinfo"
PART2 = EXAMPLES / "part2-app"
LIVE_ONLY = """name: diagnosis
title: Bookinfo pages and users through the gateway
checks:
  MG401: {points: 1}
  MG402: {points: 1}
"""


def grade(tmp_path: Path, source: Path, edits: dict[str, tuple[str, str]], rubric: str
          ) -> dict[str, dict]:
    """Grade a copy of ``source`` with ``edits`` ({file: (old, new)}) in the lab."""
    folder = tmp_path / "sub"
    shutil.copytree(source, folder)
    for name, (old, new) in edits.items():
        path = folder / name
        assert old in path.read_text()
        path.write_text(path.read_text().replace(old, new))
    if "\n" in rubric:  # the rubric's text, else a built-in name
        (tmp_path / "rubric.yaml").write_text(rubric)
        rubric = str(tmp_path / "rubric.yaml")
    out = tmp_path / "out"
    main(["grade", str(folder), "--rubric", rubric, "--mode", "lab", "--out", str(out),
          "--seed", "7"])
    results = json.loads((out / "results.json").read_text())
    return {c["id"]: c for c in results["checks"]}


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


# -- real lab runs ---------------------------------------------------------------------------

@pytest.mark.slow
def test_an_undefined_subset_is_diagnosed_as_envoy_503(tmp_path: Path) -> None:
    """Half the weighted stage's traffic goes to subset v3, which no DestinationRule
    defines: Envoy answers 503 with an empty body, and the model names the route."""
    weighted = (PART2 / "route-weighted.yaml").read_text()
    edited = weighted.replace("      weight: 80\n", "      weight: 30\n").replace(
        "      weight: 20\n", "      weight: 20\n    - destination:\n        host: greeter\n"
        "        subset: v3\n      weight: 50\n")
    (tmp_path / "want.yaml").write_text(edited)
    checks = grade(tmp_path, PART2, {"route-weighted.yaml": (weighted, edited)}, "istio-part2")
    mg413 = checks["MG413"]
    assert mg413["outcome"] == "failed"
    text = mg413["findings"][0]["message"]
    line = line_of(tmp_path / "want.yaml", "subset: v3")
    assert "answered 503 from Envoy with an empty body" in text, text
    assert "(e.g. x-request-id " in text and "reached v1" in text, text
    assert (f"likely cause: subset 'v3' not defined (not in DestinationRule default/greeter) "
            f"(VirtualService default/greeter spec.http[0].route[2].destination.subset, "
            f"route-weighted.yaml:{line})") in text, text
    assert "a subset without pods" not in text  # the canned text is gone
    assert mg413["evidence"]["answers"][A.CLUSTER_NOT_FOUND] > 0
    assert mg413["evidence"]["diagnosis"] in text


@pytest.mark.parametrize(("name", "edits", "cause"), [
    ("virtual service bound to no gateway",
     {"bookinfo-gateway.yaml": ("  gateways:\n  - bookinfo-gateway\n", "")},
     "VirtualService default/bookinfo names the host but is bound to no gateway "
     "(VirtualService default/bookinfo spec.gateways, bookinfo-gateway.yaml:"),
    ("gateway host mismatch",
     {"bookinfo-gateway.yaml": ('    hosts:\n    - "*"\n',
                                '    hosts:\n    - "bookinfo.example.com"\n')},
     "Gateway default/bookinfo-gateway does not accept the host "
     "(Gateway default/bookinfo-gateway spec.servers, bookinfo-gateway.yaml:"),
])
@pytest.mark.slow
def test_gateway_404s_are_diagnosed_as_route_not_found(tmp_path: Path, name: str,
                                                       edits: dict[str, tuple[str, str]],
                                                       cause: str) -> None:
    checks = grade(tmp_path, PART1, edits, LIVE_ONLY)
    page = checks["MG401"]
    assert page["outcome"] == "failed"
    text = page["findings"][0]["message"]
    assert text.startswith("of 10 requests: 10 (100%) answered 404 from Envoy with an empty "
                           "body: route not found"), text
    assert "(e.g. x-request-id " in text and cause in text, text
    users = {f["message"].split(":")[0]: f["message"] for f in checks["MG402"]["findings"]}
    assert "answered 404 from Envoy" in users["anonymous"]
    jason = users["jason"]
    assert "failed to log in: login as jason answered 404 (route not found), not a redirect" \
        in jason and "-login)" in jason and cause in jason, jason


# -- the summariser over recorded samples ----------------------------------------------------

def sample(i: int, status: int | None, *, version: str | None = None, error: str | None = None,
           answer: str = "", problems: tuple[str, ...] = (), cls: str = "anonymous") -> Sample:
    return Sample(i / 10, cls, status, version, None, 1.0, f"run-{i}", error, problems, answer)


def many(n: int, start: int, **kw: object) -> list[Sample]:
    return [sample(start + i, **kw) for i in range(n)]  # type: ignore[arg-type]


SUMMARIES = {
    "no healthy upstream and a version": (
        many(60, 1, status=503, error="http 503", answer=A.NO_HEALTHY_UPSTREAM)
        + many(60, 61, status=200, version="v1", answer=A.VERSION),
        "of 120 requests: 60 (50%) answered 503 `no healthy upstream` (Envoy: no ready pod "
        "behind the destination) (e.g. x-request-id run-1); 60 (50%) reached v1"),
    "route not found": (
        many(3, 1, status=404, error="http 404", answer=A.ROUTE_NOT_FOUND),
        "of 3 requests: 3 (100%) answered 404 from Envoy with an empty body: route not found "
        "(no route for this host and path) (e.g. x-request-id run-1)"),
    "failed logins": (
        many(4, 7, status=404, error="login: login as jason answered 404 (route not found), "
             "not a redirect", answer=A.LOGIN_FAILED, cls="user:jason"),
        "of 4 requests: 4 (100%) failed to log in: login as jason answered 404 (route not "
        "found), not a redirect (e.g. x-request-id run-7-login)"),
    "error pages, unclassifiable pages and an upstream reset": (
        many(2, 1, status=200, error="error page", answer=A.ERROR_PAGE,
             problems=("error page: Error fetching product reviews (page shows pod "
                       "reviews-v2-abc12-xyz)",))
        + many(1, 3, status=200, answer=A.UNCLASSIFIABLE, problems=("no x-version header",))
        + many(1, 4, status=503, error="http 503", answer=A.UPSTREAM_RESET)
        + many(4, 5, status=200, version="v2", answer=A.VERSION),
        "of 8 requests: 4 (50%) reached v2; 2 (25%) answered 200 with an error page: Error "
        "fetching product reviews (e.g. x-request-id run-1); 1 (12%) answered 200 with a page "
        "the oracle could not classify: no x-version header (e.g. x-request-id run-3); "
        "1 (12%) answered 503 `upstream connect error or disconnect/reset before headers` "
        "(Envoy: the pod did not answer) (e.g. x-request-id run-4)"),
    "recorded without a kind": (
        [sample(1, None, error="connection: refused"), sample(2, 500, error="http 500"),
         sample(3, None, error="timeout: read")],
        "of 3 requests: 1 (33%) got no answer (connection failed) (e.g. x-request-id run-1); "
        "1 (33%) answered 500 from the application (e.g. x-request-id run-2); 1 (33%) got no "
        "answer in time (e.g. x-request-id run-3)"),
    "nothing sent": ([], "no request was sent"),
}


@pytest.mark.parametrize("case", list(SUMMARIES))
def test_observed_summary(case: str) -> None:
    samples, want = SUMMARIES[case]
    assert observed(samples) == want


def test_the_summary_keeps_the_five_largest_groups() -> None:
    samples = [sample(i, 500 + i, error=f"http {500 + i}", answer=A.APP_ERROR)
               for i in range(7)]
    text = observed(samples)
    assert text.count("answered") == 5 and text.endswith("; 2 more, 2 other kinds of answer")


def headers(**values: str) -> CaseInsensitiveDict[str]:
    return CaseInsensitiveDict({k.replace("_", "-"): v for k, v in values.items()})


ENVOY, UPSTREAM = headers(server="istio-envoy"), headers(
    server="envoy", x_envoy_upstream_service_time="3")
ANSWERS = [
    (503, ENVOY, "no healthy upstream", Classification(None), A.NO_HEALTHY_UPSTREAM),
    (503, UPSTREAM, "upstream connect error or disconnect/reset before headers. reset reason: "
     "connection failure", Classification(None), A.UPSTREAM_RESET),
    (404, ENVOY, "", Classification(None), A.ROUTE_NOT_FOUND),
    (503, headers(server="envoy"), "", Classification(None), A.CLUSTER_NOT_FOUND),
    (503, ENVOY, "fault filter abort", Classification(None), A.FAULT_ABORT),
    (404, UPSTREAM, "", Classification(None), A.APP_ERROR),  # the app's own empty 404
    (404, headers(server="nginx"), "", Classification(None), A.APP_ERROR),
    (500, UPSTREAM, "boom", Classification(None), A.APP_ERROR),
    (200, UPSTREAM, "", Classification(None, error_page=True), A.ERROR_PAGE),
    (200, UPSTREAM, "", Classification(None, problems=("?",)), A.UNCLASSIFIABLE),
    (200, UPSTREAM, "", Classification("v2"), A.VERSION),
]


@pytest.mark.parametrize(("status", "head", "body", "found", "kind"), ANSWERS)
def test_answer_classification(status: int, head: CaseInsensitiveDict[str], body: str,
                               found: Classification, kind: str) -> None:
    got, error = A.classify(status, head, body, found)
    assert got == kind
    assert error == (f"http {status}" if status >= 400 else
                     "error page" if kind == A.ERROR_PAGE else None)


def test_the_cause_is_the_step_whose_status_was_seen() -> None:
    vs = KObject({"kind": "VirtualService", "metadata": {"name": "reviews"}},
                 file="vs.yaml", line=3, lines={"spec.http[0].route[1].destination.subset": 14})
    undefined = Step(vs, "spec.http[0].route[1].destination.subset",
                     "503: subset 'v3' not defined (no DestinationRule for the host)", 503)
    no_rule = Step(vs, "spec.http", "404: no VirtualService rule matched", 404)
    unlocated = Step(None, "", "404: no route for host 'x' at the ingress gateway", 404)
    steps = [undefined, no_rule, unlocated]
    gateway_503 = many(2, 1, status=503, error="http 503", answer=A.CLUSTER_NOT_FOUND)
    pages = many(2, 1, status=200, error="error page", answer=A.ERROR_PAGE)
    route_404 = many(2, 1, status=404, error="http 404", answer=A.ROUTE_NOT_FOUND)
    subset = ("subset 'v3' not defined (no DestinationRule for the host) (VirtualService "
              "default/reviews spec.http[0].route[1].destination.subset, vs.yaml:14)")
    assert likely_cause(steps, gateway_503) == subset
    assert likely_cause(steps, pages) == subset  # an error page stands for the 5xx behind it
    assert likely_cause(steps, route_404) == ("no VirtualService rule matched "
                                             "(VirtualService default/reviews spec.http, "
                                             "vs.yaml:3)")
    assert likely_cause(steps, many(2, 1, status=200, version="v1")) == ""
    assert likely_cause([], gateway_503) == ""
