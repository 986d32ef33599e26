"""MG411-MG413: the student's own application observed through the ingress gateway."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..grading.context import Context
from ..grading.results import CheckReport, Finding, Outcome
from ..live.sources import live_of
from .app import App, find_app, find_entry
from .sampling import (
    Judgement,
    PrometheusBatches,
    judge,
    routing_trace,
)
from .traffic import settle_probe

if TYPE_CHECKING:  # requests loads only when traffic is sent
    from ..traffic.classes import RequestClass
    from ..traffic.oracles import Oracle

LAB_ORACLE = {"header": "x-meshgrade-version"}
DEFAULT_ORACLE = {"regex": r"\b(v\d+)\b"}


def app_oracle(ctx: Context) -> Oracle | PrometheusBatches:
    """The rubric's oracle (header, regex, json, or ``prometheus: true`` for counter deltas
    by destination_version); else the lab pods' version header, or a ``vN`` in the body."""
    from ..traffic.oracles import oracle_from_settings  # start-up: requests

    chosen = ctx.settings.oracle or (LAB_ORACLE if live_of(ctx).kind == "lab"
                                     else DEFAULT_ORACLE)
    if chosen.get("prometheus"):
        app, _why = find_app(ctx)
        return PrometheusBatches(app.service.name if app else "")
    return oracle_from_settings(chosen)


def app_probe(ctx: Context, cls: RequestClass, versions: set[str]
              ) -> Callable[[], bool] | None:
    """A settle probe, or None with the Prometheus oracle (answers carry no version)."""
    oracle = app_oracle(ctx)
    return None if isinstance(oracle, PrometheusBatches) else settle_probe(ctx, cls, oracle,
                                                                          versions)


def app_setup(ctx: Context) -> tuple[App, tuple[str, str]] | CheckReport:
    """The application and (host, path) of a request through the gateway that reaches it,
    or the failed report of a traffic check without them."""
    app, why = find_app(ctx)
    if app is None:
        return CheckReport(Outcome.FAILED, "no application found",
                           [Finding(why, hint="See MG211.")])
    entry = find_entry(ctx, app)
    if entry is None:
        return CheckReport(Outcome.FAILED, "no route through the gateway reaches "
                           f"{app.service.name}", [Finding(
                               "nothing to send requests to", hint="See MG213.")])
    return app, entry


def app_class(entry: tuple[str, str], header: tuple[str, str] | None = None) -> RequestClass:
    from ..traffic.classes import RequestClass  # start-up: requests

    host, path = entry
    headers = [] if host[0].isdigit() else [("host", host)]
    if header is not None:
        headers.append(header)
        return RequestClass(f"with {header[0]}", path, tuple(headers))
    return RequestClass("plain", path, tuple(headers))


def judge_app(ctx: Context, cls: RequestClass, wanted: dict[str, float],
              oracle: Oracle | PrometheusBatches, label: str) -> Judgement:
    """Judge one request class, diagnosed by the routing of its requests."""
    return judge(live_of(ctx), cls, wanted, oracle, label, trace=routing_trace(ctx, cls))

