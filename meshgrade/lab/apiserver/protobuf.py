"""Reading the protobuf bodies kubectl's typed clients send (``kubectl create namespace``,
``deployment``, ``configmap``, ``secret``, ``serviceaccount``, ``service``), as JSON objects.

Only the fields those commands set are known (field numbers of Kubernetes' ``generated.proto``
for the kinds involved); others are skipped. Replies stay JSON, which clients accept."""

from __future__ import annotations

import base64
from typing import Any

MAGIC = b"k8s\x00"

# Field tables: number -> (JSON name, type). Types: s string, i integer, b bool, y bytes,
# ms / my map of string / bytes, rs repeated string, io IntOrString, M:X message X,
# R:X repeated message X, I:X message X inlined into its parent.
_META = {1: ("name", "s"), 2: ("generateName", "s"), 3: ("namespace", "s"),
         11: ("labels", "ms"), 12: ("annotations", "ms"), 13: ("ownerReferences", "R:Owner"),
         14: ("finalizers", "rs")}
_REF = {1: ("name", "s")}
_KEY = {1: ("", "I:Ref"), 2: ("key", "s"), 3: ("optional", "b")}
SCHEMA: dict[str, dict[int, tuple[str, str]]] = {
    "Meta": _META,
    "Owner": {1: ("kind", "s"), 3: ("name", "s"), 4: ("uid", "s"), 5: ("apiVersion", "s"),
              6: ("controller", "b"), 7: ("blockOwnerDeletion", "b")},
    "Ref": _REF,
    "ObjectRef": {1: ("kind", "s"), 2: ("namespace", "s"), 3: ("name", "s"),
                  5: ("apiVersion", "s")},
    "Namespace": {1: ("metadata", "M:Meta"), 2: ("spec", "M:NamespaceSpec")},
    "NamespaceSpec": {1: ("finalizers", "rs")},
    "ConfigMap": {1: ("metadata", "M:Meta"), 2: ("data", "ms"), 3: ("binaryData", "my"),
                  4: ("immutable", "b")},
    "Secret": {1: ("metadata", "M:Meta"), 2: ("data", "my"), 3: ("type", "s"),
               4: ("stringData", "ms"), 5: ("immutable", "b")},
    "ServiceAccount": {1: ("metadata", "M:Meta"), 2: ("secrets", "R:ObjectRef"),
                       3: ("imagePullSecrets", "R:Ref"),
                       4: ("automountServiceAccountToken", "b")},
    "Service": {1: ("metadata", "M:Meta"), 2: ("spec", "M:ServiceSpec")},
    "ServiceSpec": {1: ("ports", "R:ServicePort"), 2: ("selector", "ms"), 3: ("clusterIP", "s"),
                    4: ("type", "s"), 5: ("externalIPs", "rs"), 7: ("sessionAffinity", "s"),
                    10: ("externalName", "s"), 11: ("externalTrafficPolicy", "s")},
    "ServicePort": {1: ("name", "s"), 2: ("protocol", "s"), 3: ("port", "i"),
                    4: ("targetPort", "io"), 5: ("nodePort", "i"), 6: ("appProtocol", "s")},
    "Deployment": {1: ("metadata", "M:Meta"), 2: ("spec", "M:DeploymentSpec")},
    "DeploymentSpec": {1: ("replicas", "i"), 2: ("selector", "M:Selector"),
                       3: ("template", "M:Template"), 4: ("strategy", "M:Strategy"),
                       5: ("minReadySeconds", "i"), 6: ("revisionHistoryLimit", "i"),
                       7: ("paused", "b"), 9: ("progressDeadlineSeconds", "i")},
    "Strategy": {1: ("type", "s"), 2: ("rollingUpdate", "M:RollingUpdate")},
    "RollingUpdate": {1: ("maxUnavailable", "io"), 2: ("maxSurge", "io")},
    "Selector": {1: ("matchLabels", "ms"), 2: ("matchExpressions", "R:Requirement")},
    "Requirement": {1: ("key", "s"), 2: ("operator", "s"), 3: ("values", "rs")},
    "Template": {1: ("metadata", "M:Meta"), 2: ("spec", "M:PodSpec")},
    "Pod": {1: ("metadata", "M:Meta"), 2: ("spec", "M:PodSpec")},
    "PodSpec": {1: ("volumes", "R:Volume"), 2: ("containers", "R:Container"),
                3: ("restartPolicy", "s"), 4: ("terminationGracePeriodSeconds", "i"),
                6: ("dnsPolicy", "s"), 7: ("nodeSelector", "ms"),
                8: ("serviceAccountName", "s"), 11: ("hostNetwork", "b"),
                16: ("hostname", "s"), 20: ("initContainers", "R:Container")},
    "Container": {1: ("name", "s"), 2: ("image", "s"), 3: ("command", "rs"), 4: ("args", "rs"),
                  5: ("workingDir", "s"), 6: ("ports", "R:ContainerPort"), 7: ("env", "R:Env"),
                  9: ("volumeMounts", "R:Mount"), 14: ("imagePullPolicy", "s"),
                  16: ("stdin", "b"), 18: ("tty", "b"), 19: ("envFrom", "R:EnvFrom")},
    "ContainerPort": {1: ("name", "s"), 2: ("hostPort", "i"), 3: ("containerPort", "i"),
                      4: ("protocol", "s")},
    "Env": {1: ("name", "s"), 2: ("value", "s"), 3: ("valueFrom", "M:EnvSource")},
    "EnvSource": {1: ("fieldRef", "M:FieldRef"), 3: ("configMapKeyRef", "M:Key"),
                  4: ("secretKeyRef", "M:Key")},
    "FieldRef": {1: ("apiVersion", "s"), 2: ("fieldPath", "s")},
    "Key": _KEY,
    "EnvFrom": {1: ("prefix", "s"), 2: ("configMapRef", "M:RefOpt"),
                3: ("secretRef", "M:RefOpt")},
    "RefOpt": {1: ("", "I:Ref"), 2: ("optional", "b")},
    "Mount": {1: ("name", "s"), 2: ("readOnly", "b"), 3: ("mountPath", "s"),
              4: ("subPath", "s")},
    "Volume": {1: ("name", "s"), 2: ("", "I:VolumeSource")},
    "VolumeSource": {2: ("emptyDir", "M:Empty"), 6: ("secret", "M:SecretVolume"),
                     19: ("configMap", "M:RefOpt")},
    "Empty": {},
    "SecretVolume": {1: ("secretName", "s"), 4: ("optional", "b")},
}
KINDS = {"Namespace", "ConfigMap", "Secret", "ServiceAccount", "Service", "Deployment", "Pod"}
_KEEP_ZERO = {"replicas"}


class ProtobufError(ValueError):
    pass


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return value, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs: integers for varints, bytes for length-delimited."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            out.append((number, value))
        elif wire == 2:
            size, pos = _varint(data, pos)
            out.append((number, data[pos:pos + size]))
            pos += size
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
    return out


def _map(data: bytes, binary: bool) -> tuple[str, str]:
    entry = dict(_fields(data))
    key = entry.get(1, b"")
    value = entry.get(2, b"")
    assert isinstance(key, bytes) and isinstance(value, bytes)
    text = base64.b64encode(value).decode() if binary else value.decode("utf-8", "replace")
    return key.decode("utf-8", "replace"), text


def _int_or_string(data: bytes) -> int | str:
    parts = dict(_fields(data))
    if parts.get(1) == 1:
        value = parts.get(3, b"")
        return value.decode() if isinstance(value, bytes) else ""
    number = parts.get(2, 0)
    return number if isinstance(number, int) else 0


def message(data: bytes, schema: str) -> dict[str, Any]:
    """A message as the JSON object Kubernetes would have sent."""
    table = SCHEMA[schema]
    out: dict[str, Any] = {}
    for number, value in _fields(data):
        if number not in table:
            continue
        name, kind = table[number]
        if kind == "s" and isinstance(value, bytes):
            if value:
                out[name] = value.decode("utf-8", "replace")
        elif kind == "i" and isinstance(value, int):
            if value or name in _KEEP_ZERO:
                out[name] = value - (1 << 64) if value >= 1 << 63 else value
        elif kind == "b" and isinstance(value, int):
            if value:
                out[name] = True
        elif kind == "rs" and isinstance(value, bytes):
            out.setdefault(name, []).append(value.decode("utf-8", "replace"))
        elif kind in ("ms", "my") and isinstance(value, bytes):
            key, text = _map(value, kind == "my")
            out.setdefault(name, {})[key] = text
        elif kind == "io" and isinstance(value, bytes):
            out[name] = _int_or_string(value)
        elif isinstance(value, bytes) and kind[:2] in ("M:", "R:", "I:"):
            inner = message(value, kind[2:])
            if kind.startswith("R:"):
                out.setdefault(name, []).append(inner)
            elif kind.startswith("I:"):
                out.update(inner)
            else:
                out[name] = inner
    return out


def decode(body: bytes) -> dict[str, Any]:
    """A ``k8s\\x00`` envelope (runtime.Unknown) as a JSON object; ProtobufError for what it
    cannot read."""
    if not body.startswith(MAGIC):
        raise ProtobufError("not a Kubernetes protobuf body")
    envelope = dict(_fields(body[len(MAGIC):]))
    type_meta, raw = envelope.get(1, b""), envelope.get(2, b"")
    if not isinstance(type_meta, bytes) or not isinstance(raw, bytes):
        raise ProtobufError("malformed envelope")
    meta = {k: v.decode() for k, v in _fields(type_meta) if isinstance(v, bytes)}
    api_version, kind = meta.get(1, ""), meta.get(2, "")
    if kind not in KINDS:
        raise ProtobufError(f"the meshgrade lab reads {', '.join(sorted(KINDS))} in protobuf, "
                            f"not {kind or 'this kind'}; send JSON")
    return {"apiVersion": api_version, "kind": kind, **message(raw, kind)}
