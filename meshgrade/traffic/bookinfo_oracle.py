"""The Bookinfo oracle: which reviews version rendered a product page.

Order of evidence: the pod name after "Reviews served by:" decides (regex
``reviews-(v\\d+)-<hash>-<suffix>``); the star markers of either page style cross-check it
(new page: a ``flex gap-x-1 text-black-500|text-red-500`` div of ``glyphicon glyphicon-star``
svgs; old page: ``<font color="black|red">`` around ``glyphicon glyphicon-star`` spans; v1: no
stars). A bare ``text-red-500`` is not a marker: error messages use that class.

Decisions:
- pod name and stars disagree -> version None (not trusted), with a problem;
- no pod name (images before 1.17) -> the stars alone decide (no problem is noted, so a
  page check does not fail old images), provided the page shows reviews;
- an error page (reviews, ratings or details unavailable) -> ``error_page`` True and version
  None even when a pod name is shown (an error answer counts against a check; it is never
  credited to a version); the pod name is kept for the report;
- with ``pods_by_version``, a pod name that is not a running pod of its version is a problem
  and the version is None (a page that prints a made-up pod name gains nothing)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import requests

from .oracles import Classification

POD = re.compile(r"reviews-(v\d+)-[a-z0-9]+-[a-z0-9]+")
SERVED_BY = re.compile(r"Reviews served by:(?:\s|<[^>]*>){0,12}(" + POD.pattern + ")")
TITLE = "Simple Bookstore App"
ERROR_TEXTS = (
    "Error fetching product reviews",
    "Sorry, product reviews are currently unavailable",
    "Ratings service is currently unavailable",
    "Error fetching product details",
)
COLOR_VERSION = {"black": "v2", "red": "v3"}
_STAR = r"glyphicon glyphicon-star(?:-empty)?\b(?!-)"
_NEW_STARS = re.compile(r"<div\s+class=\"(?P<cls>[^\"]*)\"\s*>", re.I)
_NEW_COLOR = re.compile(r"^text-(black|red)-500$")
_OLD_STARS = re.compile(r"<font\s+color=\"(?P<color>[a-z]+)\"\s*>", re.I)
_SVG_STAR = re.compile(r"<svg\b[^>]*\bid=\"" + _STAR)
_SPAN_STAR = re.compile(r"<span\b[^>]*\bclass=\"" + _STAR)


def _inner(html: str, start: int, tag: str) -> str:
    """The text from ``start`` to the next closing ``tag`` (star blocks do not nest)."""
    end = html.find(f"</{tag}>", start)
    return html[start:end if end >= 0 else len(html)]


def star_colors(html: str) -> list[str]:
    """Colors of the star blocks on a page (either style), one entry per rated review."""
    colors: list[str] = []
    for opening in _NEW_STARS.finditer(html):
        tokens = opening["cls"].split()
        color = [m.group(1) for t in tokens if (m := _NEW_COLOR.match(t))]
        if ({"flex", "gap-x-1"} <= set(tokens) and color
                and _SVG_STAR.search(_inner(html, opening.end(), "div"))):
            colors.append(color[0])
    for opening in _OLD_STARS.finditer(html):
        if _SPAN_STAR.search(_inner(html, opening.end(), "font")):
            colors.append(opening["color"].lower())
    return colors


def _stars_version(colors: Iterable[str]) -> tuple[str | None, tuple[str, ...]]:
    found = set(colors)
    if not found:
        return "v1", ()
    if len(found) > 1:
        return None, (f"mixed star colors {sorted(found)}",)
    color = found.pop()
    if color not in COLOR_VERSION:
        return None, (f"unknown star color {color!r}",)
    return COLOR_VERSION[color], ()


def pods_by_version(pods: Iterable[Mapping[str, Any]], app: str = "reviews"
                    ) -> dict[str, set[str]]:
    """Version -> names of the Running, not deleting pods labelled ``app`` (from a Pod
    list's ``items``): the ``pods_by_version`` a `BookinfoOracle` trusts."""
    out: dict[str, set[str]] = {}
    for pod in pods:
        meta = pod.get("metadata") or {}
        labels = meta.get("labels") or {}
        phase = (pod.get("status") or {}).get("phase")
        if labels.get("app") != app or not labels.get("version") or phase != "Running" \
                or meta.get("deletionTimestamp"):
            continue
        out.setdefault(str(labels["version"]), set()).add(str(meta.get("name")))
    return out


class BookinfoOracle:
    """Classifies product pages (both styles) and the reviews JSON API.

    ``pods_by_version``: version -> names of the running reviews pods of that version (from
    the cluster); when given, pod names outside it are not trusted."""

    def __init__(self, pods_by_version: Mapping[str, set[str]] | None = None) -> None:
        self.pods_by_version = (
            {v: set(p) for v, p in pods_by_version.items()} if pods_by_version is not None
            else None)

    def classify(self, response: requests.Response) -> Classification:
        if "json" in response.headers.get("content-type", ""):
            try:
                return self.classify_json(response.json())
            except ValueError:
                return Classification(None, problems=("invalid JSON body",))
        return self.classify_html(response.text)

    def _check_pod(self, pod: str, version: str) -> tuple[str, ...]:
        if self.pods_by_version is None or pod in self.pods_by_version.get(version, set()):
            return ()
        return (f"pod {pod} is not a running reviews {version} pod",)

    def _decide(self, pod: str | None, pod_version: str | None, star_version: str | None,
                problems: tuple[str, ...], error: str | None) -> Classification:
        if error is not None:
            shown = f" (page shows pod {pod})" if pod else ""
            return Classification(None, pod, (*problems, f"error page: {error}{shown}"), True)
        if pod is not None and pod_version is not None:
            fake = self._check_pod(pod, pod_version)
            if fake:
                return Classification(None, pod, (*problems, *fake))
            if star_version is not None and star_version != pod_version:
                return Classification(None, pod, (*problems, f"pod {pod} is {pod_version} but "
                                                  f"the stars say {star_version}"))
            return Classification(pod_version, pod, problems)
        return Classification(star_version, None, problems)

    def classify_html(self, html: str) -> Classification:
        """Classify a product page."""
        error = next((text for text in ERROR_TEXTS if text in html), None)
        pods = list(dict.fromkeys(m.group(1) for m in SERVED_BY.finditer(html)))
        if TITLE not in html and not pods:
            return Classification(None, problems=("not a Bookinfo product page",))
        if len(pods) > 1:
            return Classification(None, pods[0], (f"several reviews pods on one page: {pods}",),
                                  error is not None)
        pod = pods[0] if pods else None
        pod_version = POD.fullmatch(pod).group(1) if pod else None  # type: ignore[union-attr]
        star_version, problems = _stars_version(star_colors(html))
        if pod is None and error is None:
            if "<blockquote" not in html:
                return Classification(None, problems=("no reviews and no pod name on the page",))
        return self._decide(pod, pod_version, star_version, problems, error)

    def classify_json(self, data: Any) -> Classification:
        """Classify ``/api/v1/products/<id>/reviews``: ``podname`` first, rating colors as the
        cross-check (v1 reviews have no ``rating``)."""
        if not isinstance(data, dict):
            return Classification(None, problems=("reviews JSON is not an object",))
        if "error" in data:
            return Classification(None, None, (f"error: {data['error']}",), True)
        raw = data.get("podname")
        found = POD.fullmatch(raw) if isinstance(raw, str) else None
        pod = raw if found else None
        colors: list[str] = []
        error = None
        for review in data.get("reviews") or []:
            rating = review.get("rating") if isinstance(review, dict) else None
            if isinstance(rating, dict) and "error" in rating:
                error = str(rating["error"])
            elif isinstance(rating, dict) and "color" in rating:
                colors.append(str(rating["color"]))
        star_version, problems = _stars_version(colors)
        if found is None:
            problems = (*problems, f"podname {raw!r} is not a reviews pod name")
            if error is None:
                return Classification(None, None, problems)
        return self._decide(pod, found.group(1) if found else None, star_version, problems,
                            error)
