"""Graceful stop for long-running processes: the first SIGTERM/SIGINT asks, the second insists."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import structlog

log = structlog.get_logger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# How soon a sleeping loop notices a stop request.
WAKE_INTERVAL_SECONDS = 0.05


class ImmediateStop(BaseException):
    """Raised by a second stop signal. A BaseException so ``except Exception`` around work lets it by."""

    def __init__(self, signal_number: int) -> None:
        super().__init__(f"stopped at once by signal {signal_number}")
        self.signal_number = signal_number

    @property
    def exit_code(self) -> int:
        return 128 + self.signal_number  # the shell's convention for "killed by signal N"


class Shutdown:
    """Tracks stop requests. The signal handler only flips flags here; the work loop decides when to stop.

    Nothing in the handler takes a lock (no logging, no ``threading.Event.set``): it runs between two
    bytecodes of the main thread, which may be holding that very lock, and would deadlock.
    """

    def __init__(self, *, raise_on_second_signal: bool = True) -> None:
        self._requested = False
        self._unlogged_signal: str | None = None
        self._raise_on_second_signal = raise_on_second_signal
        self.forced = False

    @property
    def requested(self) -> bool:
        if self._unlogged_signal is not None:
            log.info("shutdown.requested", signal=self._unlogged_signal)
            self._unlogged_signal = None
        return self._requested

    def request(self) -> None:
        """Ask for a graceful stop (what the first signal does; tests and threads call it directly)."""
        self._requested = True

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``, waking soon after a stop request; tell whether one was made."""
        deadline = time.monotonic() + seconds
        while not self.requested:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(remaining, WAKE_INTERVAL_SECONDS))
        return True

    @contextmanager
    def handling_signals(self) -> Iterator[Shutdown]:
        """Route SIGTERM and SIGINT here for the duration of the block (main thread only)."""
        previous = {number: signal.getsignal(number) for number in STOP_SIGNALS}
        for number in STOP_SIGNALS:
            signal.signal(number, self._on_signal)
        try:
            yield self
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    def _on_signal(self, signal_number: int, _frame: FrameType | None) -> Any:
        if not self._requested:
            self._unlogged_signal = signal.Signals(signal_number).name
            self._requested = True
            return
        self.forced = True
        if self._raise_on_second_signal:
            raise ImmediateStop(signal_number)
