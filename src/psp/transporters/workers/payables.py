"""The payables worker: ``transaction.approved`` events in, payables out, a whole batch per insert.

Delivery is at least once and ``create_payables`` is idempotent (unique per transaction and
installment), so an event redelivered after a crash, a kill -9 or a lapsed visibility timeout creates
nothing twice. Events are acknowledged only after their payables are committed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import structlog
from marshmallow import ValidationError

from psp.bootstrap import Container
from psp.domain.events import TRANSACTION_APPROVED
from psp.domain.payables import ApprovedTransaction
from psp.lib.errors import ServiceUnavailable
from psp.repositories.ports import EventQueue, ReceivedEvent
from psp.services.payables import create_payables
from psp.transporters.workers.shutdown import ImmediateStop, Shutdown
from psp.validators.events import parse_approved_transaction

log = structlog.get_logger(__name__)

# How long an idle worker waits for events per receive; also bounds how late it notices a stop request.
IDLE_WAIT_SECONDS = 1.0
FIRST_ERROR_BACKOFF_SECONDS = 0.5
MAX_ERROR_BACKOFF_SECONDS = 30.0


@dataclass(frozen=True)
class BatchResult:
    events: int
    acknowledged: int
    payables_created: int
    poisoned: int


@dataclass
class _SortedBatch:
    approvals: list[tuple[ReceivedEvent, ApprovedTransaction]] = field(default_factory=list)
    ignored: list[ReceivedEvent] = field(default_factory=list)
    malformed: list[ReceivedEvent] = field(default_factory=list)


def run_payables_worker(
    container: Container, *, shutdown: Shutdown, once: bool = False, queue: EventQueue | None = None
) -> None:
    """Turn approvals into payables until asked to stop, or with ``once`` until nothing is visible."""
    queue = queue or container.event_queue()
    batch_size = container.settings.worker_batch_size
    linger_seconds = 0.0 if once else container.settings.worker_linger_ms / 1000
    backoff = FIRST_ERROR_BACKOFF_SECONDS
    log.info("worker.started", worker="payables", batch_size=batch_size, once=once)
    while not shutdown.requested:
        try:
            batch = queue.receive(batch_size, 0.0 if once else IDLE_WAIT_SECONDS)
            claimed_at = time.monotonic()
            if not batch and once:
                break
            with (
                released_if_stopped_at_once(queue, batch),
                visibility_kept_while_working(queue, batch, container.settings.worker_visibility_timeout),
            ):
                handle_batch(batch, container=container, queue=queue)
            if batch and len(batch) < batch_size:
                # The queue ran short: let the next batch fill for the rest of the linger window, so
                # that under load the claim and commits of a batch are shared by many events.
                shutdown.wait(linger_seconds - (time.monotonic() - claimed_at))
        except Exception:
            # A worker outlives database blips: whatever it held comes back after the visibility timeout.
            log.exception("worker.iteration_failed", retry_in_seconds=backoff)
            shutdown.wait(backoff)
            backoff = min(backoff * 2, MAX_ERROR_BACKOFF_SECONDS)
        else:
            backoff = FIRST_ERROR_BACKOFF_SECONDS
    log.info("worker.stopped", worker="payables")


@contextmanager
def visibility_kept_while_working(
    queue: EventQueue, batch: Sequence[ReceivedEvent], visibility_timeout: int
) -> Iterator[None]:
    """Extend the batch's visibility every half timeout while it is worked on.

    A batch slower than the visibility timeout (a slow database) would otherwise be redelivered to another
    worker mid-work: harmless to the money (the insert is idempotent) but wasted and noisy.
    """
    done = threading.Event()

    def keep_hidden() -> None:
        while not done.wait(visibility_timeout / 2):
            try:
                queue.extend_visibility(batch, visibility_timeout)
                log.info("worker.visibility_extended", events=len(batch), seconds=visibility_timeout)
            except Exception:
                log.exception("worker.visibility_extension_failed")

    keeper = threading.Thread(target=keep_hidden, name="visibility-keeper", daemon=True)
    if batch:
        keeper.start()
    try:
        yield
    finally:
        done.set()
        if keeper.is_alive():
            keeper.join()


@contextmanager
def released_if_stopped_at_once(queue: EventQueue, batch: Sequence[ReceivedEvent]) -> Iterator[None]:
    """On a forced stop, hand the batch back at once instead of letting it wait out its timeout."""
    try:
        yield
    except ImmediateStop:
        queue.release(batch)  # acknowledged events are left alone by release
        log.warning("worker.batch_released", events=len(batch))
        raise


def handle_batch(batch: Sequence[ReceivedEvent], *, container: Container, queue: EventQueue) -> BatchResult:
    """Create the payables of a batch in one insert, acknowledge what succeeded; poison stays unacked."""
    if not batch:
        return BatchResult(events=0, acknowledged=0, payables_created=0, poisoned=0)
    started = time.perf_counter()
    sorted_batch = sort_batch(batch)
    created, succeeded, failed = create_payables_for(sorted_batch.approvals, container)
    done = [*sorted_batch.ignored, *succeeded]
    queue.acknowledge(done)
    result = BatchResult(
        events=len(batch),
        acknowledged=len(done),
        payables_created=created,
        poisoned=len(sorted_batch.malformed) + len(failed),
    )
    log.info(
        "payables.batch_processed",
        events=result.events,
        acknowledged=result.acknowledged,
        payables_created=result.payables_created,
        poisoned=result.poisoned,
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )
    return result


def sort_batch(batch: Sequence[ReceivedEvent]) -> _SortedBatch:
    """Parse the approvals; other event types need nothing from this worker and are simply acknowledged."""
    sorted_batch = _SortedBatch()
    for item in batch:
        if item.event.type != TRANSACTION_APPROVED:
            sorted_batch.ignored.append(item)
            continue
        try:
            sorted_batch.approvals.append((item, parse_approved_transaction(item.event.payload)))
        except ValidationError as error:
            # Field names and messages only: marshmallow messages do not echo the values.
            log.error(
                "payables.malformed_event",
                event_id=str(item.event.id),
                receive_count=item.receive_count,
                problems=error.messages,
            )
            sorted_batch.malformed.append(item)
    return sorted_batch


def create_payables_for(
    approvals: Sequence[tuple[ReceivedEvent, ApprovedTransaction]], container: Container
) -> tuple[int, list[ReceivedEvent], list[ReceivedEvent]]:
    """Return (payables created, events that succeeded, events that failed)."""
    if not approvals:
        return 0, [], []
    try:
        created = _create(container, [approved for _, approved in approvals])
    except ServiceUnavailable:
        raise  # the database is down, not the events: the whole batch comes back after its timeout
    except Exception as error:
        if len(approvals) == 1:
            _log_poison(approvals[0][0], error)
            return 0, [], [approvals[0][0]]
        log.warning("payables.batch_failed", events=len(approvals), error=_first_line(error))
        return create_payables_one_by_one(approvals, container)
    return created, [item for item, _ in approvals], []


def create_payables_one_by_one(
    approvals: Sequence[tuple[ReceivedEvent, ApprovedTransaction]], container: Container
) -> tuple[int, list[ReceivedEvent], list[ReceivedEvent]]:
    """Isolate the event(s) that broke a batch so the others still go through."""
    created, succeeded, failed = 0, [], []
    for item, approved in approvals:
        try:
            created += _create(container, [approved])
        except ServiceUnavailable:
            raise
        except Exception as error:
            _log_poison(item, error)
            failed.append(item)
        else:
            succeeded.append(item)
    return created, succeeded, failed


def _create(container: Container, approvals: Sequence[ApprovedTransaction]) -> int:
    return create_payables(
        approvals,
        uow=container.uow(),
        settlement_zone=container.settings.settlement_timezone,
        clock=container.clock,
    )


def _log_poison(item: ReceivedEvent, error: Exception) -> None:
    # Payloads hold no card data, but the event id is all an operator needs to find the row.
    log.error(
        "payables.poison_event",
        event_id=str(item.event.id),
        receive_count=item.receive_count,
        error=_first_line(error),
    )


def _first_line(error: Exception) -> str:
    lines = str(error).splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"
