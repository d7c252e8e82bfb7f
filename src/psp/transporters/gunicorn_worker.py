"""gunicorn's threaded worker, leaving new connections to workers that have a thread free.

Every gunicorn worker polls the same listening socket, and a stock ``gthread`` worker accepts every
connection it wins, however busy its threads are (gunicorn issue #3433). Kept-alive connections then stay
with whichever worker won them: under the ingest benchmark's 32 connections, opened at once, one worker
held 30 and the other 2, and requests queued behind the busy worker's threads while the other worker's
sat idle. A load balancer's long-lived connections pile up the same way, and a worker whose threads all
wait on a slow acquirer goes on taking connections it cannot serve yet.

This worker stops polling the listening socket while all of its threads are taken, so a new connection
goes to a worker with a free thread. When no worker has one, a connection is not left waiting: a busy
worker that sees the same connection still waiting after ``ACCEPT_PAUSE_SECONDS`` accepts it, and it
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

ACCEPT_PAUSE_SECONDS: Final = 0.01  # how long a connection waits for a worker with a free thread


class ThreadWorkerAcceptingWhenFree(ThreadWorker):  # type: ignore[misc]  # gunicorn ships no types
    """All of this runs on the worker's main thread (its event loop), so nothing needs a lock."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.requests_in_flight = 0  # handed to the thread pool and not finished
        self.connection_waiting_since: float | None = None
        self.listener_probe: selectors.BaseSelector | None = None

    def enqueue_req(self, conn: Any) -> None:
        self.requests_in_flight += 1
        if self._accepting and not self.has_free_thread():
            super().set_accept_enabled(False)
        super().enqueue_req(conn)

    def finish_request(self, conn: Any, fs: Any) -> None:
        self.requests_in_flight -= 1
        super().finish_request(conn, fs)

    def set_accept_enabled(self, enabled: bool) -> None:
        # gunicorn's loop asks to accept on each turn while it is not accepting and has room for more.
        if enabled and not self.has_free_thread() and not self.connection_waited_too_long():
            return
        self.connection_waiting_since = None
        super().set_accept_enabled(enabled)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        if self.alive and not self._accepting:  # look at the listening socket again soon
            timeout = min(timeout, ACCEPT_PAUSE_SECONDS / 2)
        super().wait_for_and_dispatch_events(timeout)

    def has_free_thread(self) -> bool:
        return bool(self.requests_in_flight < self.cfg.threads)

    def connection_waited_too_long(self) -> bool:
        """Whether a connection has been waiting to be accepted for ``ACCEPT_PAUSE_SECONDS``: no other
        worker had a thread free for it."""
        if not self.connection_is_waiting():
            self.connection_waiting_since = None
            return False
        now = time.monotonic()
        if self.connection_waiting_since is None:
            self.connection_waiting_since = now
        return now - self.connection_waiting_since >= ACCEPT_PAUSE_SECONDS

    def connection_is_waiting(self) -> bool:
        if self.listener_probe is None:
            self.listener_probe = selectors.DefaultSelector()
            for listener in self.sockets:
                self.listener_probe.register(listener, selectors.EVENT_READ)
        return bool(self.listener_probe.select(timeout=0))
