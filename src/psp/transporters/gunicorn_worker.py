"""gunicorn's threaded worker, leaving each new connection to the least busy worker.

Every gunicorn worker polls the same listening socket, and a stock ``gthread`` worker accepts every
connection it wins, however busy its threads are (gunicorn issue #3433). Kept-alive connections then stay
with whichever worker won them: under the ingest benchmark's 32 connections, opened at once, one worker
held 30 and the other 2, and requests queued behind the busy worker's threads while the other worker's
sat idle. A load balancer's long-lived connections pile up the same way, and a worker whose threads all
wait on a slow acquirer goes on taking connections it cannot serve yet.

This worker takes a waiting connection later the busier it is: an idle worker accepts at once, one with
requests in flight stops polling the listening socket and takes a connection only once it has been
waiting ``ACCEPT_DELAY_PER_REQUEST`` per request it has in flight (at most ``MAX_ACCEPT_DELAY``). So a
connection goes to the least busy worker, connections opened together spread over the workers, and when
every worker stays busy a connection still waits at most ``MAX_ACCEPT_DELAY`` to be accepted, then
queues behind the requests in flight as it would with a stock worker.

It builds on ``gunicorn.workers.gthread.ThreadWorker``'s internals as of gunicorn 27 (``enqueue_req``,
``finish_request``, ``set_accept_enabled``, ``wait_for_and_dispatch_events``), whose major version
``pyproject.toml`` pins; ``tests/integration/test_gunicorn_worker.py`` runs it in a real gunicorn.
"""

from __future__ import annotations

import selectors
import time
from typing import Any, Final

from gunicorn.workers.gthread import ThreadWorker

ACCEPT_DELAY_PER_REQUEST: Final = 0.001  # seconds a waiting connection is left to others, per request
MAX_ACCEPT_DELAY: Final = 0.01  # the longest a connection waits for a worker to accept it
CHECK_INTERVAL: Final = 0.002  # how often a worker that is not accepting looks at the listening socket


class LeastBusyThreadWorker(ThreadWorker):  # type: ignore[misc]  # gunicorn ships no types
    """All of this runs on the worker's main thread (its event loop), so nothing needs a lock."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.requests_in_flight = 0  # handed to the thread pool and not finished
        self.connection_waiting_since: float | None = None
        self.listener_probe: selectors.BaseSelector | None = None

    def enqueue_req(self, conn: Any) -> None:
        self.requests_in_flight += 1
        if self._accepting:
            super().set_accept_enabled(False)  # busy now: leave the next connection to an idle worker
        super().enqueue_req(conn)

    def finish_request(self, conn: Any, fs: Any) -> None:
        self.requests_in_flight -= 1
        super().finish_request(conn, fs)

    def set_accept_enabled(self, enabled: bool) -> None:
        # gunicorn's loop asks to accept on each turn while it is not accepting and has room for more.
        if enabled and self.requests_in_flight > 0 and not self.connection_waited_long_enough():
            return
        self.connection_waiting_since = None
        super().set_accept_enabled(enabled)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        if self.alive and not self._accepting:  # look at the listening socket again soon
            timeout = min(timeout, CHECK_INTERVAL)
        super().wait_for_and_dispatch_events(timeout)

    def accept_delay(self) -> float:
        return float(min(self.requests_in_flight * ACCEPT_DELAY_PER_REQUEST, MAX_ACCEPT_DELAY))

    def connection_waited_long_enough(self) -> bool:
        """Whether a connection has been waiting to be accepted for this worker's delay: no worker less
        busy took it."""
        if not self.connection_is_waiting():
            self.connection_waiting_since = None
            return False
        now = time.monotonic()
        if self.connection_waiting_since is None:
            self.connection_waiting_since = now
        return now - self.connection_waiting_since >= self.accept_delay()

    def connection_is_waiting(self) -> bool:
        if self.listener_probe is None:
            self.listener_probe = selectors.DefaultSelector()
            for listener in self.sockets:
                self.listener_probe.register(listener, selectors.EVENT_READ)
        return bool(self.listener_probe.select(timeout=0))
