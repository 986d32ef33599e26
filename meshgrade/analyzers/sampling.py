"""Judging sampled traffic: feed samples to the right statistical test, count errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..results import CheckReport, Finding, Outcome

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

    def query(self, live: Any) -> Any:
        import json as _json

        from ..cluster.connect import ClusterError

        def run(promql: str) -> dict[str, Any]:
            status, text = live.client.proxy_get(self.namespace, "prometheus", self.port,
                                                 "api/v1/query", {"query": promql})
            if status != 200:
                raise ClusterError(f"Prometheus query answered {status}")
            return _json.loads(text)
        return run


class _StatusOnly:
    """Classifies nothing: with the Prometheus oracle only statuses are read per answer."""

    def classify(self, response: Any) -> Any:
        from ..traffic.oracles import Classification

        return Classification("?" if response.status_code < 400 else None)


def _prometheus_samples(live: Any, cls: Any, oracle: PrometheusBatches, test: Any, cap: int
                        ) -> tuple[list[Any], int]:
    """Batches of requests, each followed by a counter read; returns (samples, errors)."""
    from ..traffic.oracles import prometheus_version_deltas

    query = oracle.query(live)
    before = prometheus_version_deltas(query, oracle.service, None)
    samples: list[Any] = []
    errors = 0
    while not test.done() and len(samples) < cap:
        batch = live.sampler().sample(cls, oracle.batch, _StatusOnly())
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


def judge(live: Any, cls: Any, expected: dict[str, float], oracle: Any, label: str,
          *, errors_expected: bool = False) -> Judgement:
    """Sample ``cls`` until the test decides. 5xx and unclassified answers count against
    the check (above 5% it fails) unless the routing itself expects errors."""
    from ..stats import AllToOne, SplitTest
    from ..traffic.evidence import summarise

    expected = {v: s for v, s in expected.items() if s > 0}
    single = [v for v, s in expected.items() if abs(s - 1.0) < 1e-9]
    test = AllToOne(single[0]) if single else SplitTest(expected)
    cap = int(getattr(test, "max_n", 200) * CAP_FACTOR) + 10
    samples = []
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
        kinds = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in
                          (summary.get("errors") or {}).items() if v) or "unclassified"
        return Judgement(label, False, False,
                         f"{label}: {errors} of {len(samples)} answers were errors ({share:.0%}, "
                         f"above 5%: {kinds}); a subset without pods or an undefined subset "
                         "gives 503s, which productpage shows as 'Error fetching product "
                         "reviews'", evidence)
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
