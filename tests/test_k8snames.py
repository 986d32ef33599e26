"""meshgrade.submission.k8snames: Kubernetes' name, label and selector rules at their boundaries."""

from __future__ import annotations

import pytest

from meshgrade.submission import k8snames as k


@pytest.mark.parametrize(("rule", "value", "defect"), [
    (k.SUBDOMAIN, "a" * 253, None),
    (k.SUBDOMAIN, "a" * 254, "(254 characters) is longer than 253"),
    (k.SUBDOMAIN, "reviews.v1-2", None),
    (k.SUBDOMAIN, "reviews..v1", "has a part between dots"),
    (k.SUBDOMAIN, "reviews.-v1", "has a part between dots"),
    (k.SUBDOMAIN, "reviews\n", "contains '\\n'"),
    (k.SUBDOMAIN, "", "is empty"),
    (k.RFC1123_LABEL, "1-bookinfo", None),
    (k.RFC1123_LABEL, "a" * 64, "(64 characters) is longer than 63"),
    (k.RFC1123_LABEL, "book.info", "contains '.'"),
    (k.RFC1035_LABEL, "reviews-2", None),
    (k.RFC1035_LABEL, "2-reviews", "starts with '2'"),
    (k.LABEL_VALUE, "", None),
    (k.LABEL_VALUE, "A" * 63, None),
    (k.LABEL_VALUE, "Release_1.0-rc", None),
    (k.LABEL_VALUE, "a" * 64, "(64 characters) is longer than 63"),
    (k.LABEL_VALUE, "v1-", "ends with '-'"),
    (k.LABEL_VALUE, "ü", "contains 'ü'"),
])
def test_rule_boundaries(rule: k.Rule, value: str, defect: str | None) -> None:
    found = rule.defect(value)
    assert found == defect if defect is None else defect in (found or "")


@pytest.mark.parametrize(("key", "bad"), [
    ("app", False), ("app.kubernetes.io/name", False), ("Team_Name", False),
    ("a" * 63, False), ("a" * 64, True), ("my app", True), ("/app", True), ("a/b/c", True),
    ("Example.com/app", True), ("example.com/", True), ("x" * 254 + "/app", True),
])
def test_label_keys(key: str, bad: bool) -> None:
    assert (k.label_key(key, "metadata.labels") is not None) == bad


def test_selector_expressions_and_shown_values() -> None:
    sel = {"matchLabels": {"app": "x" * 69},
           "matchExpressions": [{"key": "a", "operator": "In", "values": ["v1"]},
                                {"key": "b", "operator": "Exists"},
                                {"key": "c", "operator": "NotIn", "values": []},
                                {"key": "d", "operator": "exists"}]}
    found = [str(v) for group in k.selector(sel, "spec.selector") for v in group]
    assert found[0].startswith(f"label value '{'x' * 32}…' (69 characters) is longer than 63")
    assert [f.split(":")[0] for f in found[1:]] == [
        "operator 'NotIn' needs a non-empty list of values",
        "operator 'exists' is not a selector operator"]
    assert k.label_value(1.0, "p") is not None and k.label_value(None, "p") is None
