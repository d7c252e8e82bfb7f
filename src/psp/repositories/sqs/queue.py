"""The SQS queue adapter: publisher (relay side) and consumer (worker side) of outbox events.

A message body is the JSON of an ``OutboxEvent``. SQS itself counts receives and moves a message to the
dead-letter queue after ``maxReceiveCount`` of them (the queue's RedrivePolicy, see
``psp.data_sources.sqs.client.create_queues``), so dead-lettering needs no code here.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

import structlog
from botocore.exceptions import BotoCoreError, ClientError

from psp.data_sources.sqs.client import (
    MAX_WAIT_SECONDS,
    QueueAddress,
    build_sqs_client,
    build_sqs_probe_client,
    translated_errors,
)
from psp.domain.events import OutboxEvent
from psp.lib.errors import ServiceUnavailable
from psp.repositories.ports import ReceivedEvent

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.type_defs import (
        DeleteMessageBatchRequestEntryTypeDef,
        MessageTypeDef,
        SendMessageBatchRequestEntryTypeDef,
    )

    from psp.config import Settings

log = structlog.get_logger(__name__)

BATCH_LIMIT = 10  # SQS's ceiling for every *Batch call and for MaxNumberOfMessages
BATCH_ATTEMPTS = 3  # tries per batch entry that failed on SQS's side before giving up on it
REDRIVE_VISIBILITY_SECONDS = 60  # keeps messages being moved out of sight of a concurrent redrive
# A batch is topped up for at most this fraction of the visibility timeout after its first message came
# in: the messages received first must still be hidden when the worker starts (and keeps) them.
TOP_UP_FRACTION_OF_VISIBILITY = 0.25

T = TypeVar("T")


def chunks_of(items: Sequence[T], size: int = BATCH_LIMIT) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def event_body(event: OutboxEvent) -> str:
    return json.dumps(
        {
            "id": str(event.id),
            "type": event.type,
            "merchant_id": str(event.merchant_id),
            "aggregate_id": str(event.aggregate_id),
            "payload": event.payload,
            "created_at": event.created_at.isoformat(),
        },
        separators=(",", ":"),
    )


def event_from_body(body: str) -> OutboxEvent:
    """Parse a message body back into its event; raise ValueError (or KeyError) if malformed."""
    data: dict[str, Any] = json.loads(body)
    return OutboxEvent(
        id=UUID(data["id"]),
        type=str(data["type"]),
        merchant_id=UUID(data["merchant_id"]),
        aggregate_id=UUID(data["aggregate_id"]),
        payload=dict(data["payload"]),
        created_at=datetime.fromisoformat(data["created_at"]),
    )


class SqsEventPublisher:
    """Sends outbox events to the queue and says which of them SQS accepted."""

    def __init__(self, client: SQSClient, queue: QueueAddress) -> None:
        self._client = client
        self._queue = queue

    @classmethod
    def from_settings(cls, settings: Settings, *, webhooks: bool = False) -> SqsEventPublisher:
        client = build_sqs_client(settings)
        queue = settings.sqs_webhooks_queue if webhooks else settings.sqs_payables_queue
        return cls(client, QueueAddress(client, queue))

    def publish(self, events: Sequence[OutboxEvent]) -> list[UUID]:
        """Send in batches of ten; return the ids SQS accepted, in order.

        Raises ServiceUnavailable only when SQS accepted nothing: once part of the events is in, the
        caller must learn which, so they are marked sent and not sent twice.
        """
        accepted: list[UUID] = []
        for chunk in chunks_of(events):
            try:
                accepted.extend(self._send_batch(chunk))
            except ServiceUnavailable:
                if not accepted:
                    raise
                log.warning("sqs.publish_interrupted", accepted=len(accepted), attempted=len(events))
                break
        return accepted

    def _send_batch(self, events: list[OutboxEvent]) -> list[UUID]:
        by_entry_id = {event.id.hex: event for event in events}
        entries: list[SendMessageBatchRequestEntryTypeDef] = [
            {
                "Id": entry_id,
                "MessageBody": event_body(event),
                "MessageAttributes": {"event_type": {"DataType": "String", "StringValue": event.type}},
            }
            for entry_id, event in by_entry_id.items()
        ]
        with translated_errors("SendMessageBatch"):
            response = self._client.send_message_batch(QueueUrl=self._queue.url, Entries=entries)
        for failure in response.get("Failed", []):
            log.warning(
                "sqs.publish_rejected",
                event_id=str(by_entry_id[failure["Id"]].id),
                code=failure["Code"],
                sender_fault=failure["SenderFault"],
            )
        return [by_entry_id[success["Id"]].id for success in response.get("Successful", [])]


class SqsEventQueue:
    """Consumer side of the queue on SQS: long-polled receives, batched deletes and visibility changes."""

    def __init__(
        self,
        client: SQSClient,
        queue: QueueAddress,
        dlq: QueueAddress,
        *,
        visibility_timeout: int,
        probe_client: SQSClient | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._probe_client = probe_client or client
        self._queue = queue
        self._dlq = dlq
        self._visibility_timeout = visibility_timeout
        self._monotonic = monotonic

    @classmethod
    def from_settings(cls, settings: Settings, *, webhooks: bool = False) -> SqsEventQueue:
        """The payables queue, or with ``webhooks`` the webhooks worker's queue (same semantics)."""
        client = build_sqs_client(settings)
        queue = settings.sqs_webhooks_queue if webhooks else settings.sqs_payables_queue
        dlq = settings.sqs_webhooks_dlq if webhooks else settings.sqs_payables_dlq
        return cls(
            client,
            QueueAddress(client, queue),
            QueueAddress(client, dlq),
            visibility_timeout=settings.worker_visibility_timeout,
            probe_client=build_sqs_probe_client(settings),
        )

    def is_reachable(self) -> bool:
        """Ask SQS for the queue's ARN with the probe client (one attempt, one-second time-outs)."""
        try:
            self._probe_client.get_queue_attributes(QueueUrl=self._queue.url, AttributeNames=["QueueArn"])
        except (BotoCoreError, ClientError, ServiceUnavailable) as error:
            log.warning("queue.unreachable", error=type(error).__name__)
            return False
        return True

    def receive(self, max_events: int, wait_seconds: float) -> list[ReceivedEvent]:
        """Receive up to ``max_events``, ten per call, long-polling until some arrive or time is up.

        Returns as soon as a receive comes back short of what it asked for: the queue is (nearly) empty,
        and holding the events already received would only eat into their visibility timeout. For the
        same reason it stops topping a batch up after a quarter of the visibility timeout: with a slow
        endpoint, fifty receives of ten could outlast it, and the first messages would be delivered
        again (and counted towards the dead-letter queue) while this worker still held them.
        """
        deadline = self._monotonic() + wait_seconds
        top_up_until: float | None = None
        received: list[ReceivedEvent] = []
        while len(received) < max_events:
            wanted = min(BATCH_LIMIT, max_events - len(received))
            # Long-poll only while empty-handed; once holding events, just top the batch up.
            wait = 0 if received else self._wait_until(deadline)
            batch = self._receive_batch(self._queue.url, wanted, wait, self._visibility_timeout)
            received.extend(event for event in map(self._received_event, batch) if event is not None)
            if batch and top_up_until is None:
                # The first messages' visibility clock started moments ago, when SQS picked them.
                top_up_until = self._monotonic() + self._visibility_timeout * TOP_UP_FRACTION_OF_VISIBILITY
            if len(batch) < wanted and (received or self._monotonic() >= deadline):
                break
            if top_up_until is not None and self._monotonic() >= top_up_until:
                break
        return received

    def acknowledge(self, received: Sequence[ReceivedEvent]) -> None:
        """Delete the messages; call only after the effect of handling them is committed."""
        self._in_batches(received, "DeleteMessageBatch", self._delete_batch)

    def release(self, received: Sequence[ReceivedEvent]) -> None:
        """Make the messages visible again at once (a worker stopping with a batch in hand)."""
        self.extend_visibility(received, 0)

    def extend_visibility(self, received: Sequence[ReceivedEvent], seconds: int) -> None:
        """Keep messages hidden ``seconds`` from now: a slow batch must not be redelivered mid-work."""

        def change(entries: list[tuple[str, ReceivedEvent]]) -> list[str]:
            return self._change_visibility_batch(entries, seconds)

        self._in_batches(received, "ChangeMessageVisibilityBatch", change)

    def redrive_dead(self) -> int:
        """Move every dead-lettered message back to the main queue with a fresh receive count."""
        moved = 0
        while True:
            batch = self._receive_batch(self._dlq.url, BATCH_LIMIT, 0, REDRIVE_VISIBILITY_SECONDS)
            if not batch:
                return moved
            moved += self._move_to_main_queue(batch)

    def _move_to_main_queue(self, messages: list[MessageTypeDef]) -> int:
        entries: list[SendMessageBatchRequestEntryTypeDef] = [
            {"Id": str(index), "MessageBody": message["Body"]} for index, message in enumerate(messages)
        ]
        with translated_errors("SendMessageBatch"):
            response = self._client.send_message_batch(QueueUrl=self._queue.url, Entries=entries)
        sent = {success["Id"] for success in response.get("Successful", [])}
        # Delete from the DLQ only what the main queue accepted; the rest reappears there.
        to_delete: list[DeleteMessageBatchRequestEntryTypeDef] = [
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
            for index, message in enumerate(messages)
            if str(index) in sent
        ]
        if to_delete:
            with translated_errors("DeleteMessageBatch"):
                self._client.delete_message_batch(QueueUrl=self._dlq.url, Entries=to_delete)
        log.info("sqs.redriven", moved=len(sent), failed=len(messages) - len(sent))
        return len(sent)

    def _wait_until(self, deadline: float) -> int:
        remaining = deadline - self._monotonic()
        return max(0, min(MAX_WAIT_SECONDS, math.ceil(remaining)))

    def _receive_batch(
        self, queue_url: str, count: int, wait_seconds: int, visibility_timeout: int
    ) -> list[MessageTypeDef]:
        with translated_errors("ReceiveMessage"):
            response = self._client.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=count,
                WaitTimeSeconds=wait_seconds,
                VisibilityTimeout=visibility_timeout,
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
            )
        return response.get("Messages", [])

    @staticmethod
    def _received_event(message: MessageTypeDef) -> ReceivedEvent | None:
        try:
            event = event_from_body(message["Body"])
        except (ValueError, KeyError, TypeError):
            # Left unacknowledged on purpose: SQS dead-letters it after maxReceiveCount receives.
            log.error("sqs.unreadable_message", message_id=message["MessageId"])
            return None
        receive_count = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        return ReceivedEvent(event=event, receipt=message["ReceiptHandle"], receive_count=receive_count)

    def _in_batches(
        self,
        received: Sequence[ReceivedEvent],
        operation: str,
        send: Callable[[list[tuple[str, ReceivedEvent]]], list[str]],
    ) -> None:
        """Run a *Batch call ten at a time, retrying the entries that failed on SQS's side."""
        for chunk in chunks_of(received):
            pending = [(str(index), item) for index, item in enumerate(chunk)]
            for _attempt in range(BATCH_ATTEMPTS):
                failed = set(send(pending))
                pending = [(entry_id, item) for entry_id, item in pending if entry_id in failed]
                if not pending:
                    break
            if pending:
                # Not fatal: an undeleted message is delivered again, and consumers are idempotent.
                log.warning(operation.lower() + ".gave_up", events=[str(i.event.id) for _, i in pending])

    def _delete_batch(self, entries: list[tuple[str, ReceivedEvent]]) -> list[str]:
        with translated_errors("DeleteMessageBatch"):
            response = self._client.delete_message_batch(
                QueueUrl=self._queue.url,
                Entries=[{"Id": entry_id, "ReceiptHandle": item.receipt} for entry_id, item in entries],
            )
        return self._retryable_failures(response.get("Failed", []), "sqs.delete_failed")

    def _change_visibility_batch(self, entries: list[tuple[str, ReceivedEvent]], seconds: int) -> list[str]:
        with translated_errors("ChangeMessageVisibilityBatch"):
            response = self._client.change_message_visibility_batch(
                QueueUrl=self._queue.url,
                Entries=[
                    {"Id": entry_id, "ReceiptHandle": item.receipt, "VisibilityTimeout": seconds}
                    for entry_id, item in entries
                ],
            )
        return self._retryable_failures(response.get("Failed", []), "sqs.visibility_change_failed")

    @staticmethod
    def _retryable_failures(failures: Sequence[Any], log_event: str) -> list[str]:
        """Ids worth another try: SQS-side faults. A sender fault (e.g. an expired receipt) stays one."""
        retryable = []
        for failure in failures:
            if failure["SenderFault"]:
                log.warning(log_event, code=failure["Code"], message=failure.get("Message"))
            else:
                retryable.append(failure["Id"])
        return retryable
