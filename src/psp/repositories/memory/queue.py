"""In-memory queue with the same visibility-timeout and dead-letter semantics as the real adapters."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from psp.domain.events import OutboxEvent
from psp.repositories.ports import ReceivedEvent


@dataclass
class _Entry:
    event: OutboxEvent
    visible_at: float = 0.0
    receive_count: int = 0
    done: bool = False
    dead: bool = False


class InMemoryEventQueue:
    def __init__(
        self,
        *,
        visibility_timeout: float = 30.0,
        max_receives: int = 5,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entries: dict[str, _Entry] = {}
        self._visibility_timeout = visibility_timeout
        self._max_receives = max_receives
        self._now = monotonic
        self._lock = threading.Lock()

    def publish(self, event: OutboxEvent) -> None:
        with self._lock:
            self._entries.setdefault(str(event.id), _Entry(event=event, visible_at=self._now()))

    def receive(self, max_events: int, wait_seconds: float) -> list[ReceivedEvent]:
        received: list[ReceivedEvent] = []
        with self._lock:
            now = self._now()
            for receipt, entry in self._entries.items():
                if len(received) == max_events:
                    break
                if entry.done or entry.dead or entry.visible_at > now:
                    continue
                if entry.receive_count >= self._max_receives:
                    entry.dead = True
                    continue
                entry.receive_count += 1
                entry.visible_at = now + self._visibility_timeout
                received.append(ReceivedEvent(entry.event, receipt, entry.receive_count))
        return received

    def acknowledge(self, received: Sequence[ReceivedEvent]) -> None:
        with self._lock:
            for item in received:
                self._entries[item.receipt].done = True

    def release(self, received: Sequence[ReceivedEvent]) -> None:
        with self._lock:
            for item in received:
                self._entries[item.receipt].visible_at = self._now()

    def extend_visibility(self, received: Sequence[ReceivedEvent], seconds: int) -> None:
        with self._lock:
            for item in received:
                self._entries[item.receipt].visible_at = self._now() + seconds

    def redrive_dead(self) -> int:
        with self._lock:
            dead = [entry for entry in self._entries.values() if entry.dead and not entry.done]
            for entry in dead:
                entry.dead, entry.receive_count, entry.visible_at = False, 0, self._now()
        return len(dead)

    def is_reachable(self) -> bool:
        return True

    def dead_letters(self) -> list[OutboxEvent]:
        with self._lock:
            return [entry.event for entry in self._entries.values() if entry.dead]

    def pending(self) -> int:
        with self._lock:
            return sum(1 for entry in self._entries.values() if not entry.done and not entry.dead)
