"""``meshgrade doctor``: what the credentials may do, and whether an Envoy answers at the
gateway."""

from __future__ import annotations

from kubernetes import client as k8s

from ..submission.kinds import GATEWAY_API_GROUP, ISTIO_GROUP
from .connect import ClusterClient, ClusterError, NotFound
from .gateway import ADVICE, discover_gateway_url, normalise, probe_envoy

Row = tuple[str, bool, str]
READ = (("", "pods"), ("", "services"), ("apps", "deployments"),
        (ISTIO_GROUP, "virtualservices"), (ISTIO_GROUP, "destinationrules"),
        (ISTIO_GROUP, "gateways"), (GATEWAY_API_GROUP, "gateways"),
        (GATEWAY_API_GROUP, "httproutes"))
WRITE = ((ISTIO_GROUP, "virtualservices"), (ISTIO_GROUP, "destinationrules"))
NOT_SERVED = "unknown (not served)"


def access_review(client: ClusterClient, verb: str, group: str, resource: str,
                  namespace: str | None, subresource: str = "") -> bool | None:
    """A SelfSubjectAccessReview: True/False, or None when the API does not serve it."""
    attrs = k8s.V1ResourceAttributes(verb=verb, group=group, resource=resource,
                                     namespace=namespace, subresource=subresource or None)
    body = k8s.V1SelfSubjectAccessReview(
        spec=k8s.V1SelfSubjectAccessReviewSpec(resource_attributes=attrs))
    try:
        doc = client.call(f"access review {verb} {resource}",
                          client.authz.create_self_subject_access_review, body)
    except NotFound:
        return None
    return bool(((doc or {}).get("status") or {}).get("allowed"))


def doctor(client: ClusterClient, namespace: str, gateway_url: str | None = None) -> list[Row]:
    """(what, ok, detail) rows: the API, each permission the grader uses (reads; the
    service proxy; writes for --apply-stages) and the gateway (ok when an Envoy answers)."""
    try:
        version = client.version().get("gitVersion", "?")
    except ClusterError as exc:
        return [("API server", False, str(exc))]
    rows: list[Row] = [("API server", True, f"Kubernetes {version} at {client.host} "
                        f"({client.source})")]
    checks = [(verb, group, res, "") for group, res in READ for verb in ("get", "list", "watch")]
    checks += [("get", "", "services", "proxy")]
    checks += [(verb, group, res, "") for group, res in WRITE
               for verb in ("create", "patch", "delete")]
    served = True
    for verb, group, resource, sub in checks:
        name = f"{verb} {resource}{'/' + sub if sub else ''}{'.' + group if group else ''}"
        what = f"{name} in {namespace}" + (" (--apply-stages)" if verb in
                                           ("create", "patch", "delete") else "")
        if not served:
            rows.append((what, False, NOT_SERVED))
            continue
        try:
            allowed = access_review(client, verb, group, resource, namespace, sub)
        except ClusterError as exc:
            rows.append((what, False, f"review failed: {exc}"))
            continue
        served = allowed is not None
        rows.append((what, bool(allowed), NOT_SERVED if allowed is None else
                     "allowed" if allowed else "denied"))
    if gateway_url:
        url = normalise(gateway_url)
        ok, what = probe_envoy(url)
        rows.append(("gateway answers", ok, f"{url} (given)" if ok else
                     f"{url} (given): {what}; {ADVICE}"))
        return rows
    try:
        url, tried = discover_gateway_url(client, namespace)
        rows.append(("gateway answers", True, tried[-1]))
    except ClusterError as exc:
        rows.append(("gateway answers", False, str(exc)))
    return rows
