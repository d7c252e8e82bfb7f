"""Integration fixtures beyond the database: moto's SQS server, started once per session on a free port.

moto keeps its queues in this process, so a second server started here (see ``moto_server_on``) sees
the same queues: tests stop and restart such a server to simulate an SQS outage.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from uuid import uuid4

import pytest
import structlog
from moto.server import ThreadedMotoServer

from psp.config import Settings
from psp.data_sources.sqs.client import build_sqs_client, create_psp_queues
from tests.conftest import settings_for_tests

# Dummy credentials for moto; also shields the tests from whatever AWS profile the machine has.
AWS_TEST_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}


def start_moto_server(port: int = 0) -> ThreadedMotoServer:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server


def endpoint_of(server: ThreadedMotoServer) -> str:
    host, port = server.get_host_and_port()
    return f"http://{host}:{port}"


def stop_moto_server(server: ThreadedMotoServer) -> None:
    server.stop()
    # stop() leaves the listening socket open; close it, or the warning would fail the session.
    if server._server is not None:
        server._server.server_close()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """URL of a moto server (SQS and friends) on a loopback port, with dummy AWS credentials set."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in AWS_TEST_ENVIRONMENT.items():
            patch.setenv(name, value)
        server = start_moto_server()
        try:
            yield endpoint_of(server)
        finally:
            stop_moto_server(server)


def sqs_settings(endpoint: str, **overrides: str) -> Settings:
    """Settings for the SQS backend on fresh, uniquely named queues (created by ``create_test_queues``)."""
    name = f"psp-test-{uuid4().hex[:12]}"
    environment = {
        "PSP_QUEUE_BACKEND": "sqs",
        "PSP_SQS_ENDPOINT_URL": endpoint,
        "PSP_SQS_PAYABLES_QUEUE": name,
        "PSP_SQS_PAYABLES_DLQ": f"{name}-dlq",
        "PSP_SQS_WEBHOOKS_QUEUE": f"{name}-webhooks",
        "PSP_SQS_WEBHOOKS_DLQ": f"{name}-webhooks-dlq",
        "PSP_WORKER_VISIBILITY_TIMEOUT": "1",
        "PSP_WORKER_MAX_RECEIVES": "5",
    }
    environment.update(overrides)
    return settings_for_tests(**environment)


def create_test_queues(settings: Settings) -> None:
    create_psp_queues(build_sqs_client(settings), settings)


@pytest.fixture
def sqs_test_settings(moto_endpoint: str) -> Settings:
    """SQS settings on a queue and DLQ of this test's own (1 s visibility timeout, 5 receives)."""
    settings = sqs_settings(moto_endpoint)
    create_test_queues(settings)
    return settings


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """CLI commands configure logging onto CliRunner's streams; put the previous configuration back."""
    handlers, level = logging.getLogger().handlers[:], logging.getLogger().level
    config = structlog.get_config()
    yield
    logging.getLogger().handlers[:] = handlers
    logging.getLogger().setLevel(level)
    structlog.configure(**config)
