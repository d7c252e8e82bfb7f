"""A TCP proxy in front of a dependency (the SQS endpoint) that the fault suite can take down or slow down.

- ``up()``: pass bytes through.
- ``down()``: stop listening (new connections are refused) and cut every open connection.
- ``latency(seconds)``: every chunk, either way, waits that long before it is forwarded.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from concurrent.futures import Future
from typing import Any

CHUNK = 65536


class FaultProxy:
    def __init__(self, listen_port: int, target_host: str, target_port: int) -> None:
        self.listen_port = listen_port
        self._target = (target_host, target_port)
        self._delay = 0.0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)
        self._thread.start()

    def up(self) -> None:
        self._call(self._listen())

    def down(self) -> None:
        self._call(self._stop_listening())

    def latency(self, seconds: float) -> None:
        self._delay = seconds

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._call(self._shut_down())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def _call(self, coroutine: Any) -> None:
        future: Future[None] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        future.result(10)

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._handle, "127.0.0.1", self.listen_port, reuse_address=True
            )

    async def _stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._writers.clear()

    async def _shut_down(self) -> None:
        """Stop listening, end every connection's task, and let the aborted transports finish closing.

        A transport still open when the loop closes warns "unclosed transport" when it is collected,
        which the test run treats as an error.
        """
        await self._stop_listening()
        # A connection accepted just before the server closed has its handler scheduled but not started:
        # cancelled now, it would never run, and its transport would never be aborted. Let such handlers
        # start (each registers its writer first), then cut what they registered.
        for _ in range(3):
            await asyncio.sleep(0)
        await self._stop_listening()
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for _ in range(3):  # abort() closes the socket in a callback of the next loop iterations
            await asyncio.sleep(0)

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self._writers.add(client_writer)  # at once: down() must cut it even while upstream connects
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        except OSError:
            self._writers.discard(client_writer)
            client_writer.transport.abort()
            return
        self._writers.add(upstream_writer)
        try:
            await asyncio.gather(
                self._pipe(client_reader, upstream_writer), self._pipe(upstream_reader, client_writer)
            )
        finally:
            for writer in (client_writer, upstream_writer):
                self._writers.discard(writer)
                with contextlib.suppress(Exception):
                    writer.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, ConnectionError):
            while chunk := await reader.read(CHUNK):
                if self._delay:
                    await asyncio.sleep(self._delay)
                writer.write(chunk)
                await writer.drain()
        with contextlib.suppress(Exception):
            writer.write_eof()
