"""Copied work in ``meshgrade batch`` (issue 13): planted copies and renamed copies are found,
honest look-alikes that share only the docs' samples (and the course's given files) are not."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from meshgrade.batch import copies
from meshgrade.batch.copies import Obj, Shared, detect, features, renamer
from meshgrade.grading.rubric import RubricError, parse

from . import copyclass as cc
from .test_batch import batch

CLASS = 40


def _objs(files: dict) -> list[Obj]:
    return [o for o in map(Obj.from_dict, cc.objects(files)) if o is not None]


@pytest.fixture(scope="module")
def shared() -> Shared:
    return Shared.of(copies.shared_raws())


def _planted() -> tuple[dict[str, list[Obj]], set[frozenset[str]]]:
    """A class of honest students plus copies: verbatim (other layout and style), renamed
    and shuffled, and a copy of a copy."""
    students = {f"s{i:02d}": cc.honest(f"s{i:02d}", i) for i in range(CLASS)}
    planted = {"verbatim": ("s03", cc.part1(2) | {"mine.yaml": [
                   d for name in ("app.yaml", "routing.yaml") for d in students["s03"][name]]}),
               "renamed": ("s07", cc.renamed(students["s07"], seed=1)),
               "renamed-again": ("s11", cc.renamed(students["s11"], seed=2))}
    found = {k: _objs(v) for k, v in students.items()}
    pairs = set()
    for copier, (source, files) in planted.items():
        found[copier] = _objs(files)
        pairs.add(frozenset((copier, source)))
    found["copy-of-renamed"] = _objs(cc.renamed(cc.renamed(students["s11"], seed=3), seed=4))
    pairs |= {frozenset(p) for p in itertools.combinations(
        ("s11", "renamed-again", "copy-of-renamed"), 2)}
    return found, pairs


def test_every_planted_pair_and_no_honest_pair(shared: Shared) -> None:
    students, planted = _planted()
    pairs = detect(students, shared, 0.9)
    assert {frozenset((p.left, p.right)) for p in pairs} == planted
    assert all(p.similarity >= 0.9 and p.matches for p in pairs)


def test_honest_look_alikes_stay_far_below_the_threshold(shared: Shared) -> None:
    students = {f"s{i:02d}": _objs(cc.honest(f"s{i:02d}", i)) for i in range(CLASS)}
    subs = [copies.Submission.of(s, o, shared) for s, o in students.items()]
    sims = copies.similarities(subs, copies.weights(subs))
    assert len(sims) > CLASS  # they do look alike: most pairs share features
    assert max(sims.values()) < 0.6


def test_only_the_docs_samples_in_common_is_no_copy(shared: Shared) -> None:
    """Two students who hand in the same docs' samples, laid out differently, and nothing
    else: nothing of their own is left to compare."""
    a, b = _objs(cc.part1(0)), _objs(cc.part1(1))
    assert detect({"a": a, "b": b}, shared, 0.0) == []
    sub = copies.Submission.of("a", a, shared)
    assert sum(sub.bag.values()) == 0


def test_renaming_and_reordering_do_not_hide_a_copy(shared: Shared) -> None:
    original = cc.honest("ana", 5)
    copy = cc.renamed(original, seed=9)
    names = {o.name for o in _objs(copy)}
    assert not names & {o.name for o in _objs(original)} - {"reviews", "ratings", "details",
                                                            "productpage", "bookinfo",
                                                            "bookinfo-gateway"}
    (pair,) = detect({"ana": _objs(original), "zed": _objs(copy)}, shared, 0.9)
    assert pair.similarity == pytest.approx(1.0)
    kinds = sorted(m.left.kind for m in pair.matches)  # a DestinationRule for v1 and v2
    assert kinds == ["Deployment", "Deployment", "Gateway", "Service",  # is all shared
                     "VirtualService", "VirtualService"]
    assert all(m.left.kind == m.right.kind for m in pair.matches)


def test_normalising_names_order_comments_and_whitespace() -> None:
    a = {"apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
         "metadata": {"name": "shop", "namespace": "alice", "annotations": {"x": "y"}},
         "spec": {"hosts": ["shop.alice.svc.cluster.local"],
                  "http": [{"route": [{"destination": {"host": "shop", "subset": "v1"},
                                       "weight": 80}]}]}}
    b = {"kind": "VirtualService", "apiVersion": "networking.istio.io/v1",
         "spec": {"http": [{"route": [{"weight": 80, "destination": {"subset": "v1",
                                                                     "host": "store "}}]}],
                  "hosts": ["store.bob.svc.cluster.local"]},
         "metadata": {"namespace": "bob", "name": "store"}}
    fa = features(a, renamer({"shop", "alice"}))
    fb = features(b, renamer({"store", "bob"}))
    assert fa == fb
    assert "VirtualService|spec.hosts[]=~.~.svc.cluster.local" in fa


def test_the_rubric_lists_the_courses_given_files(tmp_path: Path) -> None:
    """Objects every student got from the course are not evidence of copying."""
    given = cc.app("course", 99)
    students = {f"s{i}": _objs({"given.yaml": given, "app.yaml": cc.app(f"s{i}", i)[:3]})
                for i in range(6)}
    plain = Shared.of(copies.shared_raws())
    assert len(detect(students, plain, 0.25)) == 15  # the given objects make everyone alike
    cc.write(tmp_path / "given", {"given.yaml": given})
    rubric = parse("name: r\nchecks: {MG111: {points: 1}}\nshared_files: [given]\n",
                   str(tmp_path / "rubric.yaml"), {"MG111"})
    assert rubric.shared_files == (tmp_path / "given",)
    assert detect(students, Shared.of(copies.shared_raws(rubric.shared_files)), 0.25) == []


def test_a_missing_shared_file_is_a_rubric_error(tmp_path: Path) -> None:
    with pytest.raises(RubricError, match=r"shared_files\[0\].*does not exist"):
        parse("name: r\nchecks: {MG111: {}}\nshared_files: [nope.yaml]\n",
              str(tmp_path / "rubric.yaml"), {"MG111"})


def test_the_threshold_is_an_option(shared: Shared) -> None:
    students, _planted_pairs = _planted()
    assert len(detect(students, shared, 0.0)) > len(detect(students, shared, 0.9))


@pytest.mark.slow
def test_batch_lists_a_planted_copy_side_by_side(tmp_path: Path) -> None:
    """End to end: the grade processes write objects.json, the class report shows the pair
    (and escapes what the students wrote)."""
    sneaky = cc.honest("ana", 0)
    sneaky["app.yaml"][0]["metadata"]["labels"]["note"] = "<script>x</script>"
    cc.write(tmp_path / "ana", sneaky)
    cc.write(tmp_path / "ben", cc.honest("ben", 1), flow=True)
    cc.write(tmp_path / "eve", cc.renamed(sneaky, seed=5), note="all my own work")
    (tmp_path / "roster.csv").write_text("student,submission\nana,ana\nben,ben\neve,eve\n")
    out = tmp_path / "out"
    code, stdout, stderr = batch([str(tmp_path / "roster.csv"), "--mode", "repo", "--out",
                                  str(out), "--workers", "2", "--similarity", "0.9"])
    assert code == 0, stderr
    assert (out / "ana" / copies.OBJECTS_FILE).is_file()
    assert "copied work: 1 pair(s) at least 90% similar: ana ~ eve (100%)" in stdout
    page = (out / "class-report.html").read_text("utf-8")
    section = page[page.index('id="copies"'):page.index("Checks, worst first")]
    assert "<b>ana</b> and <b>eve</b>: 100% alike" in section and "ben" not in section
    assert "mygreeterapp" in section and "&lt;script&gt;" in section
    assert "<script>" not in page


def test_similarity_must_be_a_share() -> None:
    with pytest.raises(SystemExit):
        batch(["roster.csv", "--similarity", "1.5"])
