"""The load generator: N keep-alive HTTP/1.1 connections on raw asyncio streams, in a process of its own.

Run as ``python -m benchmarks.loadgen SPEC.json RESULT.json``. Requests are pre-encoded bytes; a response
is read by its status line and ``Content-Length`` (chunked bodies are read too, for safety). Two modes:

- ``closed``: every connection sends its next request as soon as the previous answer arrives;
- ``open``: requests are scheduled at a fixed rate whatever the answers do, and latency counts from the
  scheduled instant (so a stalled server shows up as latency, not as fewer requests: no coordinated
  omission).

Only requests *started* (closed) or *scheduled* (open) inside the measured window, after the warm-up,
are counted. The process prints ``MEASURING`` when the window opens and ``DONE`` when it closes, so the
parent can measure CPU over exactly that window. Everything is bounded by a hard deadline.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SEQUENCE_MARKER = b"@SEQ@"  # replaced by a per-request number (unique Idempotency-Key values)
REQUEST_TIMEOUT_SECONDS = 10.0
DRAIN_SECONDS = 15.0  # how long in-flight/queued requests may finish after the window closes
RECONNECT_PAUSE_SECONDS = 0.05


@dataclass(frozen=True)
class LoadSpec:
    host: str
    port: int
    requests: list[str]  # raw HTTP/1.1 requests (latin-1); rotated round-robin per connection
    connections: int
    duration: float
    warmup: float = 0.0
    mode: str = "closed"  # "closed" or "open"
    rate: float = 0.0  # requests per second, open mode only
    expected_statuses: list[int] = field(default_factory=lambda: [200])
    max_requests: int = 0  # 0: no limit other than time

    @classmethod
    def from_json(cls, text: str) -> LoadSpec:
        return cls(**json.loads(text))


@dataclass
class Recorder:
    """What the connections saw; only samples inside the window are kept."""

    window_start: float
    window_end: float
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    unexpected_sample: str | None = None
    sent: int = 0

    def in_window(self, started: float) -> bool:
        return self.window_start <= started < self.window_end

    def record(self, started: float, finished: float, status: int, body: bytes, expected: set[int]) -> None:
        if not self.in_window(started):
            return
        self.latencies.append(finished - started)
        self.statuses[status] += 1
        if status not in expected and self.unexpected_sample is None:
            self.unexpected_sample = f"{status}: {body[:300].decode('utf-8', 'replace')}"

    def record_error(self, started: float, kind: str) -> None:
        if self.in_window(started):
            self.errors[kind] += 1


class RequestSource:
    """Pre-encoded requests; a template holding the sequence marker gets a fresh number each time."""

    def __init__(self, raw_requests: list[str]) -> None:
        self._parts = [raw.encode("latin-1").split(SEQUENCE_MARKER) for raw in raw_requests]
        self._next = 0
        self._sequence = 0

    def next_request(self) -> bytes:
        parts = self._parts[self._next]
        self._next = (self._next + 1) % len(self._parts)
        if len(parts) == 1:
            return parts[0]
        self._sequence += 1
        return str(self._sequence).encode().join(parts)


class Connection:
    """One keep-alive connection; reconnects after the server closes it or an error."""

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        assert self._reader is not None
        self._writer.write(request)
        status, body, keep_alive = await read_response(self._reader)
        if not keep_alive:
            self.close()
        return status, body

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Status, body and whether the connection stays open, from one HTTP/1.1 response."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length, chunked, keep_alive = 0, False, True
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            keep_alive = value.strip().lower() != b"close"
    if chunked:
        return status, await read_chunked(reader), keep_alive
    body = await reader.readexactly(length) if length else b""
    return status, body, keep_alive


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)


class LoadRun:
    def __init__(self, spec: LoadSpec) -> None:
        self.spec = spec
        self.expected = set(spec.expected_statuses)
        self.source = RequestSource(spec.requests)
        now = time.monotonic()
        self.window_start = now + spec.warmup
        self.window_end = self.window_start + spec.duration
        self.recorder = Recorder(self.window_start, self.window_end)

    def budget_left(self) -> bool:
        return self.spec.max_requests <= 0 or self.recorder.sent < self.spec.max_requests

    async def send(self, connection: Connection, started: float) -> None:
        """One request/response; errors are counted and the connection reopened next time."""
        self.recorder.sent += 1
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_SECONDS):
                status, body = await connection.exchange(self.source.next_request())
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as error:
            connection.close()
            self.recorder.record_error(started, type(error).__name__)
            await asyncio.sleep(RECONNECT_PAUSE_SECONDS)
            return
        except TimeoutError:
            connection.close()
            self.recorder.record_error(started, "Timeout")
            return
        self.recorder.record(started, time.monotonic(), status, body, self.expected)

    async def closed_loop_connection(self) -> None:
        connection = Connection(self.spec.host, self.spec.port)
        try:
            while (started := time.monotonic()) < self.window_end and self.budget_left():
                await self.send(connection, started)
        finally:
            connection.close()

    async def open_loop_connection(self, slots: asyncio.Queue[float | None]) -> None:
        connection = Connection(self.spec.host, self.spec.port)
        try:
            while (scheduled := await slots.get()) is not None:
                await self.send(connection, scheduled)
        finally:
            connection.close()

    async def schedule(self, slots: asyncio.Queue[float | None]) -> None:
        """Put one slot per 1/rate seconds from now until the window closes, then one stop per connection."""
        interval, begin, index = 1.0 / self.spec.rate, time.monotonic(), 0
        while self.budget_left():
            due = begin + index * interval
            if due >= self.window_end:
                break
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            slots.put_nowait(due)
            index += 1
        for _ in range(self.spec.connections):
            slots.put_nowait(None)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        loop.call_later(max(0.0, self.window_start - time.monotonic()), announce, "MEASURING")
        loop.call_later(max(0.0, self.window_end - time.monotonic()), announce, "DONE")
        if self.spec.mode == "open":
            slots: asyncio.Queue[float | None] = asyncio.Queue()
            tasks = [self.open_loop_connection(slots) for _ in range(self.spec.connections)]
            tasks.append(self.schedule(slots))
        else:
            tasks = [self.closed_loop_connection() for _ in range(self.spec.connections)]
        hard_deadline = self.window_end - time.monotonic() + DRAIN_SECONDS
        try:
            async with asyncio.timeout(hard_deadline):
                await asyncio.gather(*tasks)
        except TimeoutError:
            self.recorder.errors["unfinished_at_deadline"] += 1

    def result(self) -> dict[str, Any]:
        recorder = self.recorder
        completed = len(recorder.latencies)
        ok = sum(count for status, count in recorder.statuses.items() if status in self.expected)
        return {
            "mode": self.spec.mode,
            "connections": self.spec.connections,
            "rate": self.spec.rate,
            "seconds": self.spec.duration,
            "completed": completed,
            "ok": ok,
            "throughput": completed / self.spec.duration,
            "ok_throughput": ok / self.spec.duration,
            "statuses": {str(status): count for status, count in sorted(recorder.statuses.items())},
            "errors": dict(recorder.errors),
            "error_count": sum(recorder.errors.values()) + (completed - ok),
            "latency_ms": latency_summary(recorder.latencies),
            "unexpected_sample": recorder.unexpected_sample,
        }


def latency_summary(latencies: list[float]) -> dict[str, float]:
    if not latencies:
        return {}
    ordered = sorted(latencies)

    def percentile(fraction: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000, 2)

    return {
        "mean": round(sum(ordered) / len(ordered) * 1000, 2),
        "p50": percentile(0.50),
        "p90": percentile(0.90),
        "p95": percentile(0.95),
        "p99": percentile(0.99),
        "max": round(ordered[-1] * 1000, 2),
    }


def announce(word: str) -> None:
    print(word, flush=True)


def main(argv: list[str]) -> int:
    spec_path, result_path = Path(argv[0]), Path(argv[1])
    spec = LoadSpec.from_json(spec_path.read_text())
    if spec.host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("the load generator only targets loopback")
    run = LoadRun(spec)
    asyncio.run(run.run())
    result_path.write_text(json.dumps(run.result()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
