"""One grading run: rubric, source, recorded results, and the run's result model."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__, registry
from .check import run as run_check
from .context import Context
from .gitsource import redact_url
from .limits import Limits
from .provenance import submission_repository
from .results import CheckReport, CheckResult, Outcome, RunResult, Submission
from .rubric import ExtraSuite, Rubric
from .scoring import score
from .source import OpenedSource, SourceError, build_context, open_source


@dataclass
class Options:
    submission: str
    rubric: Rubric
    mode: str = "auto"
    out: Path = Path("reports")
    formats: tuple[str, ...] = ("json", "junit", "html")
    student: str | None = None
    repository: str | None = None
    fail_under: str | None = None
    limits: Limits = field(default_factory=Limits)
    kubeconfig: str | None = None
    kube_context: str | None = None
    namespace: str = "default"
    gateway_url: str | None = None
    apply_stages: bool = False
    allow_kubeconfig_exec: bool = False
    trust_kubeconfig: bool = False
    seed: int | None = None
    sign_key: bytes | None = None


class GradingSession:
    """Collects one CheckResult per rubric check (and per instructor test)."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.rubric = options.rubric
        self.started = time.perf_counter()
        self.results: dict[str, CheckResult] = {}
        self.notes: list[str] = []
        self.mode = "repo"
        self._opened: OpenedSource | None = None
        self._context: Context | None = None
        self.source_error: str | None = None
        self.commit: str | None = None
        self.written: dict[str, Path] = {}
        self.live = None
        self.fallback: str | None = None  # why auto mode graded the repository alone

    def context(self) -> Context | None:
        """The static checks' context, loaded once; None when the source failed."""
        if self._context is None and self.source_error is None:
            try:
                self._opened = open_source(self.options.submission, self.options.limits)
            except (SourceError, OSError) as exc:
                self.source_error = str(exc)
                return None
            sub = self._opened.submission
            self.commit = sub.commit
            self._context = build_context(sub, self.rubric.settings)
            self._attach_live(self._context)
        return self._context

    def wanted_mode(self) -> str:
        """``auto`` is cluster when a kubeconfig, context or gateway URL is given, else lab."""
        o = self.options
        if o.mode != "auto":
            return o.mode
        return "cluster" if (o.kubeconfig or o.kube_context or o.gateway_url) else "lab"

    def _attach_live(self, ctx: Context) -> None:
        from .livesetup import open_live

        mode = self.wanted_mode()
        if mode == "repo":
            ctx.live_reason = "repo mode: live checks need the lab (--mode lab) or a cluster"
            return
        live, reason, infra_error = open_live(mode, self.options, ctx)
        if live is None:
            if infra_error:
                self.mode = mode
                self.notes.append(reason)
            else:  # auto: graded from the repository alone, said in every report
                self.fallback = reason
                reason = f"auto mode fell back to repo mode: {reason}; live checks not graded"
            ctx.live_reason, ctx.live_error = reason, infra_error
            return
        self.live = ctx.live = live
        self.mode = live.kind
        if live.kind == "cluster" and not ctx.index.submitted:
            self._use_cluster_objects(ctx, live)

    def _use_cluster_objects(self, ctx: Context, live: object) -> None:
        """A submission without manifests (e.g. `grade .` beside a kubeconfig): the static
        checks read the cluster's objects instead."""
        from . import baseline
        from .cluster.connect import ClusterError
        from .index import ObjectIndex

        try:
            objects = live.objects()  # type: ignore[attr-defined]
        except ClusterError as exc:
            self.notes.append(f"cluster objects could not be read: {exc}")
            return
        ctx.index = ObjectIndex(objects, baseline.objects(bookinfo=False))
        ctx.source = "cluster"
        ctx._cache.clear()
        self.notes.append("the submission holds no manifests: the static checks read the "
                          "cluster's objects")

    def evaluate(self, check_id: str) -> CheckResult:
        """Run one registered check against the context and record its result."""
        check = registry.get(check_id)
        ctx = self.context()
        if ctx is None and check.fn is not None:
            report = CheckReport(Outcome.ERROR, f"cannot load the submission: {self.source_error}")
            duration = 0.0
        else:
            report, duration = run_check(check, ctx)
        return self.record(check_id, report, duration)

    def record(self, check_id: str, report: CheckReport, duration: float = 0.0) -> CheckResult:
        check = registry.get(check_id)
        result = score(check, self.rubric.checks[check_id], report, duration)
        self.results[check_id] = result
        return result

    def record_extra(self, suite: ExtraSuite, name: str, outcome: Outcome, message: str,
                     traceback: str | None = None) -> None:
        counts = outcome is not Outcome.SKIPPED
        rid = f"{suite.name}/{name}"
        self.results[rid] = CheckResult(
            id=rid, name=name, title=f"Instructor check {name}", outcome=outcome,
            score=suite.points if outcome is Outcome.PASSED else 0.0,
            max_score=suite.points if counts else 0.0, visibility=suite.visibility,
            message=message, traceback=traceback)

    def result(self) -> RunResult:
        ordered = [self.results[c] for c in self.rubric.checks if c in self.results]
        ordered += [r for k, r in self.results.items() if k not in self.rubric.checks]
        run = RunResult(
            submission=Submission(redact_url(self.options.submission), self.commit,
                                  self.options.student,
                                  submission_repository(self.options.submission,
                                                        self.options.repository)),
            mode=self.mode, rubric=self.rubric.name, rubric_digest=self.rubric.digest or None,
            checks=ordered,
            duration_s=time.perf_counter() - self.started, tool_version=__version__,
            notes=list(self.notes))
        if self.source_error:
            run.notes.append(f"submission not loaded: {self.source_error}")
        if self.fallback is not None:
            run.notes.insert(0, self._fallback_note(run))
        return run

    def _fallback_note(self, run: RunResult) -> str:
        """Why auto mode graded the repository alone, and the points that were not graded."""
        ungraded = [c for c in run.checks if c.outcome is Outcome.SKIPPED and c.max_score == 0
                    and c.id in self.rubric.checks and self.rubric.checks[c.id].points > 0
                    and not {"repo"} & set(registry.get(c.id).sources)]
        points = sum(self.rubric.checks[c.id].points for c in ungraded)
        return (f"auto mode fell back to repo mode because {self.fallback}: {len(ungraded)} "
                f"live check(s) worth {points:g} point(s) were not graded, so the maximum is "
                f"{run.max_score:g} instead of {run.max_score + points:g}; grade with "
                "--mode lab or a cluster for the full score")

    def write_request_log(self) -> Path | None:
        """Every sampled request of the run as ``requests.json`` beside the reports."""
        sampler = self.live._cache.get("sampler") if self.live is not None else None
        if sampler is None or not sampler.log:
            return None
        import dataclasses
        import json

        self.options.out.mkdir(parents=True, exist_ok=True)
        path = self.options.out / "requests.json"
        rows = [dataclasses.asdict(s) for s in sampler.log]
        path.write_text(json.dumps({"run_id": self.live.run_id, "gateway": self.live.gateway_url,
                                    "requests": rows}, indent=1, default=str), "utf-8")
        return path

    def close(self) -> None:
        if self.live is not None:
            self.live.close()
            self.live = None
        if self._opened is not None:
            self._opened.close()
