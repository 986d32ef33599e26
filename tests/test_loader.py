"""Loading submissions: YAML forms, locations, and hostile input."""

from __future__ import annotations

import os
import resource
import subprocess
import time
from pathlib import Path

import pytest

from meshgrade.submission.gitsource import SourceError, clone, read_head
from meshgrade.submission.limits import Limits
from meshgrade.submission.loader import load_folder
from meshgrade.submission.source import open_source

from .conftest import PATIENCE_S

VS = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
"""


def codes(sub) -> list[str]:
    return [i.code for i in sub.issues]


@pytest.mark.parametrize("text, n_objects", [
    (VS, 1),
    ("---\n" + VS + "---\n", 1),
    ("# leading comment\n# another\n" + VS, 1),
    (VS + "---\n---\n\n---\n" + VS.replace("reviews", "ratings"), 2),
    (VS.replace("\n", "\r\n"), 1),
    ("\ufeff" + VS, 1),
    ("apiVersion: v1\nkind: List\nitems:\n- " + VS.replace("\n", "\n  ").rstrip() + "\n- "
     + VS.replace("\n", "\n  ").replace("reviews", "details").rstrip() + "\n", 2),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: \"x\ty\"\n", 1),
])
def test_yaml_forms(make_repo, text: str, n_objects: int) -> None:
    sub = load_folder(make_repo({"a.yaml": text}))
    assert sub.issues == []
    assert len(sub.objects) == n_objects


def test_lines_and_paths(make_repo) -> None:
    text = "# c\n---\n" + VS
    sub = load_folder(make_repo({"dir/vs.yml": text}))
    (obj,) = sub.objects
    assert obj.file == "dir/vs.yml" and obj.line == 3
    assert obj.line_of("spec.http[0].route[0].destination.subset") == 11
    assert obj.line_of("spec.hosts") == 8
    assert obj.line_of("spec.nothing.here") == 7  # nearest ancestor: spec


def test_list_items_keep_their_lines(make_repo) -> None:
    text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n" \
           "  metadata:\n    name: a\n"
    (obj,) = load_folder(make_repo({"l.yaml": text})).objects
    assert obj.line == 4 and obj.line_of("metadata.name") == 7


def test_git_folder_and_other_files_skipped(make_repo) -> None:
    root = make_repo({".git/config.yaml": VS, "notes.txt": VS, "compose.yml": "services: {}\n",
                      "k/vs.yaml": VS})
    sub = load_folder(root)
    assert [o.file for o in sub.objects] == ["k/vs.yaml"]
    assert ("compose.yml", "no Kubernetes object in it (not a manifest)") in sub.ignored


def test_duplicate_key_is_an_issue_with_line(make_repo) -> None:
    sub = load_folder(make_repo({"a.yaml": "a: 1\nkind: X\nb: 2\na: 3\n"}))
    (issue,) = sub.issues
    assert issue.code == "duplicate-key" and issue.line == 4 and "line 1" in issue.message


def test_symlink_out_of_the_submission_is_not_followed(make_repo, tmp_path_factory) -> None:
    root = make_repo({"vs.yaml": VS})
    os.symlink("/etc/passwd", root / "passwd.yaml")
    os.symlink("/etc", root / "etc-dir")
    outside = tmp_path_factory.mktemp("outside")
    (outside / "x.yaml").write_text(VS.replace("reviews", "leaked"))
    os.symlink(outside, root / "linked")
    sub = load_folder(root)
    secret = Path("/etc/passwd").read_text()[:20]
    dump = repr(sub)
    assert secret not in dump and "leaked" not in dump
    assert sorted(i.file for i in sub.issues if i.code == "symlink") == [
        "etc-dir", "linked", "passwd.yaml"]
    assert [o.name for o in sub.objects] == ["reviews"]


def test_fifo_is_not_read(make_repo) -> None:
    root = make_repo({"vs.yaml": VS})
    os.mkfifo(root / "pipe.yaml")
    start = time.monotonic()
    sub = load_folder(root)
    assert time.monotonic() - start < PATIENCE_S
    assert "not-a-file" in codes(sub)


def test_large_file_is_a_finding_not_a_hang(make_repo) -> None:
    root = make_repo({"big.yaml": "a: " + "x" * (25 * 1024 * 1024) + "\n", "vs.yaml": VS})
    start = time.monotonic()
    sub = load_folder(root)
    assert time.monotonic() - start < PATIENCE_S
    assert [i.file for i in sub.issues if i.code == "too-large"] == ["big.yaml"]
    assert len(sub.objects) == 1


def test_size_cap_is_configurable(make_repo) -> None:
    root = make_repo({"vs.yaml": VS})
    assert codes(load_folder(root, limits=Limits(max_file_bytes=100))) == ["too-large"]


def _laughs(levels: int = 9) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    names = "abcdefghij"
    for i in range(1, levels + 1):
        prev = names[i - 1]
        lines.append(f"{names[i]}: &{names[i]} [{', '.join(['*' + prev] * 9)}]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_bounded(make_repo) -> None:
    root = make_repo({"bomb.yaml": _laughs()})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    sub = load_folder(root)
    elapsed = time.monotonic() - start
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert "alias-bomb" in codes(sub)
    assert elapsed < PATIENCE_S and grown_mib < 200


def test_deep_nesting_is_a_finding(make_repo) -> None:
    root = make_repo({"deep.yaml": "[" * 20000 + "]" * 20000 + "\n",
                      "deep2.yaml": "".join("  " * i + f"k{i}:\n" for i in range(300)) + "  " * 300
                      + "v: 1\n"})
    sub = load_folder(root)
    assert sorted(i.file for i in sub.issues if i.code == "too-deep") == ["deep.yaml", "deep2.yaml"]


@pytest.mark.parametrize("content, code", [
    (b"\x00\x01\x02binary\x00" * 100, "binary"),
    (b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \xff\xfe\xfa\n", "encoding"),
    (b"apiVersion: v1\nkind: X\nmetadata: {name: [unclosed\n", "syntax"),
    (b"a:\n\tb: 1\n", "syntax"),
])
def test_junk_is_a_finding(make_repo, content: bytes, code: str) -> None:
    sub = load_folder(make_repo({"junk.yaml": content}))
    assert codes(sub) == [code]
    assert sub.issues[0].line or code == "binary"


def test_helm_templates_are_ignored(make_repo) -> None:
    root = make_repo({"chart/Chart.yaml": "apiVersion: v2\nname: x\nversion: 0.1.0\n",
                      "chart/templates/d.yaml":
                          "kind: Deployment\nmetadata:\n  name: {{ .Name }}\n"})
    sub = load_folder(root)
    assert sub.issues == [] and any("Helm" in why for _f, why in sub.ignored)


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def git_repo(make_repo) -> Path:
    root = make_repo({"istio/vs.yaml": VS})
    _git(root, "init", "-q", "-b", "main")
    hook = root / ".git" / "hooks" / "post-checkout"
    hook.write_text("#!/bin/sh\ntouch \"$(dirname \"$0\")/../../../HOOK-RAN\"\n")
    hook.chmod(0o755)
    (root / ".gitmodules").write_text('[submodule "x"]\n\tpath = x\n\turl = /nonexistent\n')
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "first")
    return root


def test_git_clone_of_a_local_repo(git_repo: Path) -> None:
    head = _git(git_repo, "rev-parse", "HEAD")
    folder, commit = clone(str(git_repo), Limits())
    try:
        assert commit == head
        assert (folder / "istio" / "vs.yaml").is_file()
        assert not (folder.parent / "HOOK-RAN").exists()
        assert not (folder / "x").exists() or not any((folder / "x").iterdir())
    finally:
        import shutil

        shutil.rmtree(folder.parent)
    assert not folder.exists()


def test_open_source_clones_url_and_cleans_up(git_repo: Path) -> None:
    opened = open_source(git_repo.as_uri())
    root = opened.submission.root
    assert [o.name for o in opened.submission.objects] == ["reviews"]
    assert opened.submission.commit == _git(git_repo, "rev-parse", "HEAD")
    opened.close()
    assert not root.exists()


def test_read_head_of_a_local_folder(git_repo: Path) -> None:
    assert read_head(git_repo) == _git(git_repo, "rev-parse", "HEAD")


def test_clone_failure_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot clone"):
        clone((tmp_path / "nope.git").as_uri(), Limits())


def test_clone_size_bound(git_repo: Path) -> None:
    with pytest.raises(SourceError, match="larger than"):
        clone(str(git_repo), Limits(clone_max_bytes=1))


def test_ext_protocol_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError):
        clone("ext::sh -c touch% " + str(tmp_path / "pwned"), Limits())
    assert not (tmp_path / "pwned").exists()
