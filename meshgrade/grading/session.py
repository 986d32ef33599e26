"""One grading run: rubric, source, recorded results, and the run's result model."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .. import __version__
from ..batch.copies import ENV, dump
from ..checklib import diagrams
from ..cluster.errors import ClusterError
from ..live.livesource import LiveSource
from ..live.opening import open_live
from ..live.sources import Live
from ..reports import WrittenReports
from ..routing.diagram import Diagram
from ..submission import baseline
from ..submission.gitsource import redact_url
from ..submission.index import ObjectIndex
from ..submission.source import OpenedSource, SourceError, build_context, open_source
from . import interrupt, registry
from .check import Check
from .check import run as run_check
from .context import Context
from .history import format_due
from .modes import CLUSTER_FLAGS, LAB_PROVIDED, LAB_PROVIDED_REASON, NEEDS_CLUSTER_REASON, Mode
from .options import Options
from .provenance import submission_repository
from .results import (
    NOT_RUN,
    CheckReport,
    CheckResult,
    Outcome,
    RunResult,
    Submission,
    Visibility,
)
from .rubric import CheckRule, ExtraSuite
from .scoring import score

if TYPE_CHECKING:  # the lab loads only when a run starts one
    from ..lab.lab import Lab


class GradingSession:
    """Collects one CheckResult per rubric check (and per instructor test)."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.rubric = options.rubric
        self.started = time.perf_counter()
        self.results: dict[str, CheckResult] = {}
        self.notes: list[str] = []
        self.mode: Mode = "repo"
        self._opened: OpenedSource | None = None
        self._context: Context | None = None
        self.source_error: str | None = None
        self.commit: str | None = None
        self.written = WrittenReports()  # the reports, once finish() wrote them
        self.live: LiveSource | None = None
        self.fallback: str | None = None  # why auto mode graded the repository alone
        self.failure: str | None = None   # the submission or live source failed: said once
        self.interrupted: str | None = None  # "SIGINT during sampling (MG405)"
        self._labs: list[Lab] = []        # labs started for this run, stopped by close()
        self._diagrams: list[Diagram] | None = None  # drawn once, when the run ends

    def context(self) -> Context | None:
        """The static checks' context, loaded once; None when the source failed."""
        if self._context is None and self.source_error is None:
            try:
                with interrupt.doing("submission loading"):
                    self._opened = open_source(self.options.submission, self.options.limits,
                                               self.options.pin)
            except (SourceError, OSError) as exc:
                self.source_error = str(exc)
                self.failure = f"the submission could not be loaded: {exc}"
                return None
            sub = self._opened.submission
            self.commit = sub.commit
            self._context = build_context(sub, self.rubric.settings)
            self._attach_live(self._context)
        return self._context

    def wanted_mode(self) -> Mode:
        """``auto`` is cluster when a kubeconfig, context or gateway URL is given, else lab."""
        o = self.options
        if o.mode != "auto":
            return o.mode
        return "cluster" if (o.kubeconfig or o.kube_context or o.gateway_url) else "lab"

    def _attach_live(self, ctx: Context) -> None:
        mode = self.wanted_mode()
        if mode == "repo":
            ctx.live_reason = ("repo mode: live checks need the lab (--mode lab) or a cluster "
                               f"({CLUSTER_FLAGS})")
            return
        self.mode = mode  # also when interrupted meanwhile
        with interrupt.doing("lab start" if mode == "lab" else "cluster connection"):
            live, reason, infra_error = open_live(mode, self.options, ctx,
                                                  track=self._labs.append)
        if live is None:
            if infra_error:  # the run states the reason once; each live check, briefly
                self.failure = reason
                reason = NOT_RUN + ("the lab could not start" if mode == "lab"
                                    else "the cluster could not be used")
            else:  # auto: graded from the repository alone, said in every report
                self.mode, self.fallback = "repo", reason
                reason = f"auto mode fell back to repo mode: {reason}; live checks not graded"
            ctx.live_reason, ctx.live_error = reason, infra_error
            return
        self.live = ctx.live = live
        self.mode = live.kind
        if live.refused:
            self.notes.append(
                f"the lab did not apply {len(live.refused)} object(s) that a cluster's API "
                f"server would reject (see MG102 and MG103): {', '.join(live.refused[:10])}"
                + (" ..." if len(live.refused) > 10 else ""))
        if live.kind == "cluster" and not ctx.index.submitted:
            self._use_cluster_objects(ctx, live)

    def _use_cluster_objects(self, ctx: Context, live: LiveSource) -> None:
        """A submission without manifests (e.g. `grade .` beside a kubeconfig): the static
        checks read the cluster's objects instead."""
        try:
            objects = live.objects()
        except ClusterError as exc:
            self.notes.append(f"cluster objects could not be read: {exc}")
            return
        ctx.index = ObjectIndex(objects, baseline.objects(bookinfo=False))
        ctx.source = "cluster"
        ctx.forget()
        self.notes.append("the submission holds no manifests: the static checks read the "
                          "cluster's objects")

    def evaluate(self, check_id: str, invoke: Callable[[], CheckReport] | None = None
                 ) -> CheckResult:
        """Run one built-in check against the context and record its result; ``invoke`` is
        pytest's call of the check function (else it is called here, with the same
        fixtures)."""
        check = registry.get(check_id)
        return self.record(check_id, *self._run(check, invoke))

    def evaluate_extra(self, suite: ExtraSuite, check: Check,
                       invoke: Callable[[], CheckReport]) -> CheckResult:
        """Run an instructor's check (declared with ``@check`` in an extra suite)."""
        report, duration = self._run(check, invoke)
        return self._record_declared(check, suite, report, duration)

    def record_error(self, check: Check, message: str, traceback: str,
                     suite: ExtraSuite | None) -> CheckResult:
        """A check that could not start (a fixture failed)."""
        report = CheckReport(Outcome.ERROR, message, traceback=traceback)
        if check.id in self.rubric.checks:
            return self.record(check.id, report)
        return self._record_declared(check, suite, report, 0.0)

    def _run(self, check: Check, invoke: Callable[[], CheckReport] | None
             ) -> tuple[CheckReport, float]:
        ctx = self.context()
        cluster_only = self._cluster_only(check.id, ctx)
        if ctx is None:  # the reason is stated once, for the run
            return CheckReport(Outcome.ERROR, f"{NOT_RUN}the submission could not be loaded"), 0.0
        if cluster_only is not None:
            return cluster_only, 0.0
        activity = ("sampling" if "traffic" in check.sources else "cluster reading"
                    if "cluster" in check.sources else "static checks")
        with interrupt.doing(activity, check.id):
            return run_check(check, ctx, invoke)

    def _record_declared(self, check: Check, suite: ExtraSuite | None, report: CheckReport,
                         duration: float) -> CheckResult:
        rule = CheckRule(check.id, check.points,
                         visibility=suite.visibility if suite else Visibility.VISIBLE)
        result = score(check, rule, report, duration)
        self.results[check.id] = result
        return result

    def _cluster_only(self, check_id: str, ctx: Context | None) -> CheckReport | None:
        """MG301-MG307 judge the cluster's install, which the lab provides itself: skipped
        (with how to grade them) unless a cluster is graded or the live source failed."""
        if check_id not in LAB_PROVIDED or ctx is None or ctx.live_error:
            return None
        if self.live is None:
            return CheckReport(Outcome.SKIPPED, NEEDS_CLUSTER_REASON)
        return CheckReport(Outcome.SKIPPED, LAB_PROVIDED_REASON) if self.live.kind == "lab" \
            else None

    def record(self, check_id: str, report: CheckReport, duration: float = 0.0) -> CheckResult:
        """Score a built-in check's report by the rubric's rule and keep it."""
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
        if self.interrupted:  # every unfinished check counts: the maximum never shrinks
            for cid in self.rubric.checks:
                if cid not in self.results:
                    self.record(cid, CheckReport(Outcome.ERROR, f"{NOT_RUN}interrupted"))
        ordered = [self.results[c] for c in self.rubric.checks if c in self.results]
        ordered += [r for k, r in self.results.items() if k not in self.rubric.checks]
        # interrupted before the source was read: the mode asked for
        asked = self.wanted_mode() if self.interrupted and self._context is None else self.mode
        drawn = self.diagrams()
        run = RunResult(
            submission=self._submission(),
            mode=asked, rubric=self.rubric.name, rubric_digest=self.rubric.digest or None,
            checks=ordered,
            duration_s=time.perf_counter() - self.started, tool_version=__version__,
            notes=list(self.notes), interrupted=self.interrupted, failure=self.failure,
            diagrams=drawn)
        note = None
        if self.fallback is not None:
            note = self._ungraded_note(
                run, f"auto mode fell back to repo mode because {self.fallback}", "live",
                lambda cid: "repo" not in registry.get(cid).sources,
                "grade with --mode lab or a cluster for the full score", always=True)
        elif self.mode == "lab":
            note = self._ungraded_note(
                run, "lab mode", "cluster-install", LAB_PROVIDED.__contains__,
                "the lab installs what they check itself: grade against your cluster "
                f"({CLUSTER_FLAGS}) for them")
        if note:
            run.notes.insert(0, note)
        return run

    def _submission(self) -> Submission:
        """What was graded; with a due time or ``--commit``, the commit chosen and why."""
        o = self.options
        sub = Submission(redact_url(o.submission), self.commit, o.student,
                         submission_repository(o.submission, o.repository))
        if o.pin is not None and o.pin.due is not None:
            sub.due = format_due(o.pin.due)
        pick = self._opened.pick if self._opened is not None else None
        if pick is not None:
            sub.due, sub.commit_date, sub.head = pick.due, pick.commit_date, pick.head
            sub.late_commits, sub.suspicious_dates = pick.late_commits, pick.suspicious_dates
        return sub

    def diagrams(self) -> list[Diagram]:
        """The routing diagrams of the stages found, drawn once from the routing model and
        the checks' results (none when the submission did not load)."""
        if self._diagrams is None:
            self._diagrams = []
            if self._context is not None:
                try:
                    self._diagrams = diagrams.build(self._context, self.results)
                except Exception as exc:  # a picture must never cost the reports
                    self.notes.append(f"the routing diagrams could not be drawn: {exc}")
        return self._diagrams

    def _ungraded_note(self, run: RunResult, lead: str, kind: str,
                       which: Callable[[str], bool], advice: str, *, always: bool = False
                       ) -> str | None:
        """``lead``, how many rubric checks (``which(id)``) were skipped without points and
        what the maximum would have been; None when there are none, unless ``always``."""
        ungraded = [c for c in run.checks if c.outcome is Outcome.SKIPPED and c.max_score == 0
                    and c.id in self.rubric.checks and self.rubric.checks[c.id].points > 0
                    and which(c.id)]
        if not ungraded and not always:
            return None
        points = sum(self.rubric.checks[c.id].points for c in ungraded)
        return (f"{lead}: {len(ungraded)} {kind} check(s) worth {points:g} point(s) were not "
                f"graded, so the maximum is {run.max_score:g} instead of "
                f"{run.max_score + points:g}; {advice}")

    def write_request_log(self) -> Path | None:
        """Every sampled request of the run as ``requests.json`` beside the reports."""
        live = self.live
        sampler = live.sampler_used if isinstance(live, Live) else None
        if live is None or sampler is None or not sampler.log:
            return None
        self.options.out.mkdir(parents=True, exist_ok=True)
        path = self.options.out / "requests.json"
        rows = [dataclasses.asdict(s) for s in sampler.log]
        path.write_text(json.dumps({"run_id": live.run_id, "gateway": live.gateway_url,
                                    "requests": rows}, indent=1, default=str), "utf-8")
        return path

    def write_objects(self) -> Path | None:
        """The submission's own objects as the file ``$MESHGRADE_OBJECTS_FILE`` names (a
        plain file name) beside the reports, for the batch's copied-work detector."""
        name = os.environ.get(ENV, "")
        if not name or Path(name).name != name or name in (".", "..") or self._context is None:
            return None
        self.options.out.mkdir(parents=True, exist_ok=True)
        path = self.options.out / name
        path.write_text(dump(self._context.index.submitted), "utf-8")
        return path

    def close(self) -> None:
        """Stop the live source (a lab started for the run, also one not yet handed over)
        and remove the clone; a signal meanwhile waits until this is done."""
        with interrupt.shielded():
            if self.live is not None:
                self.live.close()
                self.live = None
            for lab in self._labs:
                lab.stop()
            self._labs.clear()
            if self._opened is not None:
                self._opened.close()
