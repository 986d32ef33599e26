"""MG411-MG413: the student's own application observed through the ingress gateway."""

from __future__ import annotations

from typing import Any

from ..grading.context import Context
from ..grading.results import CheckReport, Finding, Outcome
from ..live.sources import live_of
from .app import find_app, find_entry, find_header_stage, find_weighted_stage, notes_app
from .sampling import (
    Judgement,
    PrometheusBatches,
    _StatusOnly,
    diagnosis,
    judge,
    report,
    routing_trace,
)
from .traffic import _guard, _staged, settle_probe

LAB_ORACLE = {"header": "x-meshgrade-version"}
DEFAULT_ORACLE = {"regex": r"\b(v\d+)\b"}


def _oracle(ctx: Context) -> Any:
    """The rubric's oracle (header, regex, json, or ``prometheus: true`` for counter deltas
    by destination_version); else the lab pods' version header, or a ``vN`` in the body."""
    from ..traffic.oracles import oracle_from_settings

    chosen = ctx.settings.oracle or (LAB_ORACLE if live_of(ctx).kind == "lab"
                                     else DEFAULT_ORACLE)
    if chosen.get("prometheus"):
        app, _why = find_app(ctx)
        return PrometheusBatches(app.service.name if app else "")
    return oracle_from_settings(chosen)


def _probe(ctx: Context, cls: Any, versions: set[str]) -> Any:
    """A settle probe, or None with the Prometheus oracle (answers carry no version)."""
    oracle = _oracle(ctx)
    return None if isinstance(oracle, PrometheusBatches) else settle_probe(ctx, cls, oracle,
                                                                          versions)


def _setup(ctx: Context) -> tuple[Any, tuple[str, str] | None, CheckReport | None]:
    app, why = find_app(ctx)
    if app is None:
        return None, None, CheckReport(Outcome.FAILED, "no application found",
                                       [Finding(why, hint="See MG211.")])
    entry = find_entry(ctx, app)
    if entry is None:
        return app, None, CheckReport(Outcome.FAILED, "no route through the gateway reaches "
                                      f"{app.service.name}", [Finding(
                                          "nothing to send requests to", hint="See MG213.")])
    return app, entry, None


def _cls(entry: tuple[str, str], header: tuple[str, str] | None = None) -> Any:
    from ..traffic.classes import RequestClass

    host, path = entry
    headers = [] if host[0].isdigit() else [("host", host)]
    if header is not None:
        headers.append(header)
        return RequestClass(f"with {header[0]}", path, tuple(headers))
    return RequestClass("plain", path, tuple(headers))


def _judge(ctx: Context, cls: Any, wanted: dict[str, float], oracle: Any, label: str
           ) -> Judgement:
    """Judge one request class, diagnosed by the routing of its requests."""
    return judge(live_of(ctx), cls, wanted, oracle, label, trace=routing_trace(ctx, cls))


@_guard
@notes_app
def app_reachable(ctx: Context) -> CheckReport:
    """MG411: the application answers through the gateway."""
    app, entry, failed = _setup(ctx)
    if failed:
        return failed
    oracle = _oracle(ctx)
    if isinstance(oracle, PrometheusBatches):
        oracle = _StatusOnly()
    samples = live_of(ctx).sampler().sample(_cls(entry), 20, oracle)
    ok = [s for s in samples if s.status is not None and s.status < 400]
    evidence = {"requests": len(samples), "host": entry[0], "path": entry[1],
                "statuses": {str(s.status): sum(x.status == s.status for x in samples)
                             for s in samples}}
    if len(ok) >= 0.95 * len(samples):
        return CheckReport(Outcome.PASSED, f"{app.service.name} answers at "
                           f"{entry[0]}{entry[1]} ({len(ok)}/{len(samples)})", evidence=evidence)
    evidence["diagnosis"] = diagnosis(samples, routing_trace(ctx, _cls(entry)))
    return CheckReport(Outcome.FAILED, f"only {len(ok)} of {len(samples)} requests answered",
                       [Finding(f"{app.service.name} did not answer through the gateway: "
                                f"{evidence['diagnosis']}",
                                hint="Check the Gateway, the VirtualService and the pods.")],
                       evidence)


@_guard
@notes_app
def app_header_observed(ctx: Context) -> CheckReport:
    """MG412: requests with the header reach one version, the others the other version."""
    app, entry, failed = _setup(ctx)
    if failed:
        return failed
    found = find_header_stage(ctx, app)

    def run() -> CheckReport:
        oracle = _oracle(ctx)
        header = (found.header, found.value)
        return report([_judge(ctx, _cls(entry, header), {found.with_version: 1.0}, oracle,
                              f"{found.header}: {found.value}"),
                       _judge(ctx, _cls(entry), {found.without_version: 1.0}, oracle,
                              "without the header")],
                      "the header decides the version",
                      "The header rule must come first, the default route last.")
    probe = _probe(ctx, _cls(entry, (found.header, found.value)),
                   {found.with_version}) if found else None
    return _staged(ctx, [found.stage] if found else [], run, "header routing", probe)


@_guard
@notes_app
def app_weights_observed(ctx: Context) -> CheckReport:
    """MG413: the observed split between the versions matches the configured weights."""
    app, entry, failed = _setup(ctx)
    if failed:
        return failed
    found = find_weighted_stage(ctx, app)

    def run() -> CheckReport:
        return report([_judge(ctx, _cls(entry), found[1], _oracle(ctx), "plain requests")],
                      "the observed split matches the weights",
                      "Check the weights and that both subsets select pods.")
    probe = _probe(ctx, _cls(entry), set(found[1])) if found else None
    return _staged(ctx, [found[0]] if found else [], run, "weighted", probe)
