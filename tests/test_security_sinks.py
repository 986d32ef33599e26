"""Student text reaching a sink is neutralised for it (security issue, items 4 and 9).

Each attack is reproduced on a real ``meshgrade grade`` run of a hostile submission written
into a temporary folder, under GitHub Actions and outside it; the output is then read the way
the Actions runner reads it (actions/runner ``ActionCommand.TryParseV2`` / ``TryParse`` and
``ActionCommandManager.TryProcessCommand``).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshgrade.batch import classreport
from meshgrade.batch.progress import describe
from meshgrade.batch.roster import RosterRow
from meshgrade.batch.runner import BatchSummary, StudentResult
from meshgrade.cli.main import main
from meshgrade.grading.results import CheckResult, Outcome, RunResult, Submission
from meshgrade.reports import json_report
from meshgrade.reports.sinks import (
    for_csv,
    for_markdown,
    for_terminal,
    for_workflow_log,
    for_xml,
    markdown_code,
    workflow_commands_are_stopped,
    workflow_commands_stopped,
)
from tests.conftest import REPO

pytestmark = pytest.mark.skipif(os.name == "nt", reason="file names with a newline")

LINK = "http://evil.example/x"
VIRTUAL_SERVICE = """\
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: "reviews\\n::set-output name=score::100"
spec:
  hosts:
  - "reviews\\r::add-mask::x"
  gateways:
  - "\\n::stop-commands::abc"
  - "##[set-output name=score;]100"
  - "[click](LINK)"
  - "![img](LINK)"
  - "<LINK>"
  - "<img src=x onerror=alert(1)>"
  - "see LINK and www.evil.example"
  - "\\u202egnp.exe"
  http:
  - route:
    - destination:
        host: "x\\e[2J\\e]0;title\\a\\e]52;c;ZWNobyBwd25lZA==\\a\\nScore 52/52  (all passed)"
      weight: 100
    "\\n::error::key": 1
""".replace("LINK", LINK)
SERVICE = 'apiVersion: v1\nkind: Service\nmetadata:\n  name: "a\\uFFFEb"\n'
FILES = {"vs.yaml": VIRTUAL_SERVICE, "svc.yaml": SERVICE,
         "weird\n::error::name.yaml": "a: [\n",           # newline in a file name
         "::set-output name=grade::99.yaml": "b: [\n",     # a line-leading file name
         "\u00a0::warning::nbsp.yaml": "c: [\n"}           # .NET TrimStart skips NBSP


@dataclass
class Run:
    code: int
    out: str
    err: str
    reports: Path
    summary: str


def _grade(root: Path, actions: bool, *, direct: bool = False, verbose: bool = False) -> Run:
    """A run of `meshgrade grade` on the hostile submission, or with ``direct`` of pytest
    itself with the plugin (``pytest checks/ -p meshgrade.plugin --submission ...``)."""
    sub = root / "submission"
    sub.mkdir()
    for name, text in FILES.items():
        (sub / name).write_text(text, encoding="utf-8")
    summary = root / "summary.md"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GITHUB_", "PYTEST_", "MESHGRADE"))}
    if actions:
        env.update(GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary))
    out = root / "out"
    if direct:
        cmd = [sys.executable, "-m", "pytest", "checks/", "-p", "meshgrade.plugin",
               "-p", "no:cacheprovider", "--submission", str(sub), "--mode", "repo",
               "--out", str(out)]
    else:
        cmd = [sys.executable, "-m", "meshgrade", "grade", str(sub), "--mode", "repo", "--out",
               str(out), "--format", "json", "--format", "junit", "--format", "classroom",
               *(["-v"] if verbose else [])]
    proc = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8", env=env,
                          timeout=180, cwd=REPO if direct else None)
    return Run(proc.returncode, proc.stdout, proc.stderr, out,
               summary.read_text(encoding="utf-8") if summary.exists() else "")


@pytest.fixture(scope="module")
def actions_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return _grade(tmp_path_factory.mktemp("actions"), actions=True)


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return _grade(tmp_path_factory.mktemp("plain"), actions=False)


# -- the Actions runner's reading of a step's output ---------------------------------------


def runner_lines(text: str) -> list[str]:
    """Lines as .NET ``StreamReader.ReadLine`` splits them (CR, LF or CRLF)."""
    return re.split(r"\r\n|\r|\n", text)


def parse_command(line: str) -> tuple[str, dict[str, str], str] | None:
    """(command, properties, data) when the runner would parse ``line`` as a command (any
    name counts as registered): ``::name props::data`` after trimming leading whitespace, else
    ``##[name props]data`` anywhere in the line."""
    message = line.lstrip()  # Python's whitespace includes all of .NET's
    if message.startswith("::") and (end := message.find("::", 2)) >= 0:
        info, data = message[2:end], message[end + 2:]
        name, _, props = info.partition(" ")
        pairs = [p.split("=", 1) for p in props.split(",") if "=" in p]
        return name, {k: v for k, v in pairs}, data
    start = line.find("##[")
    if start >= 0 and (end := line.find("]", start)) >= 0:
        name = line[start + 3:end].partition(" ")[0]
        return name, {}, line[end + 1:]
    return None


def executed(lines: list[str]) -> list[tuple[str, dict[str, str], str]]:
    """The commands the runner would run, honouring ``::stop-commands::TOKEN`` ... ``::TOKEN::``."""
    token, done = None, []
    for line in lines:
        cmd = parse_command(line)
        if cmd is None:
            continue
        if token is not None:
            if cmd[0].lower() == token.lower():
                token = None
        elif cmd[0] == "stop-commands":
            token = cmd[2]
        else:
            done.append(cmd)
    return done


def _console(run: Run) -> str:
    """The console summary: stdout without the stop-commands markers and annotations."""
    lines = run.out.split("\n")
    if lines[0].startswith("::stop-commands::"):
        lines = lines[1:lines.index(f"::{lines[0].removeprefix('::stop-commands::')}::")]
    return "\n".join(lines)


# -- item 4: workflow commands -------------------------------------------------------------


@pytest.mark.slow
def test_actions_run_only_runs_meshgrades_own_annotations(actions_run: Run) -> None:
    assert actions_run.code == 1, actions_run.err
    lines = runner_lines(actions_run.out)
    assert parse_command(lines[0]) is not None and lines[0].startswith("::stop-commands::")
    token = lines[0].removeprefix("::stop-commands::")
    assert len(token) == 32 and f"::{token}::" in lines
    ran = executed(lines) + executed(runner_lines(actions_run.err))
    assert ran and {name for name, _, _ in ran} <= {"error", "warning"}
    assert all(re.match(r"MG\d+ ", props["title"]) for _, props, _ in ran)
    # second defence: even with the stop-commands block ignored, no other line is a command
    own = [line for line in lines if line.startswith(("::error ", "::warning "))]
    others = [line for line in lines + runner_lines(actions_run.err) if line not in own]
    assert [c for c in map(parse_command, others) if c] == [
        ("stop-commands", {}, token), (token, {}, "")]
    # and the annotations come after the block, where the runner reads them
    assert lines.index(f"::{token}::") < lines.index(own[0])


@pytest.fixture(scope="module")
def direct_actions_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return _grade(tmp_path_factory.mktemp("direct-actions"), actions=True, direct=True)


@pytest.fixture(scope="module")
def direct_plain_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return _grade(tmp_path_factory.mktemp("direct-plain"), actions=False, direct=True)


def _own_annotations(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith(("::error ", "::warning "))]


@pytest.mark.slow
def test_direct_pytest_under_actions_runs_only_meshgrades_own_annotations(
        direct_actions_run: Run, actions_run: Run) -> None:
    run = direct_actions_run
    assert run.code == 1, run.out + run.err
    lines = runner_lines(run.out)
    # the block opens before pytest's terminal reporter writes its first line...
    assert lines[0].startswith("::stop-commands::") and parse_command(lines[0]) is not None
    token = lines[0].removeprefix("::stop-commands::")
    assert len(token) == 32 and lines.count(f"::{token}::") == 1
    end = lines.index(f"::{token}::")
    inside = lines[1:end]
    assert "test session starts" in inside[0]
    assert any("MG101 yaml-parses" in line for line in inside), "no failure report"
    assert any(" meshgrade " in line and line.startswith("=") for line in inside)
    assert re.search(r"=+ .*\d+ failed.* =+", "\n".join(inside)), "no pytest summary line"
    # ...closes at the very end, and meshgrade's own annotations follow it, nothing else
    own = _own_annotations(lines)
    assert own and [line for line in lines[end + 1:] if line] == own
    ran = executed(lines) + executed(runner_lines(run.err))
    assert ran and {name for name, _, _ in ran} <= {"error", "warning"}
    assert all(re.match(r"MG\d+ ", props["title"]) for _, props, _ in ran)
    assert len(ran) == len(own), "an annotation was printed inside the block"
    # second defence: even with the stop-commands block ignored, no other line is a command
    others = [line for line in lines + runner_lines(run.err) if line not in own]
    assert [c for c in map(parse_command, others) if c] == [
        ("stop-commands", {}, token), (token, {}, "")]
    # the same annotations as `meshgrade grade` prints, once each
    assert sorted(own) == sorted(_own_annotations(runner_lines(actions_run.out)))
    assert "### What to fix" in run.summary


@pytest.mark.slow
def test_direct_pytest_outside_actions_prints_no_block_and_no_command(
        direct_plain_run: Run) -> None:
    run = direct_plain_run
    assert run.code == 1, run.out + run.err
    assert not [line for line in runner_lines(run.out) if line.startswith("::stop-commands::")]
    assert "MG101 yaml-parses" in run.out
    assert executed(runner_lines(run.out)) == executed(runner_lines(run.err)) == []
    # the failure reports show the findings escaped, as `meshgrade grade` does
    for name, raw, _shown in ATTACKS:
        assert raw not in run.out + run.err, name
    assert "weird\\n::error::name.yaml:2" in run.out
    assert not [ch for ch in run.out + run.err if ch != "\n" and _forbidden(ch)]


@pytest.mark.slow
def test_grade_verbose_under_actions_opens_one_block(tmp_path: Path) -> None:
    # `meshgrade grade -v` shows pytest's output; the plugin opens no block of its own inside
    # the command's
    run = _grade(tmp_path, actions=True, verbose=True)
    assert run.code == 1, run.err
    lines = runner_lines(run.out)
    starts = [line for line in lines if line.startswith("::stop-commands::")]
    assert len(starts) == 1 and lines[0] == starts[0]
    token = lines[0].removeprefix("::stop-commands::")
    assert lines.count(f"::{token}::") == 1
    end = lines.index(f"::{token}::")
    assert any("test session starts" in line for line in lines[1:end])
    own = _own_annotations(lines)
    assert own and all(lines.index(line) > end for line in own)
    others = [line for line in lines + runner_lines(run.err) if line not in own]
    assert [c for c in map(parse_command, others) if c] == [
        ("stop-commands", {}, token), (token, {}, "")]


def test_stop_commands_blocks_do_not_nest(capsys: pytest.CaptureFixture[str]) -> None:
    assert not workflow_commands_are_stopped()
    with workflow_commands_stopped():
        assert workflow_commands_are_stopped()
        with workflow_commands_stopped():
            print("inner")
        assert workflow_commands_are_stopped()
    assert not workflow_commands_are_stopped()
    with workflow_commands_stopped(enabled=False):
        assert not workflow_commands_are_stopped()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[1] == "inner"
    token = lines[0].removeprefix("::stop-commands::")
    assert len(token) == 32 and lines[2] == f"::{token}::"


ATTACKS = [  # (name, what must not reach the log raw, how it shows instead)
    ("LF set-output", "\n::set-output", "reviews\\n::set-output name=score::100"),
    ("CR add-mask", "\r::add-mask", "reviews\\r::add-mask::x"),
    ("stop-commands at a line start", "\n::stop-commands::abc", "'\\n::stop-commands::abc'"),
    ("legacy ##[ command", "##[set-output", "'##\\[set-output name=score;]100'"),
    ("file name with a newline", "weird\n::error::", "weird\\n::error::name.yaml:2"),
    ("line-leading file name", "\n      ::set-output name=grade",
     "      \\::set-output name=grade::99.yaml:2  YAML syntax error"),
    ("NBSP-led file name", "\u00a0::warning::nbsp", "      \u00a0\\::warning::nbsp.yaml:2"),
    ("clear screen", "\x1b[2J", "x\\x1b[2J"),
    ("window title", "\x1b]0;title\x07", "\\x1b]0;title\\x07"),
    ("OSC 52 clipboard", "\x1b]52;c;", "\\x1b]52;c;ZWNobyBwd25lZA==\\x07"),
    ("fake score line", "\nScore 52/52", "\\nScore 52/52  (all passed)"),
    ("bidi override", "\u202e", "'\\u202egnp.exe'"),
    ("noncharacter", "\ufffe", "a\\ufffeb"),
]


@pytest.mark.parametrize("which", ["actions_run", "plain_run"])
@pytest.mark.parametrize("name, raw, shown", ATTACKS, ids=[a[0] for a in ATTACKS])
@pytest.mark.slow
def test_console_shows_the_attack_escaped(request: pytest.FixtureRequest, which: str,
                                          name: str, raw: str, shown: str) -> None:
    run: Run = request.getfixturevalue(which)
    assert raw not in run.out + run.err
    assert shown in _console(run), name


@pytest.mark.parametrize("which", ["actions_run", "plain_run"])
@pytest.mark.slow
def test_console_has_no_control_character_and_one_score_line(
        request: pytest.FixtureRequest, which: str) -> None:
    run: Run = request.getfixturevalue(which)
    text = run.out + run.err
    assert not [ch for ch in text if ch != "\n" and _forbidden(ch)]
    assert len([line for line in text.splitlines() if line.lstrip().startswith("Score ")]) == 1
    if which == "plain_run":  # outside Actions no stop-commands block: the escapes alone
        assert executed(runner_lines(run.out)) == executed(runner_lines(run.err)) == []


MARKDOWN = [  # (name, raw form that must not be in the summary)
    ("link", f"[click]({LINK})"),
    ("image", f"![img]({LINK})"),
    ("autolink", f"<{LINK}>"),
    ("raw HTML", "<img src=x"),
    ("bare URL", LINK),
    ("www autolink", "www.evil.example"),
    ("newline", "\n::set-output"),
]


@pytest.mark.parametrize("name, raw", MARKDOWN, ids=[m[0] for m in MARKDOWN])
@pytest.mark.slow
def test_step_summary_has_no_link_image_or_html(actions_run: Run, name: str, raw: str) -> None:
    summary = actions_run.summary
    assert "### What to fix" in summary
    outside_code = re.sub(r"(`+).*?\1", "", summary)
    assert raw not in outside_code, name
    assert "<" not in outside_code
    assert not re.search(r"(?<!\\)\]\(|(?<!\\)!\[|https?://|www\.", outside_code)


@pytest.mark.slow
def test_classroom_messages_start_no_command(actions_run: Run) -> None:
    tests = json.loads((actions_run.reports / "classroom.json").read_text("utf-8"))["tests"]
    printed = "\n".join(f"{t['name']}\nError: {t['message']}" for t in tests)  # as the reporter
    assert "weird\\n::error::name.yaml" in printed
    assert executed(runner_lines(printed)) == []
    assert not [ch for ch in printed if ch != "\n" and _forbidden(ch)]


# -- item 9: XML and CSV -------------------------------------------------------------------


@pytest.mark.slow
def test_junit_is_written_despite_a_noncharacter(actions_run: Run) -> None:
    root = ET.parse(actions_run.reports / "junit.xml").getroot()
    bodies = " ".join((e.text or "") + " ".join(e.attrib.values()) for e in root.iter())
    assert "a\\ufffeb" in bodies and "x\\x1b[2J" in bodies
    assert "warning: the junit report" not in actions_run.err


FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+cmd|' /C calc'!A0", "-2+3",
            "@SUM(A1:A9)", "\t=1", "\r=1"]


def test_gradebook_csv_escapes_formulas_in_the_header(tmp_path: Path) -> None:
    checks = [CheckResult(cid, "n", "t", Outcome.PASSED, score=1, max_score=1)
              for cid in [*FORMULAS, "MG101"]]
    run = RunResult(Submission("=cmd", "c0ffee", "@alice"), mode="repo", rubric="r",
                    checks=checks)
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / "results.json").write_text(json_report.to_json(run), "utf-8")
    out = tmp_path / "gradebook.csv"
    assert main(["gradebook", "collect", str(tmp_path / "alice"), "--out", str(out)]) == 0
    with out.open(encoding="utf-8", newline="") as fh:
        header, row = list(csv.reader(fh))
    _assert_no_formula(header, row, student="'@alice")


def test_batch_gradebook_escapes_formulas_in_the_header() -> None:
    row = RosterRow(2, "=alice", "sub", "alice", "repo")
    checks = [{"id": cid, "score": 1} for cid in [*FORMULAS, "MG101"]]
    summary = BatchSummary([StudentResult(row, True, results={"checks": checks, "score": 7})])
    text = classreport.gradebook_csv(summary, "r")
    header, line = list(csv.reader(io.StringIO(text, newline="")))
    _assert_no_formula(header, line, student="'=alice")


def _assert_no_formula(header: list[str], row: list[str], *, student: str) -> None:
    assert not [cell for cell in header + row if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert {"'" + f for f in FORMULAS} <= set(header) and "MG101" in header
    assert row[0] == student and row[header.index("MG101")] == "1"


def test_batch_progress_line_is_escaped() -> None:
    row = RosterRow(2, "ann\x1b]0;x\x07", "sub", "ann", "repo")
    res = StudentResult(row, False, reason="crashed\n::set-output name=x::1 ##[error]y")
    line = describe(res)
    assert line == "ann\\x1b]0;x\\x07: NOT GRADABLE: crashed\\n::set-output name=x::1 ##\\[error]y"
    assert parse_command(line) is None


# -- the sink functions, row by row and for any text ---------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("plain ünïcode ✓ text", "plain ünïcode ✓ text"),
    ("a\nb\rc\td", "a\\nb\\rc\\td"),
    ("\x1b[2J\x07\x7f\x85\x9b", "\\x1b[2J\\x07\\x7f\\x85\\x9b"),
    ("\u2028\u2029\u202a\u202e\u2066\u2069\u200b\ufeff", "\\u2028\\u2029\\u202a\\u202e\\u2066"
                                                         "\\u2069\\u200b\\ufeff"),
    ("\ud800\ufffe\U000e0001", "\\ud800\\ufffe\\U000e0001"),
    ("nbsp\u00a0ideographic\u3000private\ue000", "nbsp\u00a0ideographic\u3000private\ue000"),
])
def test_for_terminal(text: str, expected: str) -> None:
    assert for_terminal(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("PASS  MG101  yaml-parses  1/1", "PASS  MG101  yaml-parses  1/1"),
    ("::set-output name=a::1", "\\::set-output name=a::1"),
    ("ok\n   \u00a0::error::x\r::warning::y", "ok\n   \u00a0\\::error::x\r\\::warning::y"),
    ("mid :: line is fine", "mid :: line is fine"),
    ("text ##[set-output name=a;]1", "text ##\\[set-output name=a;]1"),
])
def test_for_workflow_log(text: str, expected: str) -> None:
    assert for_workflow_log(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("subset-defined", "subset-defined"),
    ("[x](http://e.org)", "\\[x\\]\\(http\\://e.org\\)"),
    ("![i](u)", "\\!\\[i\\]\\(u\\)"),
    ("<http://e.org> & <b>", "&lt;http\\://e.org&gt; &amp; &lt;b&gt;"),
    ("- item", "\\- item"),
    ("12. item", "12\\. item"),
    ("# h | *e* _u_ ~s~ `c`", "\\# h \\| \\*e\\* \\_u\\_ \\~s\\~ \\`c\\`"),
    ("www.e.org a@b.org", "www\\.e.org a\\@b.org"),
    ("a\nb", "a\\\\nb"),
])
def test_for_markdown(text: str, expected: str) -> None:
    assert for_markdown(text) == expected


@pytest.mark.parametrize("text, table, expected", [
    ("vs.yaml:3", False, "`vs.yaml:3`"),
    ("a`b", False, "``a`b``"),
    ("`x`", False, "`` `x` ``"),
    ("a|b\n", True, "`a\\|b\\n`"),
    ("", False, ""),
])
def test_markdown_code(text: str, table: bool, expected: str) -> None:
    assert markdown_code(text, table=table) == expected


@pytest.mark.parametrize("text, expected", [
    ("line\n\ttab\r", "line\n\ttab\r"),
    ("a\ufffeb\uffff\x00\x0b\x1b", "a\\ufffeb\\uffff\\x00\\x0b\\x1b"),
    ("\ud800\x85\ufdd0\U0001fffe\U0001f600", "\\ud800\\x85\\ufdd0\\U0001fffe\U0001f600"),
])
def test_for_xml(text: str, expected: str) -> None:
    assert for_xml(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("MG101", "MG101"), ("alice", "alice"), ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("", ""),
])
def test_for_csv(text: str, expected: str) -> None:
    assert for_csv(text) == expected


def _forbidden(ch: str) -> bool:
    """A character no terminal-bound text may carry raw."""
    return not ch.isprintable() and unicodedata.category(ch) not in ("Zs", "Co")


def _xml_char(ch: str) -> bool:
    code = ord(ch)
    return (ch in "\t\n\r" or 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xD7FF
            or 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF)


ANY_TEXT = st.text(st.one_of(
    st.characters(exclude_categories=()),  # surrogates included
    st.sampled_from(list("\x1b\x07\n\r\t\x85\u2028\u202e\ufeff\ufffe\ud800 \u00a0:#[]()!<`"))))


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
def test_for_terminal_leaves_no_forbidden_character(text: str) -> None:
    shown = for_terminal(text)
    assert not [ch for ch in shown if _forbidden(ch)]
    assert executed(runner_lines(for_workflow_log("      " + shown))) == []


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
def test_for_xml_is_always_xml_1_0(text: str) -> None:
    out = for_xml(text)
    assert all(_xml_char(ch) for ch in out)
    ET.fromstring(f"<a b={quoteattr(out)}>{escape(out)}</a>")


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
def test_for_markdown_leaves_only_escaped_punctuation(text: str) -> None:
    token = r"\\[!-/:-@\[-`{-~]|&(?:amp|lt|gt);|[^\\`*_\[\]()!#|~{}$:@&<>\r\n]"
    assert re.fullmatch(f"(?:{token})*", for_markdown(text))
