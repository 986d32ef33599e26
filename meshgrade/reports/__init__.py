"""Report writers, all fed by one :class:`~meshgrade.grading.results.RunResult`.

``write_reports`` writes the requested formats into ``out_dir``:

- ``json``: ``results.json`` (schema ``meshgrade.results/v1``, instructor view), signed with
  HMAC-SHA256 when ``sign_key`` is given
- ``junit``: ``junit.xml``
- ``html``: ``report.html`` (student view) and, only when it would differ (a hidden check or a
  traceback), ``report-instructor.html``
- ``gradescope``: ``gradescope/results.json`` (Gradescope calls its file ``results.json``
  too; it sits in a sub-folder so it does not clobber meshgrade's own)
- ``github``: annotations on stdout (unless ``annotate`` is false) and the Markdown summary
  appended to ``$GITHUB_STEP_SUMMARY`` (taken from ``env``; ``os.environ`` when None)
- ``classroom``: ``classroom.json`` and ``classroom.b64`` (GitHub Classroom's
  autograding-grading-reporter result, student view)
- ``feedback``: ``feedback.md`` (the student's feedback in Markdown, for a pull request
  comment or the LMS; student view)

A writer that fails does not stop the others: its exception is collected in
``WrittenReports.errors`` for the caller to print.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from meshgrade.grading.options import FORMATS
from meshgrade.grading.results import RunResult


class WrittenReports(dict[str, Path]):
    """Format (``html-instructor`` for the second HTML file, ``classroom-b64`` for the
    encoded Classroom result) -> path written, plus
    ``errors``: format -> the exception its writer raised."""

    def __init__(self) -> None:
        super().__init__()
        self.errors: dict[str, Exception] = {}

    @property
    def ok(self) -> bool:
        return not self.errors


def _html(run: RunResult, out_dir: Path) -> dict[str, Path]:
    from meshgrade.reports import html_report  # start-up: jinja2

    written = {"html": html_report.write(run, out_dir)}
    if html_report.needs_instructor_report(run):
        written["html-instructor"] = html_report.write(run, out_dir, instructor=True)
    return written


def _writers(env: Mapping[str, str], sign_key: bytes | None, annotate: bool
             ) -> dict[str, Callable[[RunResult, Path], dict[str, Path]]]:
    # the writers are imported when reports are written (jinja2 and junit_xml load then)
    from meshgrade.reports import (  # start-up: jinja2, junit_xml
        classroom,
        feedback,
        github_report,
        gradescope_report,
        json_report,
        junit_report,
    )

    def github(run: RunResult, _out: Path) -> dict[str, Path]:
        path = github_report.write(run, env=env, annotate=annotate)
        return {"github": path} if path else {}

    return {
        "json": lambda run, out: {"json": json_report.write(run, out, key=sign_key)},
        "junit": lambda run, out: {"junit": junit_report.write(run, out)},
        "html": _html,
        "gradescope": lambda run, out: {"gradescope": gradescope_report.write(run, out)},
        "github": github,
        "classroom": classroom.write,
        "feedback": lambda run, out: {"feedback": feedback.write(run, out)},
    }


def write_reports(run: RunResult, out_dir: Path, formats: Iterable[str], *,
                  env: Mapping[str, str] | None = None,
                  sign_key: bytes | None = None, annotate: bool = True) -> WrittenReports:
    """Write each format in ``formats`` (a subset of FORMATS) and return what was written;
    ``sign_key`` signs ``results.json``; ``annotate=False`` leaves the GitHub annotations for
    the caller to print."""
    wanted = list(dict.fromkeys(formats))
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown report format(s): {', '.join(unknown)}; "
                         f"choose from {', '.join(FORMATS)}")
    out_dir = Path(out_dir)
    writers = _writers(os.environ if env is None else env, sign_key, annotate)
    result = WrittenReports()
    for fmt in wanted:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            result.update(writers[fmt](run, out_dir))
        except Exception as exc:  # one broken writer must not cost the other reports
            result.errors[fmt] = exc
    return result


__all__ = ["FORMATS", "WrittenReports", "write_reports"]
