"""Where Istio's documented installs put istiod, the ingress gateway and Kiali, told by their
labels and owners rather than by namespace:

- istioctl (demo profile): Deployments ``istiod`` and ``istio-ingressgateway`` (labels
  ``app: istio-ingressgateway``, ``istio: ingressgateway``) in istio-system;
- Helm: ``helm install istiod istio/istiod`` (``app: istiod``, ``istio.io/rev``; named
  ``istiod-<rev>`` when revisioned) and ``helm install istio-ingress istio/gateway -n
  istio-ingress`` (Deployment and Service named after the release, labels ``app: <release>``
  and ``istio: <release without istio->``; pods injected with the ``gateway`` template);
- Gateway API: Istio deploys ``<gateway>-istio`` labelled
  ``gateway.networking.k8s.io/gateway-name`` and owned by the Gateway (a waypoint, labelled
  ``gateway.istio.io/managed: istio.io-mesh-controller``, is no ingress);
- Kiali: ``samples/addons/kiali.yaml``, the kiali-server chart or the Kiali operator:
  ``app.kubernetes.io/name: kiali`` (the addon and the chart also ``app: kiali``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .kinds import GATEWAY_API_GROUP
from .objects import KObject, as_list, selects, str_map

GATEWAY_NAME_LABELS = ("gateway.networking.k8s.io/gateway-name", "istio.io/gateway-name")
#: Where the docs install things; looked in when Deployments cannot be listed everywhere.
DOCUMENTED_NAMESPACES = ("istio-system", "istio-ingress")
CLASSIC_INGRESS = ("istio-system", "istio-ingressgateway")
INGRESS_ISTIO_LABELS = frozenset({"ingressgateway", "ingress"})
WAYPOINT = ("gateway.istio.io/managed", "istio.io-mesh-controller")


def _template(dep: KObject) -> dict[str, Any]:
    template = dep.spec.get("template")
    return template if isinstance(template, dict) else {}


def labels_of(dep: KObject) -> dict[str, str]:
    """A Deployment's labels over its pod template's."""
    meta = _template(dep).get("metadata")
    return {**str_map(meta.get("labels") if isinstance(meta, dict) else None), **dep.labels}


def _injected_as_gateway(dep: KObject) -> bool:
    """Pods the injector fills with its ``gateway`` template (the gateway chart's)."""
    meta = _template(dep).get("metadata")
    marks = [m.get("inject.istio.io/templates") for m in (
        (meta.get("annotations"), meta.get("labels")) if isinstance(meta, dict) else ())
        if isinstance(m, dict)]
    return "gateway" in marks


def is_istiod(dep: KObject) -> bool:
    """istiod, revisioned or not, as istioctl or the istiod chart installs it."""
    return labels_of(dep).get("app") == "istiod" or dep.name == "istiod" \
        or dep.name.startswith("istiod-")


def ingress_form(dep: KObject) -> str | None:
    """``"gateway-api"`` for a Deployment Istio made for a Gateway API Gateway, ``"istio"``
    for an ingress gateway from istioctl or the gateway chart, else None (egress, east-west,
    waypoint, anything else)."""
    labels = labels_of(dep)
    owned = any(isinstance(o, dict) and o.get("kind") == "Gateway"
                and str(o.get("apiVersion", "")).startswith(GATEWAY_API_GROUP + "/")
                for o in as_list(dep.metadata.get("ownerReferences")))
    if owned or any(k in labels for k in GATEWAY_NAME_LABELS):
        return None if labels.get(WAYPOINT[0]) == WAYPOINT[1] else "gateway-api"
    istio = labels.get("istio", "")
    if istio in INGRESS_ISTIO_LABELS or dep.name == CLASSIC_INGRESS[1]:
        return "istio"
    other = "egress" in istio or "egress" in dep.name or "eastwest" in istio \
        or "topology.istio.io/network" in labels
    return "istio" if _injected_as_gateway(dep) and not other else None


def is_kiali(dep: KObject) -> bool:
    """Kiali's server (not the Kiali operator)."""
    labels = labels_of(dep)
    return labels.get("app.kubernetes.io/name", labels.get("app")) == "kiali" \
        or (dep.name == "kiali" and not labels.get("app.kubernetes.io/name"))


def installed(dep: KObject) -> bool:
    """istiod, an ingress gateway or Kiali."""
    return is_istiod(dep) or ingress_form(dep) is not None or is_kiali(dep)


def service_for(dep: KObject, services: Iterable[KObject]) -> KObject | None:
    """The Service of a Deployment: the one of its name in its namespace, else one whose
    selector selects its pods."""
    mine = [s for s in services if s.namespace == dep.namespace]
    pods = labels_of(dep)
    return next((s for s in mine if s.name == dep.name), None) or next(
        (s for s in mine if selects(str_map(s.spec.get("selector")), pods)), None)


def ingress_order(dep: KObject) -> tuple[int, str, str]:
    """Sort key: the classic gateway first, then other Istio ingresses, then Gateway API."""
    first = (dep.namespace, dep.name) == CLASSIC_INGRESS
    return (0 if first else 1 if ingress_form(dep) == "istio" else 2, dep.namespace, dep.name)
