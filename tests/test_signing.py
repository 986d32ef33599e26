"""Signed results.json, key loading, the gradebook and the verify command."""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
from pathlib import Path

import jsonschema
import pytest

from meshgrade import reports
from meshgrade.batch.gradebook import BASE_COLUMNS, collect, write_csv
from meshgrade.batch.roster import read_roster
from meshgrade.cli.gradebook_cmd import add_parser, run_gradebook, run_verify
from meshgrade.grading import registry
from meshgrade.grading.provenance import RubricCheck, same_repository
from meshgrade.grading.results import CheckResult, Outcome, RunResult, Submission, Visibility
from meshgrade.grading.rubric import builtin_dir, digest_of, load
from meshgrade.grading.signing import ENV_VAR, canonical, load_key, sign, verify
from meshgrade.reports import json_report

KEY = b"course-secret-key"
PART1 = digest_of("istio-part1")


def make_run(student: str | None = "alice", extra: bool = False) -> RunResult:
    checks = [
        CheckResult("MG122", "subset-defined", "Subsets", Outcome.FAILED, score=1, max_score=2),
        CheckResult("MG111", "yaml-parses", "YAML", Outcome.PASSED, score=1, max_score=1),
        CheckResult("MG413", "probe", "Hidden", Outcome.PASSED, score=3, max_score=3,
                    visibility=Visibility.HIDDEN),
    ]
    if extra:
        checks.append(CheckResult("MG201", "app", "App", Outcome.PASSED, score=2, max_score=2))
    url = f"https://example.org/{student}/hw.git"
    return RunResult(Submission(url, "c0ffee", student, url), mode="repo", rubric="istio-part1",
                     rubric_digest=PART1, checks=checks, duration_s=0.5, tool_version="0.1.0")


def results_data(run: RunResult | None = None) -> dict:
    return json.loads(json_report.to_json(run or make_run()))


# -- signing ------------------------------------------------------------------------------


def test_canonical_is_sorted_compact_utf8_without_signature() -> None:
    data = {"b": "Zoë", "a": [1, {"y": 2, "x": 1}], "signature": {"alg": "x", "value": "y"}}
    assert canonical(data) == '{"a":[1,{"x":1,"y":2}],"b":"Zoë"}'.encode()


def test_sign_verify_round_trip() -> None:
    data = results_data()
    signed = sign(data, KEY)
    assert "signature" not in data  # a copy
    assert signed["signature"]["alg"] == "HMAC-SHA256"
    assert len(signed["signature"]["value"]) == 64
    assert verify(signed, KEY) == (True, "ok")
    assert verify(json.loads(json.dumps(signed, indent=4)), KEY) == (True, "ok")
    assert verify(sign(signed, KEY), KEY) == (True, "ok")  # re-signing replaces
    assert verify(signed, b"another key") == (False, "altered")


def test_tampered_score_is_altered() -> None:
    signed = sign(results_data(), KEY)
    signed["score"] = signed["max_score"]
    assert verify(signed, KEY) == (False, "altered")
    signed = sign(results_data(), KEY)
    signed["checks"][0]["score"] = 2.0
    assert verify(signed, KEY) == (False, "altered")
    signed = sign(results_data(), KEY)
    signed["signature"] = {"alg": "none", "value": signed["signature"]["value"]}
    assert verify(signed, KEY) == (False, "altered")


def test_unsigned_is_refused() -> None:
    assert verify(results_data(), KEY) == (False, "unsigned")


def test_written_file_is_signed_and_validates(tmp_path: Path) -> None:
    written = reports.write_reports(make_run(), tmp_path, ["json"], env={}, sign_key=KEY)
    data = json.loads(written["json"].read_text(encoding="utf-8"))
    assert verify(data, KEY) == (True, "ok")
    schema = json_report.load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate(data)
    bad = dict(data, signature={"alg": "HMAC-SHA256", "value": "XYZ"})
    assert not validator.is_valid(bad)
    assert not validator.is_valid(dict(data, signature={"alg": "MD5", "value": "0" * 64}))
    unsigned = reports.write_reports(make_run(), tmp_path / "u", ["json"], env={})
    assert "signature" not in json.loads(unsigned["json"].read_text(encoding="utf-8"))


def test_unusual_evidence_still_verifies(tmp_path: Path) -> None:
    run = make_run()
    run.checks[0].evidence = {"when": {1, 2}, "path": Path("x"), "share": 0.1 + 0.2}
    path = json_report.write(run, tmp_path, key=KEY)
    assert verify(json.loads(path.read_text(encoding="utf-8")), KEY) == (True, "ok")


# -- keys ---------------------------------------------------------------------------------


def test_key_from_file_and_env(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_bytes(b"s3cret\n")
    assert load_key(str(key_file), {}) == b"s3cret"
    assert load_key(str(key_file), {ENV_VAR: "other"}) == b"s3cret"  # the file wins
    assert load_key(None, {ENV_VAR: "from-env\n"}) == b"from-env"
    assert load_key(None, {}) is None
    assert load_key(None, {ENV_VAR: ""}) is None


@pytest.mark.parametrize("content", [None, b"", b"\n"])
def test_bad_key_file_names_the_file(tmp_path: Path, content: bytes | None) -> None:
    key_file = tmp_path / "grader.key"
    if content is not None:
        key_file.write_bytes(content)
    with pytest.raises(ValueError, match="grader.key"):
        load_key(str(key_file), {ENV_VAR: "ignored"})


def test_unreadable_key_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"cannot read"):
        load_key(str(tmp_path), {})  # a folder


# -- gradebook ----------------------------------------------------------------------------


@pytest.fixture
def submissions(tmp_path: Path) -> Path:
    """ok/ (signed), tampered/ (signed, then edited), unsigned/, plus noise to skip."""
    root = tmp_path / "class"
    json_report.write(make_run("alice"), root / "ok" / "reports", key=KEY)
    path = json_report.write(make_run("mallory"), root / "tampered", key=KEY)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["score"] = data["max_score"]
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    json_report.write(make_run(None, extra=True), root / "unsigned")
    reports.write_reports(make_run("alice"), root / "ok" / "reports", ["gradescope"], env={})
    (root / "other").mkdir()
    (root / "other" / "results.json").write_text('{"schema": "someone-else/v2"}')
    return root


def test_collect_with_key_refuses_unsigned_and_altered(submissions: Path) -> None:
    book = collect(submissions, KEY)
    assert [r.student for r in book.rows] == ["alice"]
    refused = {path.parent.name: reason for path, reason in book.refused}
    assert refused == {"tampered": "altered", "unsigned": "unsigned"}
    assert [(p.parent.name, why) for p, why in book.skipped] == [
        ("other", "schema 'someone-else/v2', not meshgrade.results/v1")]


def test_collect_without_key_takes_all(submissions: Path) -> None:
    book = collect(submissions, None)
    assert sorted(r.student for r in book.rows) == ["", "alice", "mallory"]
    assert not book.refused
    row = next(r for r in book.rows if r.student == "")  # not the folder name
    assert row.points == {"MG122": 1, "MG111": 1, "MG413": 3, "MG201": 2}


def test_csv_columns(submissions: Path, tmp_path: Path) -> None:
    out = write_csv(collect(submissions, None), tmp_path / "gb.csv")
    with out.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    header = list(rows[0])
    assert header == [*BASE_COLUMNS, "MG111", "MG122", "MG201", "MG413"]
    alice = next(r for r in rows if r["student"] == "alice")
    assert alice == {"student": "alice", "source": "https://example.org/alice/hw.git",
                     "repository": "https://example.org/alice/hw.git", "commit": "c0ffee",
                     "rubric": "istio-part1", "rubric_digest": PART1, "mode": "repo",
                     "score": "5", "max_score": "6", "gradable": "true",
                     "MG111": "1", "MG122": "1", "MG201": "", "MG413": "3"}
    assert next(r for r in rows if r["student"] == "mallory")["score"] == "6"


def test_gradebook_cli(submissions: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY + b"\n")
    out = tmp_path / "gradebook.csv"
    args = argparse.Namespace(folder=submissions, out=out, sign_key_file=str(key_file))
    assert run_gradebook(args) == 1
    err = capsys.readouterr().err
    assert "REFUSED" in err and "tampered" in err and "altered" in err and "unsigned" in err
    assert len(out.read_text(encoding="utf-8").splitlines()) == 2
    args.sign_key_file = None
    assert run_gradebook(args) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 4
    args.sign_key_file = str(tmp_path / "missing.key")
    assert run_gradebook(args) == 2
    assert "missing.key" in capsys.readouterr().err


# -- verify command -------------------------------------------------------------------------


def test_run_verify_exit_codes(submissions: Path, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY)

    def verify_cmd(rel: str, key: str | None = str(key_file)) -> int:
        return run_verify(argparse.Namespace(results=submissions / rel, sign_key_file=key))

    assert verify_cmd("ok/reports/results.json") == 0
    assert verify_cmd("tampered/results.json") == 1
    assert "altered" in capsys.readouterr().err
    assert verify_cmd("unsigned/results.json") == 1
    assert "unsigned" in capsys.readouterr().err
    assert verify_cmd("ok/reports/results.json", key=None) == 2
    assert "no key" in capsys.readouterr().err
    assert verify_cmd("nowhere/results.json") == 2
    monkeypatch.setenv(ENV_VAR, KEY.decode())
    assert verify_cmd("ok/reports/results.json", key=None) == 0
    monkeypatch.setenv(ENV_VAR, "wrong")
    assert verify_cmd("ok/reports/results.json", key=None) == 1


def test_parsers() -> None:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["gradebook", "collect", "subs", "--sign-key-file", "k"])
    assert (args.command, args.gradebook_command, args.folder, args.out, args.sign_key_file) \
        == ("gradebook", "collect", Path("subs"), Path("gradebook.csv"), "k")
    args = parser.parse_args(["verify", "r.json"])
    assert (args.command, args.results, args.sign_key_file) == ("verify", Path("r.json"), None)
    assert (args.rubric, args.student, args.repository) == (None, None, None)
    args = parser.parse_args(["gradebook", "collect", "subs", "--rubric", "r.yaml",
                              "--roster", "class.csv"])
    assert (args.rubric, args.roster) == ("r.yaml", Path("class.csv"))


# -- rubric, student and repository ---------------------------------------------------------


def test_rubric_digest_is_the_files_sha256(tmp_path: Path) -> None:
    builtin = builtin_dir() / "istio-part1.yaml"
    assert PART1 == hashlib.sha256(builtin.read_bytes()).hexdigest()
    assert load("istio-part1", set(registry.checks())).digest == PART1
    own = tmp_path / "mine.yaml"
    own.write_bytes(builtin.read_bytes() + b"# one more line\n")
    rubric = load(str(own), set(registry.checks()))
    assert rubric.name == "istio-part1" and rubric.digest == digest_of(str(own)) != PART1


@pytest.mark.parametrize(("a", "b"), [
    ("https://github.com/Course/HW.git", "https://github.com/course/hw"),
    ("git@github.com:course/hw.git", "https://token:x@github.com/course/hw/"),
    ("/srv/class/alice", "/srv/class/alice/"),
])
def test_same_repository(a: str, b: str) -> None:
    assert same_repository(a, b)
    assert not same_repository(a, "https://github.com/course/hw-other")


def write_signed(folder: Path, run: RunResult) -> Path:
    return json_report.write(run, folder, key=KEY)


def test_verify_checks_rubric_student_and_repository(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY)
    path = write_signed(tmp_path / "alice", make_run("alice"))

    def verify_cmd(**expected: str | None) -> tuple[int, str]:
        args = argparse.Namespace(results=path, sign_key_file=str(key_file), rubric=None,
                                  student=None, repository=None)
        code = run_verify(argparse.Namespace(**{**vars(args), **expected}))
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    code, text = verify_cmd(student="alice", repository="https://example.org/alice/hw",
                            rubric="istio-part1")
    assert code == 0
    for shown in (PART1, "student: alice", "example.org/alice/hw.git", "c0ffee", "score: 5/6"):
        assert shown in text
    code, text = verify_cmd(student="bob")
    assert code == 1 and "student differs: expected bob, found alice" in text
    code, text = verify_cmd(repository="https://example.org/bob/hw.git")
    assert code == 1 and "repository differs" in text
    code, text = verify_cmd(rubric="istio-part2")
    assert code == 1 and f"expected {digest_of('istio-part2')} (istio-part2)" in text
    assert f"found {PART1}" in text
    code, text = verify_cmd(rubric=str(tmp_path / "missing.yaml"))
    assert code == 2 and "--rubric" in text


def test_collect_checks_the_roster(tmp_path: Path) -> None:
    root = tmp_path / "class"
    write_signed(root / "alice", make_run("alice"))
    write_signed(root / "bob", make_run("bob"))  # bob's own repository, but not on the roster
    mallory = make_run("mallory")
    mallory.submission.repository = "https://example.org/alice/hw.git"  # alice's
    write_signed(root / "mallory", mallory)
    folder = make_run("carol")  # graded by the batch from a folder: no repository recorded
    folder.submission = Submission(str(tmp_path / "subs" / "carol"), None, "carol")
    write_signed(root / "carol", folder)
    (tmp_path / "roster.csv").write_text(
        "student,submission\nalice,https://example.org/alice/hw.git\n"
        "mallory,https://example.org/mallory/hw.git\ncarol,subs/carol\n", encoding="utf-8")
    book = collect(root, KEY, roster=read_roster(tmp_path / "roster.csv", allow_local=True))
    assert [r.student for r in book.rows] == ["alice", "carol"]
    refused = {path.parent.name: reason for path, reason in book.refused}
    assert refused["bob"].startswith("student bob is not in the roster")
    assert refused["mallory"] == ("repository differs: expected https://example.org/mallory/"
                                  "hw.git, found https://example.org/alice/hw.git")


def test_collect_without_roster_refuses_copies_and_takes_the_signed_student(
        tmp_path: Path) -> None:
    root = tmp_path / "class"
    write_signed(root / "alice", make_run("alice"))
    write_signed(root / "mallory" / "copy", make_run("alice"))  # the same student: kept
    claim = make_run("mallory")
    claim.submission = make_run("bob").submission  # bob's repository and commit
    claim.submission.student = "mallory"
    write_signed(root / "mallory", claim)
    write_signed(root / "bob", make_run("bob"))
    book = collect(root, KEY)
    assert [(r.student, r.path.parent.name) for r in book.rows] == [
        ("alice", "alice"), ("alice", "copy")]
    refused = {path.parent.name: reason for path, reason in book.refused}
    assert refused == {
        "bob": "copied result: https://example.org/bob/hw.git at commit c0ffee is also "
               "claimed by mallory",
        "mallory": "copied result: https://example.org/bob/hw.git at commit c0ffee is also "
                   "claimed by bob"}


def test_collect_expected_rubric(tmp_path: Path) -> None:
    root = tmp_path / "class"
    write_signed(root / "alice", make_run("alice"))
    own = make_run("bob")
    own.rubric, own.rubric_digest = "my-rubric", "0" * 64  # not a built-in name: accepted
    write_signed(root / "bob", own)
    assert len(collect(root, KEY).rows) == 2
    book = collect(root, KEY, rubric=RubricCheck("istio-part1"))
    assert [r.student for r in book.rows] == ["alice"]
    assert "rubric digest differs" in book.refused[0][1]
