"""Judging sampled traffic: feed samples to the right statistical test, count errors."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..cluster.errors import ClusterError
from ..grading.context import Context
from ..grading.results import CheckReport, Finding, Outcome
from ..live.livesource import LiveSource
from ..live.sources import live_of
from ..routing import Request, RoutingModel, Step
from ..stats import AllToOne, SplitTest

if TYPE_CHECKING:  # requests loads only when traffic is sent
    import requests

    from ..traffic.classes import RequestClass
    from ..traffic.oracles import Classification, Oracle
    from ..traffic.sampler import Sample

Trace = Callable[[], list[Step]]  # the routing model's error steps for a request class

MAX_ERROR_SHARE = 0.05
CAP_FACTOR = 1.25  # requests beyond the test's own cap, to absorb errors
EARLY_ERRORS = 20


@dataclass
class Judgement:
    """One request class sampled against one expectation."""

    label: str
    ok: bool
    inconclusive: bool
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)


def expectation(shares: dict[str, float]) -> dict[str, float]:
    """Version shares only (no error statuses), normalised."""
    versions = {v: s for v, s in shares.items() if s > 0 and not v.isdigit() and v}
    total = sum(versions.values())
    return {v: s / total for v, s in versions.items()} if total else {}


@dataclass
class PrometheusBatches:
    """The Prometheus oracle: versions counted from ``istio_requests_total`` deltas by
    ``destination_version`` after each batch (the answers themselves are not classified)."""

    service: str
    namespace: str = "istio-system"
    port: str = "9090"
    batch: int = 16

    def query(self, live: LiveSource) -> Callable[[str], dict[str, Any]]:
        def run(promql: str) -> dict[str, Any]:
            status, text = live.client.proxy_get(self.namespace, "prometheus", self.port,
                                                 "api/v1/query", {"query": promql})
            if status != 200:
                raise ClusterError(f"Prometheus query answered {status}")
            answer: dict[str, Any] = json.loads(text)
            return answer
        return run


class StatusOnly:
    """Classifies nothing: with the Prometheus oracle only statuses are read per answer."""

    def classify(self, response: requests.Response) -> Classification:
        from ..traffic.oracles import Classification  # start-up: requests

        return Classification("?" if response.status_code < 400 else None)


def _prometheus_samples(live: LiveSource, cls: RequestClass, oracle: PrometheusBatches,
                        test: AllToOne | SplitTest, cap: int) -> tuple[list[Sample], int]:
    """Batches of requests, each followed by a counter read; returns (samples, errors)."""
    from ..traffic.oracles import prometheus_version_deltas  # start-up: requests

    query = oracle.query(live)
    before = prometheus_version_deltas(query, oracle.service, None)
    samples: list[Sample] = []
    errors = 0
    while not test.done() and len(samples) < cap:
        batch = live.sampler().sample(cls, oracle.batch, StatusOnly())
        samples.extend(batch)
        errors += sum(s.status is None or s.status >= 500 for s in batch)
        now = prometheus_version_deltas(query, oracle.service, None)
        for version, count in {v: now.get(v, 0.0) - before.get(v, 0.0) for v in now}.items():
            for _ in range(max(0, round(count))):
                test.add(version)
        before = now
        if errors >= EARLY_ERRORS and errors > len(samples) / 2:
            break
    return samples, errors


def routing_trace(ctx: Context, cls: RequestClass, mesh: Sequence[Request] = ()) -> Trace:
    """The routing model's error steps, in the live state, for the requests of ``cls``:
    through the gateway, its login, and the ``mesh`` calls behind it (a sidecar in the
    live namespace calling them). Steps on a live copy of a submitted object point at the
    submission's file and line."""

    def steps() -> list[Step]:
        live = live_of(ctx)
        model = RoutingModel(live.objects(), ingress_labels=ctx.settings.ingress_labels)
        given = {k.lower(): v for k, v in cls.headers}
        host = given.pop("host", None) or urlsplit(live.base_url).hostname or ""
        outcomes = [model.via_gateway(Request.make(host, cls.path, "GET", given))]
        if cls.login:
            outcomes.append(model.via_gateway(Request.make(host, "/login", "POST")))
        outcomes += [model.from_mesh(r, source_namespace=live.namespace) for r in mesh]
        return [_located(ctx, s) for o in outcomes for s in o.steps if s.status is not None]
    return steps


def _located(ctx: Context, step: Step) -> Step:
    """The step on the submission's own stage when the live object is a copy of it."""
    obj = step.obj
    if obj is None or obj.file:
        return step
    for mine in reversed(ctx.index.stages(obj.kind_key, obj.namespace, obj.name)):
        if mine.spec == obj.spec:
            return dataclasses.replace(step, obj=mine)
    return step


def likely_cause(steps: Sequence[Step], samples: Sequence[Sample], limit: int = 2) -> str:
    """The model's error steps that explain the errors seen (their status was observed; an
    application error page stands for any 5xx behind it), with object, field, file and line;
    "" when the model points nowhere."""
    from ..traffic.answers import ERROR_PAGE  # start-up: requests
    from ..traffic.evidence import answer_kind  # start-up: requests

    seen = {s.status for s in samples if s.status is not None and s.status >= 400}
    pages = any(answer_kind(s) == ERROR_PAGE for s in samples)
    causes: list[str] = []
    for step in steps:
        if step.obj is None or step.status is None or not (
                step.status in seen or (pages and step.status >= 500)):
            continue
        where = f"{step.obj.file}:{step.line}" if step.obj.file else step.obj.origin
        text = f"{step.note.split(': ', 1)[-1]} ({step.obj.ref} {step.path}, {where})"
        if text not in causes:
            causes.append(text)
    return "; ".join(causes[:limit])


def diagnosis(samples: Sequence[Sample], trace: Trace | None) -> str:
    """What the samples got (`observed`), then the likely cause when the model has one."""
    from ..traffic.evidence import observed  # start-up: requests

    try:
        cause = likely_cause(trace(), samples) if trace is not None else ""
    except Exception:  # the cause is a bonus: reading the live state again may fail
        cause = ""
    return observed(samples) + (f"; likely cause: {cause}" if cause else "")


def judge(live: LiveSource, cls: RequestClass, expected: dict[str, float],
          oracle: Oracle | PrometheusBatches, label: str, *, errors_expected: bool = False,
          trace: Trace | None = None) -> Judgement:
    """Sample ``cls`` until the test decides. 5xx and unclassified answers count against
    the check (above 5% it fails, with a `diagnosis` from ``trace``) unless the routing
    itself expects errors."""
    from ..traffic.evidence import summarise  # start-up: requests

    expected = {v: s for v, s in expected.items() if s > 0}
    single = [v for v, s in expected.items() if abs(s - 1.0) < 1e-9]
    test: AllToOne | SplitTest = AllToOne(single[0]) if single else SplitTest(expected)
    cap = int(getattr(test, "max_n", 200) * CAP_FACTOR) + 10
    samples: list[Sample] = []
    errors = 0
    sampler = live.sampler()
    if isinstance(oracle, PrometheusBatches):
        samples, errors = _prometheus_samples(live, cls, oracle, test, cap)
    for sample in [] if isinstance(oracle, PrometheusBatches) else sampler.stream(cls, oracle):
        samples.append(sample)
        if sample.version is None:
            errors += 1
        else:
            test.add(sample.version)
        if test.done() or len(samples) >= cap:
            break
        if not errors_expected and errors >= EARLY_ERRORS and errors > len(samples) / 2:
            break  # mostly errors: the verdict will not change
    verdict = test.verdict()
    summary = summarise(samples)
    share = errors / len(samples) if samples else 0.0
    evidence = {**summary, "class": cls.name, "requests": len(samples),
                "counts": verdict.counts, "expected": verdict.expected,
                "observed": verdict.observed,
                "intervals": {k: list(v) for k, v in verdict.intervals.items()},
                "statistic": verdict.statistic, "decision": verdict.outcome,
                "error_count": errors, "error_share": round(share, 4)}
    if share > MAX_ERROR_SHARE and not errors_expected:
        evidence["diagnosis"] = diagnosis(samples, trace)
        return Judgement(label, False, False,
                         f"{label}: {errors} of {len(samples)} answers were errors ({share:.0%}, "
                         f"above 5%): {evidence['diagnosis']}", evidence)
    ok = verdict.outcome == "pass"
    return Judgement(label, ok, verdict.outcome == "inconclusive",
                     f"{label}: {verdict.reason}", evidence)


def report(judgements: list[Judgement], passed: str, hint: str) -> CheckReport:
    """One check's report from its judgements (all must pass)."""
    evidence = {j.label: j.evidence for j in judgements}
    if len(judgements) == 1:
        evidence = judgements[0].evidence
    bad = [j for j in judgements if not j.ok]
    if not bad:
        return CheckReport(Outcome.PASSED, passed + ": " + "; ".join(j.message for j in judgements),
                           evidence=evidence)
    findings = [Finding(j.message, hint=hint) for j in bad]
    if all(j.inconclusive for j in bad):
        return CheckReport(Outcome.ERROR, "the sample could not decide within the request cap: "
                           + "; ".join(j.message for j in bad), findings, evidence)
    labels = ", ".join(j.label for j in bad)
    return CheckReport(Outcome.FAILED, f"not as expected for: {labels}", findings, evidence,
                       fraction=(len(judgements) - len(bad)) / len(judgements))
