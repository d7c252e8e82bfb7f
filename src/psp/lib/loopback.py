"""Ports on 127.0.0.1 for processes started locally: `psp dev`'s moto server, and the tests' and
benchmarks' servers."""

from __future__ import annotations

import contextlib
import socket
import time


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (the caller's server binds it next)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float, *, name: str = "a server") -> None:
    """Return once something accepts connections on 127.0.0.1:``port``; raise after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not listen on port {port} within {timeout:.0f} s")
