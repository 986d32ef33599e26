"""Istio's validation of single fields, shared by the rules of MG131 (``webhook`` and
``webhook_vs``): host names, gateway names, durations, ports, exportTo, string matches and
destinations, as ``pkg/config/validation`` of Istio judges them. Values come straight from
YAML, so every helper takes ``Any`` and judges only the types it knows (MG103 reports the
others)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ..submission import k8snames
from ..submission.objects import as_dict, as_list

_LABEL = r"[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?"
_DNS_LABEL = re.compile(_LABEL)
_WILD_LABEL = re.compile(rf"\*|(?:\*|\*-)?{_LABEL}")
_NUMERIC = re.compile(r"[+-]?[0-9]+")
_DURATION = re.compile(r"(?:([0-9]*\.?[0-9]+)(h|ms|m|s|us|µs|ns))")
_UNIT_NS = {"h": 3_600_000_000_000, "m": 60_000_000_000, "s": 1_000_000_000,
            "ms": 1_000_000, "us": 1000, "µs": 1000, "ns": 1}
MAX_REGEX = 1024


@dataclass(frozen=True)
class Problem:
    """What Istio's webhook says of one field: rejected (an error) or a warning."""

    path: str
    text: str
    hint: str
    warning: bool = False


def integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def dns_label(value: str) -> bool:
    """Istio's DNS-1123 label (upper case allowed), at most 63 characters."""
    return len(value) <= 63 and _DNS_LABEL.fullmatch(value) is not None


def fqdn_problem(value: str) -> str | None:
    """What makes ``value`` no DNS name (``ValidateFQDN``), or None."""
    if not value:
        return "is empty"
    if len(value) > 255:
        return "is longer than 255 characters"
    parts = value.split(".")
    if _NUMERIC.fullmatch(parts[-1]):
        return f"ends with the all-numeric label '{parts[-1]}'"
    for i, part in enumerate(parts):
        if i == len(parts) - 1 and part == "":
            return None
        if not dns_label(part):
            return f"has the label '{part}', which is not a DNS label"
    return None


def domain_problem(value: str) -> str | None:
    """What makes ``value`` no DNS name with an optional wildcard first label
    (``ValidateWildcardDomain``), or None."""
    if not value:
        return "is empty"
    if len(value) > 255:
        return "is longer than 255 characters"
    first, dot, rest = value.partition(".")
    if len(first) > 63 or not _WILD_LABEL.fullmatch(first):
        return f"has the label '{first}', which is not a DNS label"
    return fqdn_problem(rest) if dot else None


def partial_wildcard(value: str) -> bool:
    return "*" in value and value != "*" and not value.startswith("*.")


def duration_problem(value: Any) -> str | None:
    """Istio's rule for durations (at least 1ms, in whole milliseconds); None for values it
    cannot read (MG103 judges the format)."""
    parts = _DURATION.findall(value) if isinstance(value, str) else []
    if not parts or "".join(n + u for n, u in parts) != value:
        return None
    total = sum((Fraction(n) * _UNIT_NS[u] for n, u in parts), Fraction(0))
    if total < _UNIT_NS["ms"]:
        return f"duration {value} is shorter than 1ms"
    if total % _UNIT_NS["ms"]:
        return f"duration {value} is not a whole number of milliseconds"
    return None


def duration(value: Any, path: str) -> Iterator[Problem]:
    found = duration_problem(value)
    if found:
        yield Problem(path, found, "Write a duration of at least 1ms in whole milliseconds, "
                      "e.g. 500ms or 2s.")


def port(value: Any, path: str, what: str = "port") -> Iterator[Problem]:
    number = integer(value)
    if number is not None and not 1 <= number <= 65535:
        yield Problem(path, f"{what} {number} is not in 1..65535",
                      "Use a port number from 1 to 65535, e.g. 80 or 9080.")


def percentage(value: Any, path: str) -> Iterator[Problem]:
    """A ``Percent`` ({value: 0..100}): 0, or from 0.0001 to 100."""
    number = as_dict(value).get("value")
    if isinstance(number, (int, float)) and not isinstance(number, bool) and (
            number < 0 or number > 100 or 0 < number < 0.0001):
        yield Problem(f"{path}.value", f"percentage {number} is not 0 or in 0.0001..100",
                      "Give a share from 0 to 100, e.g. percentage: {value: 10}.")


def labels(value: Any, path: str) -> Iterator[Problem]:
    for found in k8snames.labels(value, path):
        yield Problem(found[0].path, "; ".join(str(v) for v in found), found[0].hint)


def export_to(obj_ns: str, value: Any, path: str, service_entry: bool = False
              ) -> Iterator[Problem]:
    """``exportTo``: '.', '*', namespaces (and '~' for a ServiceEntry), no duplicates, '*'
    alone."""
    given = [e for e in as_list(value) if isinstance(e, str)]
    seen: set[str] = set()
    hint = "Write exportTo: ['.'] (this namespace), ['*'] (every namespace) or namespace names."
    for i, entry in enumerate(given):
        key = obj_ns if entry == "." else entry
        if key in seen:
            yield Problem(f"{path}[{i}]", f"exportTo names '{entry}' twice", hint)
        elif entry == "~" and not service_entry:
            yield Problem(f"{path}[{i}]", "exportTo '~' (no namespace) is allowed only for "
                          "ServiceEntries", hint)
        elif entry not in (".", "*", "~") and not dns_label(entry):
            yield Problem(f"{path}[{i}]", f"exportTo entry '{entry}' is not '.', '*' or a "
                          "namespace name", hint)
        seen.add(key)
    if "*" in given and len(given) > 1:
        yield Problem(path, "exportTo has '*' and other entries", "Write exportTo: ['*'] alone.")
    if "~" in given and len(given) > 1 and service_entry:
        yield Problem(path, "exportTo has '~' (no namespace) and other entries",
                      "Write exportTo: ['~'] alone, or leave '~' out.")


def string_match(cond: Any, path: str, *, prefix_rule: bool = True) -> Iterator[Problem]:
    """An empty prefix or regex, or a regex longer than Envoy takes (``validateStringMatch``;
    ``prefix_rule`` False for ``uri``, whose empty prefix Istio lets pass)."""
    spec = as_dict(cond)
    if prefix_rule and spec.get("prefix") == "":
        yield Problem(f"{path}.prefix", "prefix match is empty",
                      "Give the prefix (e.g. prefix: /api), or use exact or regex.")
    regex = spec.get("regex")
    if regex == "":
        yield Problem(f"{path}.regex", "regex match is empty",
                      "Give a regex (e.g. regex: '.*jason.*'), or leave the condition out.")
    elif isinstance(regex, str) and len(regex) > MAX_REGEX:
        yield Problem(f"{path}.regex", f"regex is longer than {MAX_REGEX} characters",
                      "Shorten the regex, or match with prefix or exact.")


def gateway_names(value: Any, path: str) -> Iterator[Problem]:
    """``gateways`` entries: ``ns/name`` of DNS labels, ``mesh``, or a legacy DNS name."""
    for i, name in enumerate(as_list(value)):
        if not isinstance(name, str):
            continue
        here = f"{path}[{i}]"
        ns, slash, gw = name.partition("/")
        if not slash:
            parts = name.split(".")
            if len(parts) > 1:
                yield Problem(here, f"gateway '{name}' uses the legacy name.namespace form",
                              f"Write it as '{parts[1]}/{parts[0]}'.", warning=True)
            found = fqdn_problem(name)
            if found:
                yield Problem(here, f"gateway name '{name}' {found}", "Name the Gateway by its "
                              "metadata.name, or namespace/name (e.g. istio-system/my-gateway).")
            continue
        for part, what in ((ns, "namespace"), (gw, "name")):
            if not dns_label(part):
                yield Problem(here, f"gateway reference '{name}' has the {what} '{part}', "
                              "which is not a DNS label", "Write namespace/name with the "
                              "Gateway's metadata.namespace and metadata.name.")


def destination(dest: Any, path: str) -> Iterator[Problem]:
    """A route destination: host (not '*'), subset name, port number."""
    spec = as_dict(dest)
    host = spec.get("host")
    if host == "*":
        yield Problem(f"{path}.host", "destination host '*' names no service",
                      "Name the destination's Service, e.g. host: reviews.")
    elif isinstance(host, str):
        found = domain_problem(host)
        if found:
            yield Problem(f"{path}.host", f"destination host '{host}' {found}",
                          "Write the Service's name (reviews) or its FQDN "
                          "(reviews.default.svc.cluster.local), without scheme or port.")
    subset = spec.get("subset")
    if isinstance(subset, str) and not dns_label(subset):
        yield Problem(f"{path}.subset", f"subset name '{subset}' is not a DNS label",
                      "Name subsets with letters, digits and '-', e.g. v1.")
    yield from port(as_dict(spec.get("port")).get("number"), f"{path}.port.number")


def unique_name(name: Any, seen: set[str], path: str, what: str) -> Iterator[Problem]:
    """A subset or port name: a DNS label, not used before in the object (``seen``)."""
    if not isinstance(name, str):
        return
    if name in seen:
        yield Problem(path, f"{what} name '{name}' is used twice",
                      f"Give each {what} its own name (e.g. v1, v2 or http, https).")
    elif not dns_label(name):
        example = "".join(c if c.isalnum() else "-" for c in name).strip("-") or "v1"
        yield Problem(path, f"{what} name '{name}' is not a DNS label",
                      f"Use letters, digits and '-', e.g. '{example}'.")
    seen.add(name)
