"""The SQS consumer stops topping a batch up before the first messages it holds could be redelivered."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psp.domain.ids import new_id
from psp.repositories.sqs.queue import SqsEventQueue, event_body
from tests.integration.test_queue_contract import an_event

QUEUE_URL = "http://sqs.local/000000000000/psp-payables"


@dataclass
class SlowEndpoint:
    """Always has ten more messages; every call takes ``seconds_per_call`` of (fake) time."""

    seconds_per_call: float
    now: float = 0.0
    calls: int = 0
    visibility_timeouts: list[int] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def receive_message(self, **request: Any) -> dict[str, Any]:
        self.calls += 1
        self.now += self.seconds_per_call
        self.visibility_timeouts.append(request["VisibilityTimeout"])
        count = request["MaxNumberOfMessages"]
        return {
            "Messages": [
                {
                    "MessageId": str(new_id()),
                    "ReceiptHandle": f"receipt-{self.calls}-{n}",
                    "Body": event_body(an_event(new_id())),
                    "Attributes": {"ApproximateReceiveCount": "1"},
                }
                for n in range(count)
            ]
        }


class FixedAddress:
    url = QUEUE_URL


def queue_over(endpoint: SlowEndpoint, visibility_timeout: int) -> SqsEventQueue:
    return SqsEventQueue(
        endpoint,  # type: ignore[arg-type]
        FixedAddress(),  # type: ignore[arg-type]
        FixedAddress(),  # type: ignore[arg-type]
        visibility_timeout=visibility_timeout,
        monotonic=endpoint.monotonic,
    )


def test_a_slow_endpoint_cuts_the_batch_short_at_a_quarter_of_the_visibility_timeout() -> None:
    endpoint = SlowEndpoint(seconds_per_call=1.0)

    received = queue_over(endpoint, visibility_timeout=10).receive(500, 1)

    # 1 s per receive: the first answers at 1 s, topping up may start until 3.5 s (calls ending at 2, 3
    # and 4 s); the first messages still have 7 s of their 10 s left when the worker gets them.
    assert endpoint.calls == 4
    assert len(received) == 40
    assert endpoint.now - 1.0 <= 10 * 0.25 + 1.0


def test_a_fast_endpoint_still_fills_the_whole_batch() -> None:
    endpoint = SlowEndpoint(seconds_per_call=0.01)

    received = queue_over(endpoint, visibility_timeout=30).receive(500, 1)

    assert len(received) == 500
    assert endpoint.calls == 50
