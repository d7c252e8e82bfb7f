"""One run per queue backend: start the stack, load it while injecting faults, recover, check, report."""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field

from tests.faults.faults import FaultInjector, FaultLog
from tests.faults.invariants import Violations, backlog, check
from tests.faults.load import LoadGenerator, LoadResult
from tests.faults.stack import Stack, StackConfig

DRAIN_TIMEOUT_SECONDS = 240.0
CLIENT_FINISH_TIMEOUT_SECONDS = 180.0


@dataclass(frozen=True)
class RunConfig:
    backends: tuple[str, ...] = ("postgres", "sqs")
    transactions: int = 20_000  # in total, split evenly between the backends
    faults: int = 30  # in total, split evenly between the backends
    clients: int = 24
    # moto's SQS server (the local stand-in for SQS) slows down linearly with queue depth (a send of ten
    # takes ~0.1 s at 3,000 messages): the SQS run gets fewer clients and a smaller share of the payments
    # so the queue stays shallow and the stand-in, not psp, never becomes the bottleneck.
    sqs_clients: int = 8
    sqs_rate: float = 45.0  # payments per second offered in the SQS run
    sqs_share: float = 0.25
    seed: int = field(default_factory=lambda: random.SystemRandom().randrange(10**6))
    keep: bool = False  # keep data directories and logs

    @classmethod
    def from_env(cls, **overrides: object) -> RunConfig:
        """``PSP_FAULTS_*`` environment variables override the defaults (the Makefile passes them on)."""
        values: dict[str, object] = {}
        if "PSP_FAULTS_BACKENDS" in os.environ:
            values["backends"] = tuple(os.environ["PSP_FAULTS_BACKENDS"].split(","))
        for name, cast in (("transactions", int), ("faults", int), ("clients", int), ("seed", int)):
            raw = os.environ.get(f"PSP_FAULTS_{name.upper()}")
            if raw:
                values[name] = cast(raw)
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


@dataclass
class BackendResult:
    backend: str
    load: LoadResult
    faults: FaultLog
    violations: Violations
    stats: dict[str, int]
    load_seconds: float
    recovery_seconds: float
    exits: dict[str, list[int]]
    job_exits: dict[str, dict[int, int]]
    log_dir: str


def run_backend(config: RunConfig, backend: str, transactions: int, faults: int) -> BackendResult:
    stack = Stack(StackConfig(backend=backend))
    try:
        stack.start()
        clients = config.sqs_clients if backend == "sqs" else config.clients
        rate = config.sqs_rate if backend == "sqs" else None
        load = LoadGenerator(stack.api_port, stack.secret_keys, clients, config.seed, rate)
        injector = FaultInjector(stack, config.seed)
        load.start()
        injector.start(faults)
        # Hold the load until both the transactions and the faults are through.
        while load.completed < transactions or not injector.done():
            time.sleep(0.2)
        load.stop_starting()
        load_seconds = time.time() - load.result.started
        injector.stop()
        recovery_started = time.time()
        load.wait(CLIENT_FINISH_TIMEOUT_SECONDS)
        wait_until_drained(stack)
        recovery_seconds = time.time() - recovery_started
        stack.stop_background()
        violations, stats = check(stack, load.result, injector.log)
        return BackendResult(
            backend=backend,
            load=load.result,
            faults=injector.log,
            violations=violations,
            stats=stats,
            load_seconds=load_seconds,
            recovery_seconds=recovery_seconds,
            exits={name: service.exits for name, service in stack.services.items()},
            job_exits={name: dict(job.exits) for name, job in stack.jobs.items()},
            log_dir=str(stack.log_dir),
        )
    finally:
        stack.stop()
        if not config.keep:
            stack.destroy()


def wait_until_drained(stack: Stack) -> None:
    deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            if not any(backlog(stack).values()):
                return
        except Exception:  # noqa: S110 - a look at the backlog while things restart; try again
            pass
        time.sleep(0.5)


def run(config: RunConfig) -> list[BackendResult]:
    results = []
    for index, backend in enumerate(config.backends):
        share = len(config.backends)
        transactions = shares(config)[backend]
        faults = config.faults // share + (1 if index < config.faults % share else 0)
        results.append(run_backend(config, backend, transactions, faults))
    return results


def shares(config: RunConfig) -> dict[str, int]:
    """Payments per backend: SQS gets ``sqs_share`` of them when both run, the rest go to Postgres."""
    if len(config.backends) == 1:
        return {config.backends[0]: config.transactions}
    sqs = round(config.transactions * config.sqs_share)
    return {backend: sqs if backend == "sqs" else config.transactions - sqs for backend in config.backends}


def report(config: RunConfig, results: list[BackendResult]) -> str:
    lines = [
        "",
        "=" * 100,
        f"psp fault suite   seed {config.seed}   clients {config.clients} (SQS run: {config.sqs_clients})",
        "=" * 100,
    ]
    total_faults = total_acknowledged = total_violations = 0
    for result in results:
        payments = result.load.payments
        statuses = Counter(payment.status for payment in payments)
        acknowledged = sum(statuses[status] for status in (201, 202, 402))
        observed = Counter(
            f"{o.status or 'no answer'}{f' {o.code}' if o.code else ''}" for o in result.load.observations
        )
        attempts = sum(payment.attempts for payment in payments)
        total_faults += len(result.faults.faults)
        total_acknowledged += acknowledged
        total_violations += result.violations.total
        lines += [
            f"backend {result.backend}",
            f"  load held: {len(payments)} payments attempted ({attempts} requests), "
            f"{acknowledged} acknowledged "
            f"(201 {statuses[201]}, 202 {statuses[202]}, 402 {statuses[402]}) in {result.load_seconds:.1f} s "
            f"= {acknowledged / max(result.load_seconds, 0.001):.0f} payments/s; recovery and drain "
            f"{result.recovery_seconds:.1f} s",
            f"  database after recovery: {result.stats}",
            "  retried answers: " + (", ".join(f"{k}: {v}" for k, v in sorted(observed.items())) or "none"),
            f"  faults injected: {len(result.faults.faults)} "
            + "("
            + ", ".join(f"{kind} {count}" for kind, count in sorted(_kinds(result.faults).items()))
            + ")",
        ]
        started = result.load.started
        for fault in result.faults.faults:
            lines.append(
                f"    t+{fault.started - started:6.1f} s  {fault.kind:<27} {fault.detail}"
                f" ({fault.ended - fault.started:.1f} s)"
            )
        acquirer_failures = observed.get("503 acquirer_unavailable", 0)
        timeouts = sum(
            1
            for payment in payments
            if payment.status == 202 and payment.body["card_number"] != "4000000000000119"
        )
        lines.append(
            f"    acquirer, all along: {acquirer_failures} failures (503, retried), {timeouts} injected "
            f"time-outs (202 processing, resolved later), up to {20} ms latency per call"
        )
        lines.append(
            "  process exits seen by the supervisor: "
            + ", ".join(f"{name} {exits}" for name, exits in result.exits.items() if exits)
        )
        lines.append(f"  job runs by exit code: {result.job_exits}")
        lines.append(f"  invariant violations: {result.violations.total}")
        lines += result.violations.lines()
        if config.keep:
            lines.append(f"  logs: {result.log_dir}")
    lines += [
        "-" * 100,
        f"TOTAL: {total_acknowledged} transactions acknowledged, {total_faults} faults injected, "
        f"{total_violations} invariant violations (seed {config.seed})",
        "=" * 100,
    ]
    return "\n".join(lines)


def _kinds(log: FaultLog) -> Counter[str]:
    return Counter(fault.kind for fault in log.faults)
