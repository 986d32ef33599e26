"""TLS material for the lab API server and a minikube-style kubeconfig."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme
import yaml


@dataclass(frozen=True)
class Pki:
    """Paths of the CA, the server pair and the client pair."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def server_context(self) -> ssl.SSLContext:
        """A server context that requires a client certificate signed by the CA."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.server_cert, self.server_key)
        ctx.load_verify_locations(cafile=str(self.ca))
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx


def _write(path: Path, data: bytes, private: bool = False) -> Path:
    path.write_bytes(data)
    if private:
        os.chmod(path, 0o600)
    return path


def make_pki(folder: Path) -> Pki:
    """A fresh CA, a server certificate for 127.0.0.1/localhost and an admin client cert."""
    folder.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="meshgrade lab")
    server = ca.issue_cert("127.0.0.1", "localhost", common_name="meshgrade-lab-apiserver")
    client = ca.issue_cert("meshgrade-admin", common_name="meshgrade-admin",
                           organization_name="system:masters")
    return Pki(
        ca=_write(folder / "ca.crt", ca.cert_pem.bytes()),
        server_cert=_write(folder / "apiserver.crt",
                           b"".join(p.bytes() for p in server.cert_chain_pems)),
        server_key=_write(folder / "apiserver.key", server.private_key_pem.bytes(), True),
        client_cert=_write(folder / "client.crt", client.cert_chain_pems[0].bytes()),
        client_key=_write(folder / "client.key", client.private_key_pem.bytes(), True),
    )


def write_kubeconfig(path: Path, server_url: str, pki: Pki, cluster_name: str,
                     namespace: str = "default") -> Path:
    """A kubeconfig like minikube's: CA file, server URL, client cert/key files."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {
            "certificate-authority": str(pki.ca), "server": server_url}}],
        "contexts": [{"name": cluster_name, "context": {
            "cluster": cluster_name, "namespace": namespace, "user": cluster_name}}],
        "current-context": cluster_name,
        "preferences": {},
        "users": [{"name": cluster_name, "user": {
            "client-certificate": str(pki.client_cert), "client-key": str(pki.client_key)}}],
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    os.chmod(path, 0o600)
    return path
