"""Connecting to a cluster: a kubeconfig (checked before use) or in-cluster config, and a
small client that returns plain dicts and turns API failures into ClusterError."""

from __future__ import annotations

import base64
import builtins
import copy
import json
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import urllib3
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from ..submission.kinds import ROUTING_KINDS, Kind, kind_key, lookup, routing_kinds
from .errors import ClusterError, Forbidden, NotFound, Unreachable
from .read import clean
from .reader import Manifest

__all__ = ["ClusterClient", "ClusterError", "Forbidden", "NotFound", "Unreachable", "connect",
           "read_bounded"]

SA_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
MAX_REFERENCED_BYTES = 1024 * 1024  # a certificate, key or token: far less than this
MAX_KUBECONFIG_BYTES = 8 * MAX_REFERENCED_BYTES
# each file field of a kubeconfig entry, and the inline field that replaces it
_FILE_FIELDS = {"cluster": {"certificate-authority": "certificate-authority-data"},
                "user": {"client-certificate": "client-certificate-data",
                         "client-key": "client-key-data", "tokenFile": "token"}}
TRUST_HINT = "pass --trust-kubeconfig only for a kubeconfig you trust"


def connect(kubeconfig: str | None = None, context: str | None = None, *,
            allow_exec: bool = False, trust: bool = False,
            timeout_s: float = 10.0) -> ClusterClient:
    """A client for the kubeconfig given, else $KUBECONFIG, else ~/.kube/config, else the
    pod's service account. A selected user with ``exec`` or ``auth-provider`` is refused
    unless ``allow_exec``: a student's kubeconfig must not run commands. A kubeconfig given
    here is untrusted unless ``trust``: its files must lie in its own folder and a
    ``proxy-url`` is refused. Files are always read here, bounded, never by the client."""
    env = os.environ.get("KUBECONFIG", "")
    if kubeconfig:
        paths, how = [Path(kubeconfig).expanduser()], "--kubeconfig"
    elif env.strip():
        paths, how = [Path(p).expanduser() for p in env.split(os.pathsep) if p], "$KUBECONFIG"
    else:
        paths, how = [Path("~/.kube/config").expanduser()], "default location"
    found, tried = [p for p in paths if p.is_file()], ", ".join(str(p) for p in paths)
    cfg, name, namespace = k8s.Configuration(), None, None
    if found:
        merged, origins = _merge(found)
        name = _select(merged, context, allow_exec, tried)
        _inline_files(merged, name, origins, checked=bool(kubeconfig) and not trust)
        try:  # from the checked dict: the client never reads the file itself
            k8s_config.load_kube_config_from_dict(merged, context=name, client_configuration=cfg,
                                                  persist_config=False)
        except (ConfigException, KeyError, ValueError, TypeError, AttributeError,
                OSError) as exc:
            raise ClusterError(f"kubeconfig {tried}, context {name!r}: {exc}") from None
        source = f"kubeconfig {tried} (context {name})"
        namespace = next(c["context"].get("namespace") for c in merged["contexts"]
                         if c.get("name") == name)
    elif kubeconfig or context or not (os.environ.get("KUBERNETES_SERVICE_HOST")
                                       and SA_TOKEN.is_file()):
        raise ClusterError(f"no kubeconfig: tried {tried} ({how}); not in a pod either "
                           "(no KUBERNETES_SERVICE_HOST or service-account token)")
    else:
        try:
            k8s_config.load_incluster_config(client_configuration=cfg)
        except ConfigException as exc:
            raise ClusterError(f"in-cluster config failed: {exc}") from None
        source = "in-cluster service account"
    cfg.retries = 1
    try:  # e.g. a proxy-url that is not a URL
        api = k8s.ApiClient(cfg)
    except (ValueError, TypeError, AttributeError, urllib3.exceptions.HTTPError) as exc:
        raise ClusterError(f"{source}: the client cannot be set up: {exc}") from None
    return ClusterClient(api, timeout_s=timeout_s, source=source, context=name,
                         default_namespace=namespace or "default")


def _merge(paths: list[Path]) -> tuple[dict[str, Any], dict[tuple[str, str], Path]]:
    """kubectl's merge: the first current-context and the first entry of each name win.
    Also the file each cluster and user entry came from, keyed by (``cluster``|``user``,
    name): its relative file paths resolve against that file's folder."""
    merged: dict[str, Any] = {"clusters": [], "contexts": [], "users": [],
                              "current-context": None}
    origins: dict[tuple[str, str], Path] = {}
    for path in paths:
        try:
            text = read_bounded(path, MAX_KUBECONFIG_BYTES).decode("utf-8")
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:  # not str(exc): it quotes the line, maybe a token
            mark = getattr(exc, "problem_mark", None)
            at = f" at line {mark.line + 1}" if mark is not None else ""
            raise ClusterError(f"kubeconfig {path} is not valid YAML{at}: "
                               f"{getattr(exc, 'problem', None) or type(exc).__name__}") from None
        except (ClusterError, UnicodeDecodeError) as exc:
            raise ClusterError(f"kubeconfig {path} cannot be read: {exc}") from None
        if not isinstance(data, dict):
            raise ClusterError(f"kubeconfig {path} is not a mapping")
        merged["current-context"] = merged["current-context"] or data.get("current-context")
        for section, inner in (("clusters", "cluster"), ("contexts", "context"),
                               ("users", "user")):
            seen = {e["name"] for e in merged[section]}
            for entry in data.get(section) or []:
                if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) \
                        or entry["name"] in seen or not isinstance(entry.get(inner), dict):
                    continue
                merged[section].append(copy.deepcopy(entry))
                origins[(inner, entry["name"])] = path
    return merged, origins


def _select(merged: dict[str, Any], context: str | None, allow_exec: bool, tried: str) -> str:
    """The context to use, after refusing a user that would run a command."""
    name = context or merged["current-context"]
    available = ", ".join(str(c["name"]) for c in merged["contexts"]) or "none"
    ctx = next((c for c in merged["contexts"] if c["name"] == name), None)
    if ctx is None:
        raise ClusterError(f"context {name!r} not found in kubeconfig {tried} (available: "
                           f"{available})" if name else f"kubeconfig {tried} has no "
                           f"current-context; pass a context (available: {available})")
    user_name = ctx["context"].get("user")
    user: dict[str, Any] = next((u["user"] for u in merged["users"] if u["name"] == user_name),
                                {})
    plugins = [k for k in ("exec", "auth-provider") if k in user]
    if plugins and not allow_exec:
        raise ClusterError(f"kubeconfig {tried}: user {user_name!r} of context {name!r} uses "
                           f"{' and '.join(plugins)} (runs a command or login plugin); refused. "
                           "Allow it only for a kubeconfig you trust (--allow-kubeconfig-exec)")
    return str(name)


def _inline_files(merged: dict[str, Any], name: str, origins: dict[tuple[str, str], Path], *,
                  checked: bool) -> None:
    """Replace the file fields of the context's cluster and user by inline data read here,
    bounded, so the client opens no path; a non-empty inline field wins and its file is not
    read (as in client-go). When ``checked`` (an untrusted kubeconfig), a file must lie in the
    kubeconfig's own folder and a ``proxy-url`` is refused. Messages never quote content."""
    ctx = next(c["context"] for c in merged["contexts"] if c["name"] == name)
    for inner in ("cluster", "user"):
        entry_name = ctx.get(inner)
        entry = next((e[inner] for e in merged[f"{inner}s"] if e["name"] == entry_name), None)
        if entry is None:
            continue  # the client names what is missing
        source = origins[(inner, entry_name)]
        where = f"kubeconfig {source}: {inner} {entry_name!r} of context {name!r}"
        if checked and entry.get("proxy-url"):
            raise ClusterError(f"{where}: proxy-url refused: an untrusted kubeconfig must not "
                               f"send the requests through a proxy of its choice; {TRUST_HINT}")
        for key, data_key in _FILE_FIELDS[inner].items():
            value = entry.pop(key, None)
            if entry.get(data_key) or value in (None, ""):
                continue
            if not isinstance(value, str) or "\0" in value:
                raise ClusterError(f"{where}: {key} is not a file path")
            # the path is not quoted: a token pasted into tokenFile would be
            data = _read_referenced(source, value, checked, f"{where}: {key}")
            if key != "tokenFile":
                entry[data_key] = base64.standard_b64encode(data).decode("ascii")
                continue
            try:  # client-go trims the token file's surrounding whitespace
                entry[data_key] = data.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise ClusterError(f"{where}: {key} is not UTF-8 text") from None
        token = entry.get("token") if inner == "user" else None
        if isinstance(token, str) and not (token.isascii() and token.isprintable()):
            raise ClusterError(f"{where}: token refused: it has a line break, control or "
                               "non-ASCII character inside")


def _read_referenced(source: Path, value: str, checked: bool, what: str) -> bytes:
    """A file a kubeconfig names, relative to the kubeconfig's folder; when ``checked``, it
    must resolve (links followed) inside the folder of the kubeconfig file itself."""
    path = Path(os.path.realpath(source.parent / Path(value).expanduser()))
    folder = Path(os.path.realpath(source)).parent
    if checked and not path.is_relative_to(folder):
        raise ClusterError(f"{what} is outside the kubeconfig's folder {folder} (links "
                           f"followed): refused for a kubeconfig given with --kubeconfig; "
                           f"{TRUST_HINT}, or put the file beside it")
    try:
        return read_bounded(path, MAX_REFERENCED_BYTES)
    except ClusterError as exc:
        raise ClusterError(f"{what}: {exc}; refused") from None


def read_bounded(path: Path, limit: int) -> bytes:
    """A regular file's bytes, at most ``limit``; ClusterError (without the content) for a
    device, FIFO, folder, larger or unreadable file: those are not opened, or (if swapped in
    meanwhile) opened without blocking and not read."""
    not_regular = ClusterError("not a regular file (a device, FIFO or folder): not read")
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise not_regular
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
                     | getattr(os, "O_NOCTTY", 0))
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise not_regular
            data = handle.read(limit + 1)
    except OSError as exc:
        raise ClusterError(f"cannot be read ({exc.strerror or type(exc).__name__})") from None
    if len(data) > limit:
        raise ClusterError(f"larger than {limit / 2**20:g} MiB: not read")
    return data


class ClusterClient:
    """The Kubernetes API as the grader needs it: reads as plain dicts, the service proxy,
    and (for --apply-stages) writes of routing objects. Every call has a timeout."""

    def __init__(self, api_client: k8s.ApiClient, *, timeout_s: float = 10.0, source: str = "",
                 context: str | None = None, default_namespace: str = "default") -> None:
        self.api_client, self.timeout_s = api_client, timeout_s
        self.source, self.context, self.default_namespace = source, context, default_namespace
        a = api_client
        self.core, self.apps, self.custom = k8s.CoreV1Api(a), k8s.AppsV1Api(a), \
            k8s.CustomObjectsApi(a)
        self.authz, self.version_api = k8s.AuthorizationV1Api(a), k8s.VersionApi(a)
        self.ext, self.apis = k8s.ApiextensionsV1Api(a), k8s.ApisApi(a)
        self._groups: dict[str, list[str]] | None = None
        self._resources: dict[tuple[str, str], set[str]] = {}

    @property
    def host(self) -> str:
        return str(self.api_client.configuration.host)

    def close(self) -> None:
        self.api_client.close()

    @contextmanager
    def errors(self, what: str) -> Iterator[None]:
        """Turn API exceptions inside the block into ClusterError subclasses."""
        try:
            yield
        except ApiException as exc:
            status = int(exc.status or 0)
            try:
                detail = json.loads(exc.body or "{}").get("message") or exc.reason
            except (ValueError, AttributeError):
                detail = exc.reason
            if not status:
                raise Unreachable(f"{what}: no answer from {self.host}: {detail}") from None
            cls = {401: Forbidden, 403: Forbidden, 404: NotFound}.get(status, ClusterError)
            raise cls(f"{what}: {status} {detail}") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise Unreachable(f"{what}: no answer from the API server at {self.host} "
                              f"({self.source}): {getattr(exc, 'reason', None) or exc}") from None

    def call(self, what: str, fn: Any, *args: Any) -> Any:
        """A typed-API call with the timeout, its JSON answer as plain data."""
        with self.errors(what):
            resp = fn(*args, _preload_content=False, _request_timeout=self.timeout_s)
            try:
                return json.loads(resp.data or b"null")
            except ValueError as exc:
                raise ClusterError(f"{what}: the answer is not JSON: {exc}") from None

    # -- reads --------------------------------------------------------------------------
    def version(self) -> Manifest:
        """The API server's /version answer (gitVersion, major, minor, platform...)."""
        what = f"reading /version of {self.host}"  # VersionApi asks /version/: not every
        status, data = self.raw_get(what, "/version")  # server (the lab) serves that
        try:
            doc = json.loads(data)
        except ValueError:
            doc = None
        if status != 200 or not isinstance(doc, dict):
            raise ClusterError(f"{what}: {status} {data[:200].decode('utf-8', 'replace')}")
        return doc

    def served_version(self, kind: str) -> str | None:
        """The first version of a kind's preference order that the cluster serves; None
        when its CRD is missing. Built-in kinds are assumed served."""
        k = lookup(kind)
        if k.api:
            return k.versions[0]
        if self._groups is None:
            doc = self.call("listing API groups", self.apis.get_api_versions) or {}
            self._groups = {g.get("name"): [v.get("version") for v in g.get("versions", [])]
                            for g in doc.get("groups", [])}
        for version in (v for v in k.versions if v in self._groups.get(k.group, [])):
            if (k.group, version) not in self._resources:
                try:
                    doc = self.call(f"discovery of {k.group}/{version}",
                                    self.custom.get_api_resources, k.group, version) or {}
                except NotFound:
                    doc = {}
                self._resources[(k.group, version)] = {r.get("name") for r in
                                                       doc.get("resources", [])}
            if k.plural in self._resources[(k.group, version)]:
                return version
        return None

    def list(self, kind: str, namespace: str | None = None) -> builtins.list[Manifest]:
        """Objects of a kind key (``Pod``, ``VirtualService``,
        ``Gateway.gateway.networking.k8s.io``...) in a namespace or all; [] if not served."""
        doc = self._read(kind, namespace, None)
        return [i for i in (doc or {}).get("items") or [] if isinstance(i, dict)]

    def get(self, kind: str, name: str, namespace: str | None = None) -> Manifest | None:
        """One object; None when it or its kind does not exist."""
        doc = self._read(kind, namespace or self.default_namespace, name)
        return doc if isinstance(doc, dict) else None

    def _read(self, kind: str, namespace: str | None, name: str | None) -> Any:
        k, version = lookup(kind), self.served_version(kind)
        if version is None:
            return None
        ns = namespace if k.namespaced else None
        fn, args = self._method(k, version, ns, name)
        try:
            doc = self.call(f"reading {k.plural} {ns or ''}{'/' + name if name else ''}", fn,
                            *args)
        except NotFound:
            return None
        for item in [doc] if name else (doc or {}).get("items") or []:
            if isinstance(item, dict):  # list items of built-in kinds carry neither
                item.setdefault("apiVersion", k.api_version(version))
                item.setdefault("kind", k.kind)
        return doc

    def _method(self, k: Kind, version: str, ns: str | None,
                name: str | None) -> tuple[Any, tuple[Any, ...]]:
        if not k.api:
            scope = "namespaced" if ns else "cluster"
            args = (k.group, version, *((ns,) if ns else ()), k.plural)
            if name is None:
                return getattr(self.custom, f"list_{scope}_custom_object"), args
            return getattr(self.custom, f"get_{scope}_custom_object"), (*args, name)
        api, snake = getattr(self, k.api), k.snake
        if name is not None:
            return (getattr(api, f"read_namespaced_{snake}"), (name, ns)) if ns else \
                (getattr(api, f"read_{snake}"), (name,))
        if ns:
            return getattr(api, f"list_namespaced_{snake}"), (ns,)
        return getattr(api, f"list_{snake}_for_all_namespaces" if k.namespaced
                       else f"list_{snake}"), ()

    def raw_get(self, what: str, path: str, params: dict[str, str] | None = None
                ) -> tuple[int, bytes]:
        """GET any API path (already quoted): (status, body); only transport errors and a
        401/403 raise."""
        api, query, headers = self.api_client, list((params or {}).items()), {"Accept": "*/*"}
        with self.errors(what):
            if hasattr(api, "param_serialize"):  # openapi-generator 7 clients
                req = api.param_serialize(method="GET", resource_path=path, query_params=query,
                                          header_params=headers, auth_settings=["BearerToken"])
                resp = api.call_api(*req, _request_timeout=self.timeout_s)
                status, data = int(resp.status), resp.read() or b""
            else:  # older clients raise on non-2xx
                legacy: Any = api  # openapi-generator 6 (kubernetes<34): another signature
                try:
                    resp = legacy.call_api(path, "GET", query_params=query, header_params=headers,
                                        auth_settings=["BearerToken"], _preload_content=False,
                                        _return_http_data_only=True,
                                        _request_timeout=self.timeout_s)
                    status, data = int(resp.status), resp.data or b""
                except ApiException as exc:
                    if not exc.status:
                        raise
                    status, data = int(exc.status), str(exc.body or "").encode()
        if status in (401, 403):
            raise Forbidden(f"{what}: {status} {data[:200].decode('utf-8', 'replace')}")
        return status, data

    def proxy_get(self, namespace: str, service: str, port: str | int, path: str,
                  params: dict[str, str] | None = None) -> tuple[int, str]:
        """GET through the API server's service proxy: (status, body). The API's own 401/403
        raise Forbidden; any other status is the caller's to judge."""
        url = (f"/api/v1/namespaces/{quote(namespace, safe='')}/services/"
               f"{quote(f'{service}:{port}', safe=':')}/proxy/{quote(path.lstrip('/'), safe='/')}")
        status, data = self.raw_get(f"GET {path} on service {namespace}/{service}:{port} "
                                    "(API proxy)", url, params)
        return status, data.decode("utf-8", "replace")

    # -- writes (--apply-stages) --------------------------------------------------------
    def _target(self, obj: Manifest, namespace: str | None) -> tuple[Kind, str, str, str]:
        """(kind, served version, namespace, name) of a routing object, or ClusterError."""
        key, meta = kind_key(obj), obj.get("metadata") or {}
        ns = meta.get("namespace") or namespace or self.default_namespace
        name, version = str(meta.get("name") or ""), None
        if key in ROUTING_KINDS:
            version = self.served_version(key)
            asked = str(obj.get("apiVersion", "")).rpartition("/")[2]
            if lookup(key).plural in self._resources.get((lookup(key).group, asked), ()):
                version = asked
        if version is None or not name:
            raise ClusterError(f"cannot write {key or '?'} {ns}/{name or '?'}: only named "
                               f"{', '.join(sorted(ROUTING_KINDS))} of served versions")
        return lookup(key), version, ns, name

    def apply(self, obj: Manifest, namespace: str | None = None) -> Manifest:
        """Create or replace a routing object (at its own version when served)."""
        k, version, ns, name = self._target(obj, namespace)
        body = clean(obj)
        body["apiVersion"], body["metadata"]["namespace"] = k.api_version(version), ns
        current = self.get(k.key, name, ns)
        with self.errors(f"applying {k.key} {ns}/{name}"):
            if current is None:
                return _manifest(self.custom.create_namespaced_custom_object(
                    k.group, version, ns, k.plural, body, _request_timeout=self.timeout_s))
            body["metadata"]["resourceVersion"] = current["metadata"].get("resourceVersion")
            return _manifest(self.custom.replace_namespaced_custom_object(
                k.group, version, ns, k.plural, name, body, _request_timeout=self.timeout_s))

    def delete(self, obj: Manifest, namespace: str | None = None) -> bool:
        """Delete a routing object; False when it was not there."""
        k, version, ns, name = self._target(obj, namespace)
        try:
            with self.errors(f"deleting {k.key} {ns}/{name}"):
                self.custom.delete_namespaced_custom_object(k.group, version, ns, k.plural, name,
                                                            _request_timeout=self.timeout_s)
        except NotFound:
            return False
        return True

    def snapshot(self, kinds: Iterable[str], namespace: str) -> builtins.list[Manifest]:
        """The routing objects of ``kinds`` in a namespace, cleaned for re-creation
        (``Gateway`` means Istio's and the Gateway API's)."""
        return [clean(o) for key in routing_kinds(kinds) for o in self.list(key, namespace)]

    def restore(self, snapshot: builtins.list[Manifest], namespace: str,
                kinds: Iterable[str] | None = None) -> builtins.list[str]:
        """Make the routing objects of ``kinds`` (default: all routing kinds) in a namespace
        equal to the snapshot: delete extras, create or replace the rest. Returns what it
        did, e.g. ``["deleted VirtualService default/reviews"]``."""
        selected = routing_kinds(kinds)
        done: builtins.list[str] = []
        failed: builtins.list[str] = []
        wanted = {(kind_key(o), o["metadata"]["name"]): o for o in snapshot
                  if kind_key(o) in selected}

        def act(verb: str, key: str, name: str, fn: Callable[[Manifest, str], object],
                obj: Manifest) -> None:
            try:  # keep going: restore as much as possible, then report what failed
                fn(obj, namespace)
                done.append(f"{verb} {key} {namespace}/{name}")
            except ClusterError as exc:
                failed.append(str(exc))

        for key in selected:
            for current in self.list(key, namespace):
                name = current["metadata"]["name"]
                target = wanted.pop((key, name), None)
                if target is None:
                    act("deleted", key, name, self.delete, current)
                elif _view(current) != _view(target):
                    act("replaced", key, name, self.apply, target)
        for (key, name), obj in wanted.items():
            act("created", key, name, self.apply, obj)
        if failed:
            raise ClusterError(f"restore of {namespace} incomplete: {'; '.join(failed)} "
                               f"(done: {', '.join(done) or 'nothing'})")
        return done


def _manifest(answer: object) -> Manifest:
    """A write's answer (the object as stored) as plain data."""
    return dict(answer) if isinstance(answer, dict) else {}


def _view(obj: Manifest) -> Any:
    """What a write sets: everything but metadata, plus labels and annotations."""
    c = clean(obj)
    meta = c.get("metadata") or {}
    return ({k: v for k, v in c.items() if k not in ("metadata", "apiVersion")},
            meta.get("labels") or {}, meta.get("annotations") or {})
