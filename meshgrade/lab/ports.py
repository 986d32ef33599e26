"""Free loopback ports for the lab's listeners.

Ports are drawn at random from below the kernel's ephemeral range: a port the kernel hands
out for ``bind(0)`` or an outgoing connection can be taken by anyone between the moment it is
chosen and the moment Envoy binds it; a port below that range can only be taken by another
program that chose it on purpose.
"""

from __future__ import annotations

import random
import socket
import threading
from pathlib import Path

LOOPBACK = "127.0.0.1"
_LOW = 10000
_NODE_PORTS = (30000, 32768)
_handed_out: set[int] = set()
_lock = threading.Lock()


def ephemeral_start() -> int:
    """The first port of Linux's ephemeral range (32768 when it cannot be read)."""
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text("ascii")
        return max(_LOW + 1000, int(text.split()[0]))
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def _pick(count: int, start: int, end: int) -> list[int]:
    """``count`` distinct ports in ``[start, end)`` free now and not handed out before by this
    process; falls back to kernel-chosen ports when the range has too few."""
    out: list[int] = []
    with _lock:
        for port in random.sample(range(start, end), k=min(end - start, 50 * count + 200)):
            if port not in _handed_out and _bindable(port):
                _handed_out.add(port)
                out.append(port)
                if len(out) == count:
                    return out
        while len(out) < count:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((LOOPBACK, 0))
                port = int(sock.getsockname()[1])
            if port not in _handed_out:
                _handed_out.add(port)
                out.append(port)
    return out


def free_ports(count: int) -> list[int]:
    """``count`` distinct free ports, outside the ephemeral and node-port ranges."""
    end = min(ephemeral_start(), _NODE_PORTS[0])
    return _pick(count, _LOW, end)


def free_port() -> int:
    """One free port (see :func:`free_ports`)."""
    return free_ports(1)[0]


def free_node_port() -> int:
    """A free port in Kubernetes' node-port range (below Linux's ephemeral ports), so the
    ingress can answer on a realistic nodePort."""
    start, end = _NODE_PORTS
    return _pick(1, start, min(end, ephemeral_start()) if ephemeral_start() > start else end)[0]
