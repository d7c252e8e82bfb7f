"""``psp dev``: the whole system on one machine, for trying psp out and developing it.

It attaches to the embedded PostgreSQL under ``PSP_DATA_DIR`` (or uses ``PSP_DATABASE_URL``), migrates it,
makes sure a demo merchant with a working key exists, then supervises the API, the payables worker and
the scheduler as child processes, restarting any that dies. With ``PSP_QUEUE_BACKEND=sqs`` it also runs
the relay, and, unless ``PSP_SQS_ENDPOINT_URL`` names one, a local SQS endpoint (moto's server). It stays
attached to the database for as long as it runs, so ``psp`` commands in another terminal (same
``PSP_DATA_DIR``) reach the same server.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path

import structlog

from psp.bootstrap import Container, bootstrap
from psp.config import Settings
from psp.data_sources.postgres.engine import resolve_database_url
from psp.data_sources.postgres.migrations import upgrade_to_head
from psp.domain.merchants import Principal
from psp.domain.pagination import MAX_LIMIT, PageRequest
from psp.lib.errors import AuthenticationFailed
from psp.lib.loopback import free_port, wait_for_port
from psp.services import merchants as merchant_service
from psp.services import webhooks as webhook_service
from psp.transporters.demo_receiver import SECRET_VARIABLE
from psp.transporters.jobs.settle import settlement_date_today
from psp.transporters.workers.shutdown import Shutdown

log = structlog.get_logger(__name__)

DEMO_MERCHANT_NAME = "Demo Merchant"
DEMO_KEY_FILE = "demo_secret_key"
DEMO_AMOUNT = 2500
DEMO_CARD_NUMBER = "4111111111111111"  # a Visa test number the simulator approves
CREDIT_SETTLEMENT_DAYS = 30

STOP_TIMEOUT_SECONDS = 10.0
FIRST_RESTART_DELAY_SECONDS = 1.0
MAX_RESTART_DELAY_SECONDS = 30.0
# A child that ran this long before dying was healthy: its next restart starts from the first delay.
STABLE_AFTER_SECONDS = 30.0
SUPERVISE_INTERVAL_SECONDS = 0.25
READINESS_PROBE_TIMEOUT_SECONDS = 1.0
LOCAL_SQS_START_TIMEOUT_SECONDS = 20.0
# moto accepts any credentials; boto3 only needs some to sign requests with.
LOCAL_SQS_CREDENTIALS = dict.fromkeys(("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), "psp-dev")


def run_dev(settings: Settings, *, demo_webhook: bool = False) -> int:
    """Prepare the database and demo merchant, run the children until SIGINT/SIGTERM; return 0.

    With ``demo_webhook``, also a loopback receiver registered as the demo merchant's webhook endpoint,
    which verifies every delivery and prints one line per event.
    """
    shutdown = Shutdown(raise_on_second_signal=False)
    with shutdown.handling_signals():
        database_url = resolve_database_url(settings)  # attaches this process to the embedded server
        log.info("dev.migrating")
        upgrade_to_head(database_url)
        container = bootstrap(settings, database_url=database_url, application_name="psp-dev")
        receiver: ChildCommand | None = None
        try:
            secret_key = ensure_demo_secret_key(container)
            today = settlement_date_today(container)
            if demo_webhook:
                receiver = register_demo_webhook(container)
        finally:
            container.close()
        if shutdown.requested:  # Ctrl-C while the database was starting: nothing to start or stop
            return 0
        environment = {**os.environ, "PSP_DATABASE_URL": database_url}
        supervisor = Supervisor([], environment)
        if settings.queue_backend == "sqs":
            settings = start_local_sqs_if_needed(settings, supervisor, environment)
        if receiver is not None:
            supervisor.add_and_start([receiver])
        supervisor.add_and_start(child_commands(settings))
        try:
            supervise_until_stopped(
                supervisor, settings, shutdown, announce=banner(settings, secret_key, today)
            )
        finally:
            supervisor.stop_all(shutdown)
    log.info("dev.stopped")
    return 0


def supervise_until_stopped(
    supervisor: Supervisor, settings: Settings, shutdown: Shutdown, *, announce: str
) -> None:
    """Restart children that die; print the banner once the API answers ``/readyz``."""
    announced = False
    while not shutdown.requested:
        supervisor.restart_dead_children()
        if not announced and api_is_ready(settings):
            print(announce, flush=True)  # the banner is this command's output
            announced = True
        shutdown.wait(SUPERVISE_INTERVAL_SECONDS)


# --- the demo merchant --------------------------------------------------------------------------------


def ensure_demo_secret_key(container: Container) -> str:
    """The demo merchant's secret key: the saved one while it works, else a newly issued one."""
    key_file = container.settings.data_dir / DEMO_KEY_FILE
    merchant = merchant_service.find_merchant_by_name(DEMO_MERCHANT_NAME, uow=container.uow())
    if merchant is None:
        onboarded = merchant_service.create_merchant(
            DEMO_MERCHANT_NAME,
            currency=container.settings.default_currency,
            debit_fee_bps=container.settings.debit_fee_bps,
            credit_fee_bps=container.settings.credit_fee_bps,
            mode="test",
            uow=container.uow(),
            clock=container.clock,
        )
        log.info("dev.demo_merchant_created", merchant_id=str(onboarded.merchant.id))
        return remember_secret_key(key_file, onboarded.key.secret_key)
    saved = read_secret_key(key_file)
    if saved is not None and key_authenticates_as(saved, merchant.id, container):
        return saved
    issued = merchant_service.create_api_key(merchant.id, "test", uow=container.uow(), clock=container.clock)
    log.info("dev.demo_key_issued", merchant_id=str(merchant.id), api_key_id=str(issued.api_key.id))
    return remember_secret_key(key_file, issued.secret_key)


DEMO_WEBHOOK_DESCRIPTION = "psp dev --demo-webhook receiver"


def register_demo_webhook(container: Container) -> ChildCommand:
    """A receiver on a free loopback port, registered (afresh: the port changes) for the demo merchant."""
    merchant = merchant_service.find_merchant_by_name(DEMO_MERCHANT_NAME, uow=container.uow())
    if merchant is None:  # pragma: no cover - ensure_demo_secret_key made it
        raise RuntimeError("the demo merchant is missing")
    principal = Principal(merchant_id=merchant.id, api_key_id=merchant.id, mode="test")
    page = webhook_service.list_endpoints(principal, PageRequest(limit=MAX_LIMIT), uow=container.uow())
    for old in page.items:
        if old.description == DEMO_WEBHOOK_DESCRIPTION:
            webhook_service.delete_endpoint(principal, old.id, uow=container.uow(), clock=container.clock)
    port = free_port()
    endpoint = webhook_service.create_endpoint(
        principal,
        webhook_service.NewEndpoint(
            url=f"http://127.0.0.1:{port}/webhooks",
            enabled_events=("*",),
            description=DEMO_WEBHOOK_DESCRIPTION,
        ),
        uow=container.uow(),
        resolver=container.host_resolver(),
        clock=container.clock,
    )
    log.info("dev.demo_webhook_registered", endpoint_id=str(endpoint.id), port=port)
    argv = [sys.executable, "-m", "psp.transporters.demo_receiver", str(port)]
    return ChildCommand("demo-webhook", argv, environment={SECRET_VARIABLE: endpoint.secret})


def key_authenticates_as(secret_key: str, merchant_id: object, container: Container) -> bool:
    """Tell whether the key is active and belongs to that merchant (the saved file may be stale)."""
    try:
        principal = merchant_service.authenticate(secret_key, uow=container.uow())
    except AuthenticationFailed:
        return False
    return principal.merchant_id == merchant_id


def read_secret_key(path: Path) -> str | None:
    """The key saved by an earlier run, if any."""
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None


def remember_secret_key(path: Path, secret_key: str) -> str:
    """Write the key readable by its owner only (0600), replacing any older one atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        os.fchmod(file.fileno(), 0o600)  # O_CREAT's mode does not apply to a file left from a crash
        file.write(secret_key + "\n")
    os.replace(temporary, path)
    return secret_key


# --- children -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChildCommand:
    name: str
    argv: list[str]
    environment: dict[str, str] = field(default_factory=dict, repr=False)  # on top of the supervisor's


def child_commands(settings: Settings) -> list[ChildCommand]:
    """The API, the payables and webhooks workers, the scheduler (with SQS the relay): ``psp`` commands."""
    psp = [sys.executable, "-m", "psp.transporters.cli"]
    commands = [
        ChildCommand("api", [*psp, "serve"]),
        ChildCommand("worker", [*psp, "worker", "payables"]),
        ChildCommand("scheduler", [*psp, "scheduler"]),
        ChildCommand("webhooks", [*psp, "worker", "webhooks"]),
    ]
    if settings.queue_backend == "sqs":
        commands.append(ChildCommand("relay", [*psp, "relay"]))
    return commands


# --- a local SQS endpoint -------------------------------------------------------------------------------


def start_local_sqs_if_needed(
    settings: Settings, supervisor: Supervisor, environment: dict[str, str]
) -> Settings:
    """With the SQS backend and no endpoint configured, run moto's SQS server on loopback and use it.

    Its queues live in memory: they start empty with each run, which the outbox makes harmless (events
    not yet relayed are still in the database, and the relay sends them again).
    """
    if settings.sqs_endpoint_url is None:
        port = free_port()
        endpoint = f"http://127.0.0.1:{port}"
        environment.update(PSP_SQS_ENDPOINT_URL=endpoint)
        for name, value in LOCAL_SQS_CREDENTIALS.items():
            environment.setdefault(name, value)
            os.environ.setdefault(name, value)  # for the queue creation below, in this process
        moto = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
        supervisor.add_and_start([ChildCommand("sqs", moto)])
        wait_for_port(port, LOCAL_SQS_START_TIMEOUT_SECONDS, name="the local SQS endpoint")
        settings = replace(settings, sqs_endpoint_url=endpoint)
        log.info("dev.local_sqs_started", endpoint=endpoint)
    from psp.data_sources.sqs.client import build_sqs_client, create_psp_queues  # noqa: PLC0415 - boto3

    create_psp_queues(build_sqs_client(settings), settings)
    return settings


@dataclass
class Child:
    command: ChildCommand
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    restart_delay: float = FIRST_RESTART_DELAY_SECONDS
    restarts: int = 0


class Supervisor:
    """Starts children in their own process groups, restarts the ones that die, stops them all."""

    def __init__(self, commands: list[ChildCommand], environment: dict[str, str]) -> None:
        self._children = [Child(command) for command in commands]
        self._environment = environment

    def add_and_start(self, commands: list[ChildCommand]) -> None:
        for command in commands:
            child = Child(command)
            self._children.append(child)
            self._start(child)

    def restart_dead_children(self) -> None:
        now = time.monotonic()
        for child in self._children:
            if child.process is not None and child.process.poll() is not None:
                self._schedule_restart(child, child.process.returncode, now)
            if child.restart_at is not None and now >= child.restart_at:
                self._start(child)

    def stop_all(self, shutdown: Shutdown) -> None:
        """SIGTERM every child, wait up to ~10 s (less on a second Ctrl-C), then SIGKILL what is left."""
        running = [child.process for child in self._children if child.process is not None]
        for process in running:
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while any(process.poll() is None for process in running):
            if time.monotonic() >= deadline or shutdown.forced:
                break
            time.sleep(0.05)
        for process in running:
            # The whole group: a gunicorn master killed alone would orphan its workers.
            _signal_group(process, signal.SIGKILL)
            process.wait()
        log.info("dev.children_stopped")

    def _start(self, child: Child) -> None:
        # Our own interpreter and module, arguments built here.
        child.process = subprocess.Popen(  # noqa: S603  # nosec B603
            child.command.argv,
            env={**self._environment, **child.command.environment},
            # Its own process group: a terminal's Ctrl-C reaches only the supervisor, which then stops
            # each child exactly once with SIGTERM (a second signal would make a worker stop abruptly).
            process_group=0,
        )
        child.started_at = time.monotonic()
        child.restart_at = None
        log.info("dev.child_started", child=child.command.name, pid=child.process.pid)

    def _schedule_restart(self, child: Child, returncode: int, now: float) -> None:
        if now - child.started_at >= STABLE_AFTER_SECONDS:
            child.restart_delay = FIRST_RESTART_DELAY_SECONDS
        child.process = None
        child.restart_at = now + child.restart_delay
        child.restarts += 1
        log.warning(
            "dev.child_died",
            child=child.command.name,
            exit_code=returncode,
            restart_in_seconds=child.restart_delay,
            restarts=child.restarts,
        )
        child.restart_delay = min(child.restart_delay * 2, MAX_RESTART_DELAY_SECONDS)


def _signal_group(process: subprocess.Popen[bytes], signal_number: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone, group and all
        os.killpg(process.pid, signal_number)


# --- readiness and the banner -------------------------------------------------------------------------


def api_base_url(settings: Settings) -> str:
    """Where a client on this machine reaches the API."""
    # A wildcard bind address is not somewhere to send requests; loopback reaches it.
    host = "127.0.0.1" if _is_wildcard(settings.host) else settings.host
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


def api_is_ready(settings: Settings) -> bool:
    """Tell whether ``GET /readyz`` answers 200."""
    url = f"{api_base_url(settings)}/readyz"
    try:
        # An http:// URL psp built from its own host and port.
        with urllib.request.urlopen(url, timeout=READINESS_PROBE_TIMEOUT_SECONDS) as response:  # noqa: S310  # nosec B310
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def banner(settings: Settings, secret_key: str, today: date) -> str:
    """What to paste to see psp work: a credit transaction, its payable, and how to settle it."""
    base = api_base_url(settings)
    body = json.dumps(
        {
            "amount": DEMO_AMOUNT,
            "currency": settings.default_currency,
            "description": "Demo order #1",
            "payment_method": "credit_card",
            "installments": 1,
            "card_number": DEMO_CARD_NUMBER,
            "card_holder_name": "Ada Lovelace",
            "card_expiration_date": f"12/{(today.year + 2) % 100:02d}",
            "card_verification_code": "123",
        }
    )
    settle_date = today + timedelta(days=CREDIT_SETTLEMENT_DAYS)
    database = (
        f"embedded PostgreSQL in {settings.data_dir}"
        if settings.uses_embedded_database
        else "PSP_DATABASE_URL"
    )
    return f"""
================================================================================
psp is running: API on {base} ({database})

Demo merchant secret key: {secret_key}
(kept in {settings.data_dir / DEMO_KEY_FILE})

Create a credit card transaction of {DEMO_AMOUNT}:

  curl -sS -X POST {base}/v1/transactions \\
    -H 'Authorization: Bearer {secret_key}' \\
    -H 'Content-Type: application/json' \\
    -H "Idempotency-Key: demo-$RANDOM$RANDOM" \\
    -d '{body}'

List its payable (the worker creates it within a second):

  curl -sS {base}/v1/payables -H 'Authorization: Bearer {secret_key}'

Settle as if {CREDIT_SETTLEMENT_DAYS} days had passed, from another terminal in this directory
(same PSP_DATA_DIR, no other setup):

  {psp_executable()} jobs settle --date {settle_date.isoformat()}

Then GET {base}/v1/balance shows it available. Ctrl-C stops everything.
================================================================================
"""


def psp_executable() -> str:
    """How to call ``psp`` from here: the script beside this interpreter, relative when possible."""
    script = Path(sys.executable).parent / "psp"
    if not script.exists():
        return "psp"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)


def _is_wildcard(host: str) -> bool:
    """Whether ``host`` means "every interface" (0.0.0.0, ::, or empty): somewhere to bind, not to call."""
    try:
        return host == "" or ipaddress.ip_address(host).is_unspecified
    except ValueError:  # a name, not an address
        return False
