"""SQS-only fixtures: a moto server of the test's own, which the test may stop and restart (an outage)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer

from tests.integration.conftest import endpoint_of, start_moto_server, stop_moto_server


class StoppableEndpoint:
    """A moto server on a fixed port: ``stop`` is an SQS outage, ``start`` the recovery (queues kept)."""

    def __init__(self) -> None:
        self._server: ThreadedMotoServer | None = start_moto_server()
        self.url = endpoint_of(self._server)
        self._port = int(self.url.rsplit(":", 1)[1])

    def stop(self) -> None:
        if self._server is not None:
            stop_moto_server(self._server)
            self._server = None

    def start(self) -> None:
        if self._server is None:
            self._server = start_moto_server(self._port)


@pytest.fixture
def stoppable_endpoint(moto_endpoint: str) -> Iterator[StoppableEndpoint]:
    """Depends on the session server only for its AWS credentials; it shares moto's queues too."""
    endpoint = StoppableEndpoint()
    yield endpoint
    endpoint.stop()
