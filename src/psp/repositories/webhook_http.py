"""Sending webhook deliveries over HTTP, and resolving endpoint hosts in bounded time.

The sender resolves the host itself and connects to an address it has checked (live endpoints: public
addresses only), so a name that resolves to a public address when the endpoint is registered and to a
private one later (DNS rebinding) is refused at delivery time. TLS is still verified against the host
name. Redirects are never followed: a 3xx is a failed attempt like any other non-2xx.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from urllib.parse import urlsplit

from psp.domain.webhooks import (
    RESPONSE_EXCERPT_BYTES,
    WebhookEndpoint,
    all_public,
    parse_endpoint_url,
)
from psp.lib.errors import ValidationFailed
from psp.repositories.ports import HostResolver, SendResult

DEFAULT_RESOLVE_TIMEOUT_SECONDS = 2.0
_REFUSAL_KINDS = {"url_forbidden_address": "forbidden_address", "url_unresolvable": "unresolvable"}


class SocketHostResolver:
    """``getaddrinfo`` in a few threads, abandoned after ``timeout``: a slow DNS never hangs a request."""

    def __init__(self, timeout: float = DEFAULT_RESOLVE_TIMEOUT_SECONDS, threads: int = 4) -> None:
        self._timeout = timeout
        self._threads = threads
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def resolve(self, host: str, port: int) -> list[str] | None:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="psp-resolve")
            pool = self._pool
        future = pool.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
        try:
            infos = future.result(timeout=self._timeout)
        except (FutureTimeout, OSError, UnicodeError):
            return None
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


class HttpWebhookSender:
    """One POST per call, within ``timeout`` seconds overall; never raises, never follows redirects."""

    def __init__(self, *, timeout: float = 10.0, resolver: HostResolver | None = None) -> None:
        self._timeout = timeout
        self._resolver = resolver or SocketHostResolver(timeout=min(timeout, DEFAULT_RESOLVE_TIMEOUT_SECONDS))
        self._tls = ssl.create_default_context()

    def send(self, endpoint: WebhookEndpoint, headers: dict[str, str], body: bytes) -> SendResult:
        started = time.monotonic()
        deadline = started + self._timeout

        def elapsed_ms() -> int:
            return int((time.monotonic() - started) * 1000)

        connection: http.client.HTTPConnection | None = None
        try:
            url = parse_endpoint_url(endpoint.url, endpoint.mode)
            address = self._address(url.host, url.port, endpoint.mode)
            connection = self._connect(url.scheme, url.host, url.port, address, deadline)
            parts = urlsplit(endpoint.url)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            connection.request("POST", target, body=body, headers=headers)
            _remaining(connection, deadline)
            response = connection.getresponse()
            _remaining(connection, deadline)
            excerpt = response.read(RESPONSE_EXCERPT_BYTES).decode("utf-8", errors="replace")
            return SendResult(status_code=response.status, latency_ms=elapsed_ms(), response_excerpt=excerpt)
        except ValidationFailed as refused:
            kind = _REFUSAL_KINDS.get(refused.code, "invalid_url")
            return SendResult(None, elapsed_ms(), "", error=refused.message, error_kind=kind)
        except (OSError, http.client.HTTPException, ValueError) as error:
            return SendResult(None, elapsed_ms(), "", error=_describe(error), error_kind=_kind(error))
        finally:
            if connection is not None:
                connection.close()

    def _address(self, host: str, port: int, mode: str) -> str:
        addresses = self._resolver.resolve(host, port)
        if addresses is None or not addresses:
            raise ValidationFailed("the endpoint's host does not resolve", code="url_unresolvable")
        if mode == "live" and not all_public(addresses):
            raise ValidationFailed(
                "the endpoint's host resolves to a private address: refused", code="url_forbidden_address"
            )
        return addresses[0]

    def _connect(
        self, scheme: str, host: str, port: int, address: str, deadline: float
    ) -> http.client.HTTPConnection:
        timeout = max(0.001, deadline - time.monotonic())
        sock = socket.create_connection((address, port), timeout=timeout)
        try:
            if scheme == "https":
                sock = self._tls.wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
        connection.sock = sock  # pinned to the address checked above; no second resolution
        return connection


def _remaining(connection: http.client.HTTPConnection, deadline: float) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("the endpoint did not answer in time")
    if connection.sock is not None:
        connection.sock.settimeout(remaining)


def _kind(error: BaseException) -> str:
    """A bounded label for an attempt that got no HTTP answer (metrics only; the message says more)."""
    if isinstance(error, TimeoutError | socket.timeout):
        return "timeout"
    if isinstance(error, ssl.SSLError):
        return "tls"
    if isinstance(error, OSError):
        return "connection"
    return "protocol"


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError | socket.timeout):
        return "timeout: the endpoint did not answer in time"
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}"[:255]
