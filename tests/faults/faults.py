"""The faults, injected one after another at random (seeded) moments while the load runs.

Process kills are SIGKILLs of the whole process group at a random instant; the stack's supervisor starts
the process again. PostgreSQL restarts stop the server (``fast`` or ``immediate``), keep it down a random
while, and start it again on the same data and port. SQS faults act on the proxy in front of the endpoint.
Acquirer faults are not scheduled: the simulator fails and times out at random on every call all along
(see ``StackConfig``); the client-side answers count them.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.faults.stack import Stack

PROCESS_KILLS = ("kill_api", "kill_worker", "kill_relay", "kill_settle")
DATABASE_FAULTS = ("postgres_restart_fast", "postgres_restart_immediate")
SQS_FAULTS = ("sqs_down", "sqs_latency")
# After PostgreSQL answers again, connections in pools are replaced on first use; a 503 answered in
# these seconds still belongs to the outage.
OUTAGE_MARGIN_SECONDS = 5.0


@dataclass(frozen=True)
class InjectedFault:
    kind: str
    started: float  # wall-clock
    ended: float
    detail: str


@dataclass
class FaultLog:
    faults: list[InjectedFault] = field(default_factory=list)
    outages: list[tuple[float, float]] = field(default_factory=list)  # database down, with margins

    def count(self, kind: str) -> int:
        return sum(1 for fault in self.faults if fault.kind == kind)


def kinds_for(backend: str) -> list[str]:
    kinds = [*PROCESS_KILLS, *DATABASE_FAULTS]
    if backend == "sqs":
        kinds += list(SQS_FAULTS)
    else:
        kinds.remove("kill_relay")  # no relay: the outbox is the queue
    return kinds


class FaultInjector:
    def __init__(self, stack: Stack, seed: int, pause: tuple[float, float] = (1.0, 3.0)) -> None:
        self._stack = stack
        self._rng = random.Random(f"{seed}-faults-{stack.config.backend}")
        self._pause = pause
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.log = FaultLog()
        self.kinds = kinds_for(stack.config.backend)

    def start(self, target: int) -> None:
        self._thread = threading.Thread(target=self._run, args=(target,), name="faults", daemon=True)
        self._thread.start()

    def done(self) -> bool:
        return self._thread is not None and not self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(120)

    def _run(self, target: int) -> None:
        # Every kind at least once, in random order, then random kinds up to the target.
        plan = self.kinds[:]
        self._rng.shuffle(plan)
        while len(plan) < target:
            plan.append(self._rng.choice(self.kinds))
        for kind in plan:
            if self._stop.wait(self._rng.uniform(*self._pause)):
                return
            self.inject(kind)

    def inject(self, kind: str) -> None:
        actions: dict[str, Callable[[], str]] = {
            "kill_api": lambda: self._kill("api"),
            "kill_worker": lambda: self._kill(self._rng.choice(self._stack.service_names("worker-"))),
            "kill_relay": lambda: self._kill("relay"),
            "kill_settle": self._kill_settle,
            "postgres_restart_fast": lambda: self._restart_postgres("fast"),
            "postgres_restart_immediate": lambda: self._restart_postgres("immediate"),
            "sqs_down": self._sqs_down,
            "sqs_latency": self._sqs_latency,
        }
        started = time.time()
        detail = actions[kind]()
        self.log.faults.append(InjectedFault(kind, started, time.time(), detail))

    def _kill(self, name: str) -> str:
        # A just-restarted process may still be starting: wait for it so the kill lands on a live one.
        deadline = time.monotonic() + 10
        while not self._stack.kill(name):
            if time.monotonic() > deadline:
                return f"{name}: not running"
            time.sleep(0.1)
        return f"SIGKILL {name}"

    def _kill_settle(self) -> str:
        killed = self._stack.jobs["settle"].kill_running(self._rng)
        return "SIGKILL psp jobs settle mid-run" if killed else "settle: no run to kill"

    def _restart_postgres(self, mode: str) -> str:
        down_for = self._rng.uniform(1.0, 4.0)
        began = time.time()
        self._stack.postgres.stop(mode)
        time.sleep(down_for)
        self._stack.postgres.start()
        self._stack.postgres.wait_ready()
        self.log.outages.append((began - 1.0, time.time() + OUTAGE_MARGIN_SECONDS))
        return f"pg_ctl stop -m {mode}, down {down_for:.1f} s"

    def _sqs_down(self) -> str:
        proxy = self._stack.proxy
        assert proxy is not None
        down_for = self._rng.uniform(2.0, 6.0)
        proxy.down()
        time.sleep(down_for)
        proxy.up()
        return f"SQS endpoint unreachable {down_for:.1f} s"

    def _sqs_latency(self) -> str:
        proxy = self._stack.proxy
        assert proxy is not None
        delay, lasting = self._rng.uniform(0.2, 1.0), self._rng.uniform(3.0, 8.0)
        proxy.latency(delay)
        time.sleep(lasting)
        proxy.latency(0.0)
        return f"+{delay * 1000:.0f} ms per SQS round trip for {lasting:.1f} s"
