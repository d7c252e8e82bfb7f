"""Readiness probes: can this process reach its database and its queue right now?

The probes themselves live with the adapters (bounded, one attempt, never raising): a load balancer asks
often and must not pile up waiting requests on a sick dependency.
"""

from __future__ import annotations

from psp.bootstrap import Container
from psp.data_sources.postgres.engine import database_answers


def database_is_ready(container: Container) -> bool:
    return database_answers(container.engine)


def queue_is_ready(container: Container) -> bool:
    return container.event_queue().is_reachable()
