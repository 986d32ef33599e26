"""The lab's file reading (``meshgrade lab apply FILE``, ``Lab.apply``): a file is read alone,
never its whole folder; and ``loader.load_files``, which does it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from meshgrade.lab.manifests import ManifestError, load_paths
from meshgrade.submission.limits import Limits
from meshgrade.submission.loader import load_files

VS = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
"""
DR = """\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
  namespace: shop
spec:
  host: reviews
"""


class Spy:
    """Records every path os.open opens and every folder os.scandir lists."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.opened: list[str] = []
        self.listed: list[str] = []
        real_open, real_scandir = os.open, os.scandir

        def spy_open(path: Any, *args: Any, **kwargs: Any) -> int:
            self.opened.append(os.fsdecode(path))
            return real_open(path, *args, **kwargs)

        def spy_scandir(path: Any = ".") -> Any:
            self.listed.append(os.fsdecode(path))
            return real_scandir(path)

        monkeypatch.setattr(os, "open", spy_open)
        monkeypatch.setattr(os, "scandir", spy_scandir)


def test_a_file_is_read_without_its_huge_sibling(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "course"
    folder.mkdir()
    (folder / "vs.yaml").write_text(VS, encoding="utf-8")
    huge = folder / "a-dump.yaml"  # sorts first; 8 GiB, sparse: costs no disk
    with huge.open("wb") as fh:
        fh.truncate(8 * 2**30)
    (folder / "broken.yaml").write_text("a: [\n", encoding="utf-8")  # its error is not ours
    many = folder / "vendor"
    many.mkdir()
    for i in range(50):
        (many / f"{i}.yaml").write_text(DR, encoding="utf-8")
    spy = Spy(monkeypatch)
    objects = load_paths([folder / "vs.yaml"])
    assert [(o["kind"], o["metadata"]["name"], o["metadata"]["namespace"]) for o in objects] == [
        ("VirtualService", "reviews", "default")]
    assert spy.listed == [], "the folder was listed"
    assert [Path(p).name for p in spy.opened] == ["vs.yaml"]
    assert str(huge) not in spy.opened


def test_a_file_is_read_even_when_its_folder_exceeds_the_budgets(tmp_path: Path) -> None:
    # reading the folder stopped at the file-count budget before reaching this file, and the
    # file was silently not applied
    for i in range(30):
        (tmp_path / f"{i:03}.yaml").write_text(DR, encoding="utf-8")
    (tmp_path / "zz.yaml").write_text(VS, encoding="utf-8")
    sub = load_files(tmp_path, ["zz.yaml"], limits=Limits(max_files=10))
    assert sub.issues == [] and sub.files == ["zz.yaml"]
    assert [o.kind for o in sub.objects] == ["VirtualService"]


def test_files_and_folders_in_the_order_given(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "b.yaml").write_text(VS, encoding="utf-8")
    (tmp_path / "dir" / "a.yml").write_text(DR, encoding="utf-8")
    (tmp_path / "one.json").write_text(  # a file named explicitly is read whatever its suffix
        '{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}',
        encoding="utf-8")
    objects = load_paths([tmp_path / "one.json", tmp_path / "dir"])
    assert [o["kind"] for o in objects] == ["Namespace", "DestinationRule", "VirtualService"]
    assert "namespace" not in objects[0]["metadata"]  # cluster-scoped


def test_an_error_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("kind: VirtualService\nspec: [\n", encoding="utf-8")
    with pytest.raises(ManifestError, match=r"bad\.yaml:\d+: "):
        load_paths([tmp_path / "bad.yaml"])
    with pytest.raises(ManifestError, match="no such file or folder"):
        load_paths([tmp_path / "missing.yaml"])


def test_a_file_given_as_a_link_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "secret.yaml"
    outside.write_text(VS, encoding="utf-8")
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "link.yaml").symlink_to(outside)
    with pytest.raises(ManifestError, match=r"link\.yaml: symbolic link .*not read"):
        load_paths([folder / "link.yaml"])


def test_load_files_reads_nothing_outside_its_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "in").mkdir(parents=True)
    (tmp_path / "out.yaml").write_text(VS, encoding="utf-8")
    (root / "in" / "vs.yaml").write_text(VS, encoding="utf-8")
    (root / "escape").symlink_to(tmp_path, target_is_directory=True)
    sub = load_files(root, ["../out.yaml", str(tmp_path / "out.yaml"), "escape/out.yaml",
                            "in/vs.yaml", "in/vs.yaml", ""])
    assert sub.files == ["in/vs.yaml"] and len(sub.objects) == 1
    assert [(i.file, i.code) for i in sub.issues] == [
        ("../out.yaml", "outside"), (tmp_path.joinpath("out.yaml").as_posix(), "outside"),
        ("escape/out.yaml", "outside"), (".", "outside")]


def test_load_files_keeps_the_per_file_limits(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("a: " + "x" * 2048 + "\n", encoding="utf-8")
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    sub = load_files(tmp_path, ["big.yaml", "pipe.yaml"], limits=Limits(max_file_bytes=1024))
    assert [(i.file, i.code) for i in sub.issues] == [("big.yaml", "too-large"),
                                                      ("pipe.yaml", "not-a-file")]
