"""The one explicit registry of checks, sorted by ID.

Every catalogue ID appears here with its function, named as ``"module.function"`` of
``meshgrade.analyzers`` (None would mark a pending check): a module is imported when one of
its checks first runs, so listing the catalogue imports no analyzer.
Meta-tests keep this list and the catalogue in step.
"""

from __future__ import annotations

from functools import lru_cache

from . import catalogue
from .check import Check

# "module.function" in meshgrade.analyzers, imported when the check first runs
_FUNCTIONS: dict[str, str | None] = {
    "MG101": "files.yaml_parses",
    "MG102": "files.objects_well_formed",
    "MG103": "files.schema_valid",
    "MG104": "files.api_versions_current",
    "MG111": "workloads.deployment_selector",
    "MG112": "workloads.service_selects_pods",
    "MG113": "workloads.version_labels",
    "MG114": "workloads.service_port_protocol",
    "MG115": "serviceports.workload_services_agree",
    "MG116": "serviceports.externalname_port_names",
    "MG121": "references.vs_host_resolves",
    "MG122": "references.subset_defined",
    "MG123": "references.subset_selects_pods",
    "MG124": "references.dr_host_resolves",
    "MG125": "references.gateway_resolves",
    "MG126": "references.gateway_routed",
    "MG127": "references.routes_reachable",
    "MG128": "references.weights_valid",
    "MG129": "references.single_vs_per_host",
    "MG130": "references.namespaces_consistent",
    "MG131": "webhook.istio_accepts",
    "MG132": "deprecated.no_deprecated_fields",
    "MG133": "gateways.vs_hosts_in_gateway",
    "MG134": "gateways.gateway_ports_exposed",
    "MG135": "gateways.gateways_distinct",
    "MG136": "matches.matches_effective",
    "MG137": "destinations.destination_ports_chosen",
    "MG138": "destinations.ingress_subsets_chosen",
    "MG201": "bookinfo.bookinfo_gateway",
    "MG202": "bookinfo.bookinfo_subsets",
    "MG203": "bookinfo.route_all_v1",
    "MG204": "bookinfo.route_jason_v2",
    "MG205": "bookinfo.shift_50_v3",
    "MG206": "bookinfo.shift_100_v3",
    "MG211": "app.app_two_versions",
    "MG212": "app.app_subsets",
    "MG213": "app.app_exposed",
    "MG214": "app.app_header_route",
    "MG215": "app.app_weighted_route",
    "MG301": "clusterstate.cluster_reachable",
    "MG302": "clusterstate.istio_control_plane",
    "MG303": "clusterstate.ingress_ready",
    "MG304": "clusterstate.injection_enabled",
    "MG305": "clusterstate.bookinfo_running",
    "MG306": "clusterstate.sidecars_injected",
    "MG307": "clusterstate.kiali_running",
    "MG308": "clusterstate.app_running",
    "MG309": "clusterstate.cluster_matches_repo",
    "MG401": "traffic.productpage_reachable",
    "MG402": "traffic.routing_observed",
    "MG403": "traffic.all_v1_observed",
    "MG404": "traffic.jason_v2_observed",
    "MG405": "traffic.shift_50_observed",
    "MG406": "traffic.shift_100_observed",
    "MG411": "apptraffic.app_reachable",
    "MG412": "apptraffic.app_header_observed",
    "MG413": "apptraffic.app_weights_observed",
}


@lru_cache(maxsize=1)
def checks() -> dict[str, Check]:
    """Every check by ID, in ID order."""
    entries = catalogue.entries()
    missing = set(entries) ^ set(_FUNCTIONS)
    if missing:
        raise RuntimeError(f"registry and catalogue disagree on {sorted(missing)}")
    return {cid: Check(entries[cid], _FUNCTIONS[cid]) for cid in sorted(entries)}


def get(check_id: str) -> Check:
    return checks()[check_id]


def groups() -> dict[str, list[Check]]:
    """Checks by group: MG1 (files, workloads, references), MG2, MG3, MG4."""
    out: dict[str, list[Check]] = {}
    for c in checks().values():
        out.setdefault(c.group, []).append(c)
    return out
