"""Helpers for webhook tests: endpoints registered through the service, a worker run in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from uuid import UUID

from psp.bootstrap import Container
from psp.domain.merchants import Principal
from psp.domain.webhooks import RetrySchedule, WebhookEndpoint
from psp.repositories.ports import EventQueue
from psp.repositories.webhook_http import HttpWebhookSender
from psp.services import webhooks as service
from psp.services.merchants import Onboarded
from psp.transporters.workers.shutdown import Shutdown
from psp.transporters.workers.webhooks import run_webhooks_worker

FAST_RETRIES = RetrySchedule.scaled(0.05)  # retries after ~0.05 s, 0.2 s, 0.8 s, ...


def principal_of(onboarded: Onboarded, mode: str = "test") -> Principal:
    return Principal(merchant_id=onboarded.merchant.id, api_key_id=onboarded.key.api_key.id, mode=mode)


def register(
    container: Container, onboarded: Onboarded, url: str, events: tuple[str, ...] = ("*",)
) -> WebhookEndpoint:
    return service.create_endpoint(
        principal_of(onboarded),
        service.NewEndpoint(url=url, enabled_events=events),
        uow=container.uow(),
        resolver=container.host_resolver(),
        clock=container.clock,
    )


@contextmanager
def worker_running(
    container: Container,
    *,
    timeout: float = 2.0,
    schedule: RetrySchedule = FAST_RETRIES,
    queue: EventQueue | None = None,
) -> Iterator[None]:
    """``psp worker webhooks`` in a thread of this process, stopped (and drained) on leaving."""
    shutdown = Shutdown()
    thread = threading.Thread(
        target=run_webhooks_worker,
        args=(container,),
        kwargs={
            "shutdown": shutdown,
            "sender": HttpWebhookSender(timeout=timeout),
            "schedule": schedule,
            "queue": queue,
        },
        daemon=True,
    )
    thread.start()
    try:
        yield
    finally:
        shutdown.request()
        thread.join(timeout + 10)
        assert not thread.is_alive()


# Retries so short that a whole "3 days" window passes in about a second.
ONE_SECOND_WINDOW = RetrySchedule(
    base_seconds=0.05, factor=2, cap_seconds=0.2, give_up_after=timedelta(seconds=1)
)


def run_until_endpoint_disabled(
    container: Container, merchant: Onboarded, endpoint_id: UUID, *, within_seconds: float = 10
) -> WebhookEndpoint:
    """Run the worker with ``ONE_SECOND_WINDOW`` until the endpoint is disabled (or time runs out)."""
    with worker_running(container, schedule=ONE_SECOND_WINDOW):
        deadline = time.monotonic() + within_seconds
        while True:
            found = service.get_endpoint(principal_of(merchant), endpoint_id, uow=container.uow())
            if found.status.value == "disabled" or time.monotonic() >= deadline:
                return found
            time.sleep(0.1)
