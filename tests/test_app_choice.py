"""Which application Part 2 grades: the one the student routes (tests/app_choice holds a Redis
with two versions that nothing routes and a web app with a header and a weighted
VirtualService; Redis is loaded first)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from meshgrade.checklib.app import find_app
from meshgrade.grading import registry
from meshgrade.grading.check import run
from meshgrade.grading.settings import Settings

from .conftest import TESTS, context_for

FIXTURE = TESTS / "app_choice"
PART2 = ("MG211", "MG212", "MG213", "MG214", "MG215")

REDIS_VS = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: redis
spec:
  hosts: [redis-service]
  tcp:
  - route:
    - destination: {host: redis-service}
"""
WEB_VS = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: web
spec:
  hosts: [web.default.svc.cluster.local]
  http:
  - route:
    - destination: {host: web}
"""
PER_VERSION = """apiVersion: v1
kind: Service
metadata: {name: web-v1}
spec:
  selector: {app: web, version: v1}
  ports: [{name: http, port: 8080, targetPort: 5678}]
---
apiVersion: v1
kind: Service
metadata: {name: web-v2}
spec:
  selector: {app: web, version: v2}
  ports: [{name: http, port: 8080, targetPort: 5678}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web-split}
spec:
  parentRefs: [{name: web-gateway}]
  rules:
  - matches: [{headers: [{name: x-canary, value: "true"}]}]
    backendRefs: [{name: web-v2, port: 8080}]
  - backendRefs:
    - {name: web-v1, port: 8080, weight: 80}
    - {name: web-v2, port: 8080, weight: 20}
"""
ROUTES = ("route-header.yaml", "route-weighted.yaml")

CASES = {
    "the routed app wins over one loaded earlier": (
        {}, (), {}, "web",
        ["the VirtualService `web-header` (route-header.yaml:2) and the VirtualService "
         "`web-weighted` (route-weighted.yaml:2) route to it",
         "with a header rule and a weighted rule", "`redis-service` is not routed"]),
    "the rubric's app_service pin wins": (
        {"app_service": "redis-service"}, (), {}, "redis-service",
        ["the rubric pins app_service", "no routing object addresses it"]),
    "nothing routed: the first one loaded, saying so": (
        {}, ROUTES, {}, "redis-service",
        ["no routing object of the submission addresses a two-version Service, so the first "
         "one loaded was taken", "`web` is not routed"]),
    "both routed: a header and a weighted rule win": (
        {}, (), {"redis-vs.yaml": REDIS_VS}, "web",
        ["`redis-service` lacks a header rule or a weighted rule"]),
    "both routed alike: load order decides, saying so": (
        {}, ROUTES, {"redis-vs.yaml": REDIS_VS, "web-vs.yaml": WEB_VS}, "redis-service",
        ["the VirtualService `redis` (redis-vs.yaml:1) routes to it",
         "`web` is routed as well, `redis-service` comes first in the submission"]),
    "Gateway API: per-version Services route to the app's pods": (
        {}, ROUTES, {"httproute.yaml": PER_VERSION}, "web",
        ["the HTTPRoute `web-split` (httproute.yaml:15) routes to it, with a header rule and "
         "a weighted rule", "`redis-service` is not routed"]),
}


def submission(tmp_path: Path, drop: tuple[str, ...] = (), add: dict[str, str] | None = None
               ) -> Path:
    folder = tmp_path / "sub"
    shutil.copytree(FIXTURE, folder)
    for name in drop:
        (folder / name).unlink()
    for name, text in (add or {}).items():
        (folder / name).write_text(text, "utf-8")
    return folder


@pytest.mark.parametrize("case", list(CASES))
def test_the_app_is_the_one_the_student_routes(tmp_path: Path, case: str) -> None:
    settings, drop, add, service, reasons = CASES[case]
    folder = submission(tmp_path, drop, add)
    app, why = find_app(context_for(folder, Settings(**settings)))
    assert app is not None, why
    assert app.service.name == service
    assert app.reason.startswith(f"picked service `{service}` in namespace default: ")
    for text in reasons:
        assert text in app.reason, app.reason
    again, _ = find_app(context_for(folder, Settings(**settings)))
    assert again is not None and again.reason == app.reason  # deterministic
    for cid in PART2:  # every Part 2 report says which app and why
        report, _ = run(registry.get(cid), context_for(folder, Settings(**settings)))
        assert report.evidence["app"] == {"service": service, "namespace": "default",
                                          "reason": app.reason}, cid
        assert app.reason in report.message, (cid, report.message)


def test_no_app_reports_why(tmp_path: Path) -> None:
    folder = submission(tmp_path, ("app-web.yaml", "app-redis.yaml"))
    report, _ = run(registry.get("MG211"), context_for(folder))
    assert report.outcome.value == "failed" and "app" not in report.evidence
    assert "no Service of the submission selects two Deployments" in report.findings[0].message


@pytest.mark.parametrize("one_name", [True, False], ids=["one VS in two stages", "two VSs"])
@pytest.mark.slow
def test_the_lab_samples_the_routed_app(tmp_path: Path, one_name: bool) -> None:
    """With two VirtualServices for the gateway host (web-header, web-weighted), each stage
    is sampled with the other taken out: else the header one's catch-all hides the split."""
    from meshgrade.cli.main import main

    folder = submission(tmp_path)
    if one_name:
        weighted = folder / "route-weighted.yaml"
        weighted.write_text(weighted.read_text().replace("web-weighted", "web-header"))
    out = tmp_path / "out"
    code = main(["grade", str(folder), "--rubric", "istio-part2", "--mode", "lab",
                 "--out", str(out), "--seed", "7"])
    checks = {c["id"]: c for c in json.loads((out / "results.json").read_text())["checks"]}
    assert code == 0, {k: c["message"] for k, c in checks.items() if c["outcome"] != "passed"}
    for cid in ("MG308", "MG411", "MG412", "MG413"):
        assert checks[cid]["outcome"] == "passed", checks[cid]["message"]
        assert checks[cid]["evidence"]["app"]["service"] == "web"
        assert "`redis-service` is not routed" in checks[cid]["message"]
    assert checks["MG413"]["evidence"]["expected"] == {"v1": 0.8, "v2": 0.2}
    assert set(checks["MG413"]["evidence"]["counts"]) == {"v1", "v2"}
    taken_out = [] if one_name else ["VirtualService default/web-header (route-header.yaml:2)"]
    assert checks["MG413"]["evidence"].get("taken_out", []) == taken_out
