"""Writing objects to a running lab through its Kubernetes API (what ``lab apply`` does for
a detached lab), with the client certificate from its kubeconfig."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
import yaml

from .admission import last_applied
from .apiserver.resources import REGISTRY


class ApiClient:
    """A minimal REST client for the lab's API server."""

    def __init__(self, kubeconfig: Path) -> None:
        config = yaml.safe_load(Path(kubeconfig).read_text("utf-8"))
        cluster = config["clusters"][0]["cluster"]
        user = config["users"][0]["user"]
        self.server = cluster["server"].rstrip("/")
        self.session = requests.Session()
        self.session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
        self.session.verify = cluster["certificate-authority"]
        self.session.cert = (user["client-certificate"], user["client-key"])

    def _url(self, obj: dict[str, Any], named: bool) -> str:
        kind, api_version = obj.get("kind", ""), str(obj.get("apiVersion", ""))
        group = api_version.rpartition("/")[0]
        res = next((r for r in REGISTRY if r.kind == kind and r.group == group), None)
        if res is None or not res.writable:
            raise ValueError(f"{kind} {obj.get('metadata', {}).get('name')}: the lab does not "
                             f"take {kind or 'untyped'} objects ({api_version or 'no apiVersion'}"
                             "); see `meshgrade lab --help`")
        meta = obj.get("metadata") or {}
        base = f"{self.server}/{'apis/' + api_version if group else 'api/' + api_version}"
        url = f"{base}/namespaces/{meta.get('namespace') or 'default'}/{res.plural}" \
            if res.namespaced else f"{base}/{res.plural}"
        return f"{url}/{meta.get('name')}" if named else url

    def apply(self, obj: dict[str, Any]) -> str:
        """Create or replace; returns "created" or "configured"."""
        url = self._url(obj, True)
        obj = last_applied(obj)
        current = self.session.get(url, timeout=30)
        if current.status_code == 404:
            self._check(self.session.post(self._url(obj, False), json=obj, timeout=30))
            return "created"
        self._check(current)
        body = dict(obj)
        body["metadata"] = {**(obj.get("metadata") or {}),
                            "resourceVersion": current.json()["metadata"]["resourceVersion"]}
        self._check(self.session.put(url, json=body, timeout=30))
        return "configured"

    def delete(self, obj: dict[str, Any]) -> str:
        response = self.session.delete(self._url(obj, True), timeout=30)
        if response.status_code == 404:
            return "not found"
        self._check(response)
        return "deleted"

    def get(self, path: str) -> Any:
        response = self.session.get(f"{self.server}{path}", timeout=30)
        self._check(response)
        return response.json()

    @staticmethod
    def _check(response: requests.Response) -> None:
        if response.status_code >= 400:
            try:
                message = response.json().get("message", response.text)
            except ValueError:
                message = response.text
            raise RuntimeError(f"API {response.status_code}: {message}")
