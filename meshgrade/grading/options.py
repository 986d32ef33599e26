"""The grading options, declared once: the table :data:`OPTIONS` builds both `meshgrade
grade`'s arguments and the pytest plugin's ``--`` options, and :func:`build` turns either's
values into the run's :class:`Options`.

Start-up: the parser needs only this table, so what :func:`build` uses is imported there."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..submission.gitsource import parse_pin
from ..submission.limits import MIB, Limits
from .signing import load_key

if TYPE_CHECKING:
    from ..submission.source import Pin
    from .rubric import Rubric

FAIL_UNDER_HELP = "give points (7.5) or a percentage (80%)"
Mode = Literal["auto", "repo", "lab", "cluster"]
MODES: tuple[Mode, ...] = ("auto", "repo", "lab", "cluster")
FORMATS = ("json", "junit", "html", "gradescope", "github", "classroom", "feedback")
DEFAULT_FORMATS = ("json", "junit", "html")
Where = Literal["both", "cli", "pytest"]


@dataclass
class Options:
    """One run's options, however they were given."""

    submission: str
    rubric: Rubric
    mode: Mode = "auto"
    out: Path = Path("reports")
    formats: tuple[str, ...] = DEFAULT_FORMATS
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
    pin: Pin | None = None  # grade the commit a due time (or --commit) chooses


@dataclass(frozen=True)
class Option:
    """One option: its flag, where it is offered, and argparse's keywords for it."""

    flag: str
    help: str
    dest: str = ""
    default: Any = None
    type: Callable[[str], Any] | None = None
    choices: tuple[str, ...] | None = None
    action: Literal["store", "store_true", "append"] = "store"
    metavar: str | None = None
    where: Where = "both"

    @property
    def name(self) -> str:
        return self.dest or self.flag.lstrip("-").replace("-", "_")

    def keywords(self) -> dict[str, Any]:
        """What ``add_argument`` / ``addoption`` take for this option."""
        out: dict[str, Any] = {"dest": self.name, "help": self.help}
        if self.action != "store":
            out["action"] = self.action
        if self.action != "store_true":
            out["metavar"] = self.metavar
        for key in ("default", "type", "choices"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


OPTIONS: tuple[Option, ...] = (
    Option("--submission", "folder or git URL to grade", metavar="PATH|URL", where="pytest"),
    Option("--rubric", "built-in rubric name or a rubric file (default: istio-full)",
           default="istio-full", metavar="NAME|FILE"),
    Option("--mode", "auto: cluster when a kubeconfig, context or gateway URL is given, else "
           "the local lab (repo when the lab cannot start) (default: auto)",
           default="auto", choices=MODES),
    Option("--kubeconfig", "kubeconfig file (cluster mode)", metavar="FILE"),
    Option("--context", "kubeconfig context (cluster mode)", dest="kube_context",
           metavar="NAME"),
    Option("--namespace", "application namespace (default: default)", dest="app_namespace",
           default="default", metavar="NS"),
    Option("--gateway-url", "ingress gateway URL (cluster mode)", metavar="URL"),
    Option("--out", "report folder (default: reports)", default="reports", metavar="DIR"),
    Option("--format", f"{', '.join(FORMATS)}; repeatable (default: "
           f"{' '.join(DEFAULT_FORMATS)}; github is added under GitHub Actions)",
           dest="formats", action="append", choices=FORMATS, metavar="FMT"),
    Option("--fail-under", "exit 0 when the score reaches SCORE points, or N%% of the "
           "maximum", metavar="SCORE"),
    Option("--student", "student name shown in the reports"),
    Option("--repository", "repository URL signed into the results", metavar="URL"),
    Option("--seed", "sampling order seed, for reproducible runs", type=int),
    Option("--due", "grade the newest commit of the branch dated at or before TIME (ISO 8601 "
           "with an offset: 2026-12-15T23:59+01:00); a folder's own .git is read (its "
           "uncommitted changes are not graded)", metavar="TIME"),
    Option("--commit", "grade this commit of the branch", dest="pin_commit", metavar="REV"),
    Option("--sign-key-file", "sign results.json with HMAC-SHA256 using this key (else "
           "$MESHGRADE_SIGN_KEY); check with `meshgrade verify`", metavar="FILE"),
    Option("--apply-stages", "cluster mode: apply each routing stage of the submission, "
           "sample it, and restore the original objects (needs write access; see "
           "deploy/grader-rbac.yaml)", action="store_true"),
    Option("--allow-kubeconfig-exec", "accept a kubeconfig whose user runs an exec or "
           "auth-provider plugin (refused by default: a student's kubeconfig must not run "
           "commands)", action="store_true"),
    Option("--trust-kubeconfig", "trust the --kubeconfig file: allow file references outside "
           "its own folder and a proxy-url (refused by default: a student's kubeconfig must not "
           "send this machine's files or requests elsewhere)", action="store_true"),
    Option("--max-file-mib", "skip YAML files larger than this many MiB (default: 1)",
           default=1.0, type=float),
    Option("--meshgrade-quiet", "do not print the meshgrade summary or GitHub annotations (the "
           "meshgrade command does)", action="store_true", where="pytest"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`meshgrade grade`'s options."""
    for option in OPTIONS:
        if option.where != "pytest":
            parser.add_argument(option.flag, **option.keywords())


def add_pytest_options(group: Any) -> None:
    """The plugin's options (``group`` is pytest's OptionGroup)."""
    for option in OPTIONS:
        if option.where != "cli":
            group.addoption(option.flag, **option.keywords())


class OptionError(ValueError):
    """An option's value is wrong; the message names the option."""


def check_values(values: Mapping[str, Any]) -> None:
    """Refuse values that parse but mean nothing (before anything is loaded)."""
    from .scoring import parse_fail_under  # start-up: yaml and the engine

    fail_under = values.get("fail_under")
    if fail_under is not None:
        try:
            parse_fail_under(fail_under)
        except ValueError:
            raise OptionError(f"--fail-under {fail_under!r}: {FAIL_UNDER_HELP}") from None
    try:
        parse_pin(values.get("due"), values.get("pin_commit"))
    except ValueError as exc:
        raise OptionError(str(exc)) from None


def build(values: Mapping[str, Any], rubric: Rubric, submission: str,
          environ: Mapping[str, str] = os.environ) -> Options:
    """The run's options from the option values (``dest`` names), either parser's."""
    check_values(values)
    formats = list(values.get("formats") or DEFAULT_FORMATS)
    if environ.get("GITHUB_ACTIONS") == "true" and "github" not in formats:
        formats.append("github")
    try:
        sign_key = load_key(values.get("sign_key_file"), environ)
    except ValueError as exc:
        raise OptionError(str(exc)) from None
    return Options(
        submission=submission, rubric=rubric, mode=values.get("mode") or "auto",
        out=Path(values.get("out") or "reports"), formats=tuple(dict.fromkeys(formats)),
        student=values.get("student"), repository=values.get("repository"),
        fail_under=values.get("fail_under"),
        limits=Limits(max_file_bytes=int(float(values.get("max_file_mib") or 1.0) * MIB)),
        kubeconfig=values.get("kubeconfig"), kube_context=values.get("kube_context"),
        namespace=values.get("app_namespace") or "default",
        gateway_url=values.get("gateway_url"), apply_stages=bool(values.get("apply_stages")),
        allow_kubeconfig_exec=bool(values.get("allow_kubeconfig_exec")),
        trust_kubeconfig=bool(values.get("trust_kubeconfig")), seed=values.get("seed"),
        sign_key=sign_key, pin=parse_pin(values.get("due"), values.get("pin_commit")))
