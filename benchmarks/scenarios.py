"""The scenarios of the performance issue; each returns a ScenarioResult, none fails on a missed target."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from benchmarks.bench import DRAIN_POLL_SECONDS, Bench, Ceilings
from benchmarks.ceilings import run_pgbench
from benchmarks.load import LoadOutcome, run_load
from benchmarks.report import Figure, ScenarioResult, Target, ratio
from benchmarks.seed import row_at_depth, seed_approved_events

SETTLE_TIMEOUT_SECONDS = 900.0
PIPELINE_TIMEOUT_SECONDS = 600.0
LAG_DRAIN_TIMEOUT_SECONDS = 60.0
RSS_GROWTH_LIMIT_MB = 64.0  # "memory flat": the settle job may not grow more than this after start-up


def _load_figure(label: str, outcome: LoadOutcome, *, ok: bool = True, unit: str = "req/s") -> Figure:
    load = outcome.result
    return Figure(
        label=label,
        rate=round(load["ok_throughput"] if ok else load["throughput"], 1),
        unit=unit,
        latency_ms=load["latency_ms"],
        errors=load["error_count"],
        note=_status_note(load),
    )


def _status_note(load: dict[str, Any]) -> str:
    parts = [f"statuses {load['statuses']}"]
    if load["errors"]:
        parts.append(f"errors {load['errors']}")
    if load.get("unexpected_sample"):
        parts.append(f"first unexpected: {load['unexpected_sample'][:120]!r}")
    return "; ".join(parts)


def _ceiling_figures(ceilings: Ceilings) -> list[Figure]:
    figures = []
    if ceilings.postgres is not None:
        figures.append(
            Figure(
                "postgres ceiling (pgbench)",
                round(ceilings.postgres.tps, 1),
                "tx/s",
                ceilings.postgres.latency_ms,
                ceilings.postgres.failed,
                note="psp's 3-row approval statement, -M prepared",
            )
        )
    figures.append(_load_figure("framework ceiling (bare Flask)", ceilings.framework))
    return figures


# --- ceilings ------------------------------------------------------------------------------------------


def ceilings_scenario(bench: Bench) -> ScenarioResult:
    ceilings = bench.measure_ceilings()
    result = ScenarioResult(
        "ceilings",
        f"psp's approval statement, {bench.sizes.connections} connections, {bench.sizes.duration:.0f} s",
        figures=_ceiling_figures(ceilings),
    )
    if ceilings.postgres is not None:
        result.processes["pgbench"] = ceilings.postgres.as_dict()["processes"]
        result.details["pgbench"] = ceilings.postgres.as_dict()
    else:
        result.notes.append("no pgbench binary found: the PostgreSQL ceiling was not measured")
    result.add_processes("bare Flask load", ceilings.framework.usage)
    result.details["framework"] = ceilings.framework.result
    return result


# --- ingest --------------------------------------------------------------------------------------------


def ingest_scenario(bench: Bench, *, with_worker: bool = True) -> ScenarioResult:
    ceilings = None if bench.skip_ceilings else bench.measure_ceilings()
    bench.start_api()
    if with_worker:
        bench.start_worker()
    bench.database.checkpoint()
    outcome = run_load(bench.ingest_spec(bench.api_port), bench.monitor, bench.loadgen_pids, bench.work_dir)
    sizes = bench.sizes
    result = ScenarioResult(
        "ingest",
        f"POST /v1/transactions, {sizes.connections} connections, {sizes.duration:.0f} s closed loop"
        + ("" if with_worker else " (worker stopped)"),
        figures=[_load_figure("psp (approved = 201)", outcome)],
    )
    approved = outcome.result["ok_throughput"]
    p99 = outcome.result["latency_ms"].get("p99")
    errors = outcome.result["error_count"]
    result.targets = [
        Target("approved >= 2,000/s", approved >= 2000, f"{approved:,.0f}/s"),
        Target("p99 <= 50 ms", None if p99 is None else p99 <= 50, f"{p99} ms"),
        Target("zero errors", errors == 0, str(errors)),
    ]
    result.add_processes("psp load", outcome.usage)
    result.details = {"psp": outcome.result}
    result.notes.append(_cpu_per_request("psp", outcome))
    if ceilings is not None:
        _compare_with_ceilings(result, outcome, ceilings)
    if with_worker:
        drained = bench.wait_for_drain(LAG_DRAIN_TIMEOUT_SECONDS)
        result.notes.append(
            "the payables worker ran during the load, as in production (its CPU is in the table); "
            + (
                "backlog NOT drained"
                if drained is None
                else f"backlog drained {drained:.1f} s after the load"
            )
        )
    return result


def _compare_with_ceilings(result: ScenarioResult, outcome: LoadOutcome, ceilings: Ceilings) -> None:
    approved = outcome.result["ok_throughput"]
    framework = ceilings.framework.result["ok_throughput"]
    postgres = ceilings.postgres.tps if ceilings.postgres else None
    result.figures.extend(_ceiling_figures(ceilings))
    result.ratios = {
        "psp / framework": ratio(approved, framework),
        "psp / postgres": ratio(approved, postgres),
    }
    share = ratio(approved, framework)
    result.targets.append(Target("psp >= 80% of framework ceiling", (share or 0) >= 0.8, f"{share}"))
    result.add_processes("bare Flask load", ceilings.framework.usage)
    if ceilings.postgres is not None:
        result.processes["pgbench"] = ceilings.postgres.as_dict()["processes"]
    result.details["framework"] = ceilings.framework.result
    result.notes.append(_cpu_per_request("bare Flask", ceilings.framework))


def _cpu_per_request(label: str, outcome: LoadOutcome) -> str:
    completed = outcome.result["completed"] or 1
    api = outcome.usage.get("api (gunicorn)")
    database = outcome.usage.get("postgres")
    api_ms = 0.0 if api is None else api.cpu_seconds / completed * 1000
    database_ms = 0.0 if database is None else database.cpu_seconds / completed * 1000
    return f"{label}: {api_ms:.2f} ms of gunicorn CPU and {database_ms:.2f} ms of PostgreSQL CPU per request"


# --- pipeline ------------------------------------------------------------------------------------------


def pipeline_scenario(bench: Bench) -> ScenarioResult:
    throughput = _pipeline_throughput(bench)
    fed = _pipeline_lag_fed_by_pgbench(bench)
    lag = _pipeline_lag(bench)
    result = ScenarioResult(
        "pipeline",
        f"outbox -> payables: {bench.sizes.pipeline_events:,} queued events, then lag at "
        f"{bench.sizes.lag_rate:,.0f} tx/s for {bench.sizes.lag_duration:.0f} s",
    )
    result.figures.append(
        Figure(
            "worker throughput (1 process)",
            throughput["payables_per_second"],
            "payables/s",
            errors=throughput["left"],
        )
    )
    if fed is not None:
        result.figures.append(
            Figure(
                "lag, approvals fed by pgbench",
                fed["achieved_rate"],
                "tx/s created",
                fed["lag_ms"],
                fed["missing_payables"],
                note=f"{fed['offered_rate']:,.0f} tx/s offered (pgbench -R, the API's approval statement)",
            )
        )
    result.figures.append(
        Figure(
            "end-to-end lag, POSTs through the API",
            lag["achieved_rate"],
            "tx/s created",
            lag["lag_ms"],
            lag["missing_payables"],
            note=f"{lag['offered_rate']:,.0f} tx/s offered; {lag['transactions']:,} transactions measured",
        )
    )
    result.figures.append(_load_figure("  POST latency at that rate", lag["load"]))
    pps, lag_p99 = throughput["payables_per_second"], lag["lag_ms"].get("p99")
    result.targets = [
        Target(">= 5,000 payables/s in one worker", pps >= 5000, f"{pps:,.0f}/s"),
        Target(
            "p99 lag <= 1 s at 1,000 tx/s through the API (and the API keeping up with the offered rate)",
            None
            if lag_p99 is None
            else lag_p99 <= 1000 and lag["achieved_rate"] >= 0.95 * lag["offered_rate"],
            f"{lag_p99} ms at {lag['achieved_rate']:,.0f} tx/s",
        ),
    ]
    if fed is not None:
        fed_p99 = fed["lag_ms"].get("p99")
        result.targets.append(
            Target(
                "p99 lag <= 1 s at 1,000 tx/s written as the API writes them (the pipeline on its own)",
                None
                if fed_p99 is None
                else fed_p99 <= 1000 and fed["achieved_rate"] >= 0.95 * fed["offered_rate"],
                f"{fed_p99} ms at {fed['achieved_rate']:,.0f} tx/s",
            )
        )
        result.add_processes("fed by pgbench", fed.pop("usage"))
    result.add_processes("queued events drained", throughput.pop("usage"))
    result.add_processes("steady rate", lag["load"].usage)
    result.details = {"throughput": throughput, "lag": {k: v for k, v in lag.items() if k != "load"}}
    result.details["lag_fed_by_pgbench"] = fed
    result.details["lag"]["load"] = lag["load"].result
    if bench.sizes.lag_rate < 1000:
        result.notes.append(f"--quick: the steady rate is {bench.sizes.lag_rate:.0f} tx/s, not 1,000")
    return result


def _pipeline_throughput(bench: Bench) -> dict[str, Any]:
    """Queue N approved transactions' events with the worker stopped, then time one worker through them."""
    bench.start_worker()
    if bench.wait_for_drain(LAG_DRAIN_TIMEOUT_SECONDS) is None:
        raise RuntimeError("the outbox backlog did not drain before the pipeline scenario")
    bench.stop_worker()
    events = bench.sizes.pipeline_events
    seed_seconds = seed_approved_events(bench.database, bench.merchant.id, events)
    bench.database.checkpoint()
    bench.monitor.start_window()
    bench.start_worker()
    started = time.monotonic()
    first_seen: tuple[float, int] | None = None
    left = events
    while time.monotonic() - started < PIPELINE_TIMEOUT_SECONDS:
        left = bench.outbox_backlog()
        if first_seen is None and left < events:
            first_seen = (time.monotonic(), events - left)
        if left == 0 or not bench.worker_alive():
            break
        time.sleep(DRAIN_POLL_SECONDS)
    finished = time.monotonic()
    usage = bench.monitor.stop_window()
    processed = events - left
    # From the first batch seen done (the worker's start-up excluded) to the last.
    rate = 0.0
    if first_seen is not None and finished > first_seen[0]:
        rate = (processed - first_seen[1]) / (finished - first_seen[0])
    return {
        "events": events,
        "left": left,
        "seed_seconds": round(seed_seconds, 2),
        "wall_seconds_including_startup": round(finished - started, 2),
        "payables_per_second": round(rate, 1),
        "usage": usage,
    }


_LAG_SQL = """
SELECT count(t.id), count(p.id),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY lag), percentile_cont(0.95) WITHIN GROUP (ORDER BY lag),
       percentile_cont(0.99) WITHIN GROUP (ORDER BY lag), max(lag)
FROM transactions t
LEFT JOIN payables p ON p.transaction_id = t.id AND p.installment = 1
CROSS JOIN LATERAL (SELECT extract(epoch FROM p.created_at - t.created_at) * 1000 AS lag) AS l
WHERE t.merchant_id = %s AND t.created_at >= %s AND t.created_at < %s AND t.status <> 'declined'
"""


def _pipeline_lag_fed_by_pgbench(bench: Bench) -> dict[str, Any] | None:
    """The worker alone at a steady rate: pgbench writes approvals and their events as the API does
    (``benchmarks/sql.py``), paced with ``-R``; lag measured in the database. None without pgbench."""
    bench.start_worker()
    bench.database.checkpoint()
    sizes = bench.sizes
    started = datetime.now(UTC)
    outcome = run_pgbench(
        bench.database,
        bench.merchant.id,
        connections=8,
        duration=sizes.lag_duration,
        warmup=0,
        monitor=bench.monitor,
        client_pids=bench.loadgen_pids,
        work_dir=bench.work_dir,
        rate=sizes.lag_rate,
    )
    finished = datetime.now(UTC)
    if outcome is None:
        return None
    bench.wait_for_drain(LAG_DRAIN_TIMEOUT_SECONDS)
    transactions, with_payables, lag = _lag_between(bench, started, finished)
    return {
        "offered_rate": sizes.lag_rate,
        "achieved_rate": round(transactions / max((finished - started).total_seconds(), 1e-9), 1),
        "transactions": transactions,
        "missing_payables": transactions - with_payables,
        "lag_ms": lag,
        "usage": outcome.usage,
    }


def _lag_between(bench: Bench, start: datetime, end: datetime) -> tuple[int, int, dict[str, float]]:
    """Transactions created in [start, end), how many have their payable, and the lag percentiles."""
    with bench.database.connect() as connection:
        row = connection.execute(_LAG_SQL, (bench.merchant.id, start, end)).fetchone()
    assert row is not None
    transactions, with_payables = int(row[0]), int(row[1])
    if not with_payables:
        return transactions, with_payables, {}
    lag = {"p50": round(row[2], 1), "p95": round(row[3], 1), "p99": round(row[4], 1), "max": round(row[5], 1)}
    return transactions, with_payables, lag


def _pipeline_lag(bench: Bench) -> dict[str, Any]:
    """Open-loop POSTs at a steady rate with the worker running; lag measured in the database."""
    bench.start_api()
    bench.start_worker()
    bench.database.checkpoint()
    sizes = bench.sizes
    spec = bench.ingest_spec(bench.api_port, mode="open", rate=sizes.lag_rate, duration=sizes.lag_duration)
    outcome = run_load(spec, bench.monitor, bench.loadgen_pids, bench.work_dir)
    window_start, window_end = (datetime.fromtimestamp(at, UTC) for at in outcome.window)
    bench.wait_for_drain(LAG_DRAIN_TIMEOUT_SECONDS)
    transactions, with_payables, lag = _lag_between(bench, window_start, window_end)
    seconds = max(outcome.window[1] - outcome.window[0], 1e-9)
    return {
        "offered_rate": sizes.lag_rate,
        "achieved_rate": round(transactions / seconds, 1),
        "transactions": transactions,
        "missing_payables": transactions - with_payables,
        "lag_ms": lag,
        "load": outcome,
    }


# --- lists and balance --------------------------------------------------------------------------------


def lists_scenario(bench: Bench) -> ScenarioResult:
    history = bench.ensure_history()
    bench.start_api()
    merchant = bench.history_merchant
    deep = int(history.rows * 0.9)
    pages = {
        "transactions first page": "/v1/transactions?limit=20",
        f"transactions at row {deep:,}": "/v1/transactions?limit=20&starting_after="
        + _cursor(row_at_depth(bench.database, "transactions", merchant.id, deep)),
        "payables first page": "/v1/payables?status=waiting_funds&limit=20",
        f"payables at row {deep:,}": "/v1/payables?status=waiting_funds&limit=20&starting_after="
        + _cursor(
            row_at_depth(bench.database, "payables", merchant.id, deep, "AND status = 'waiting_funds'")
        ),
    }
    result = ScenarioResult(
        "lists",
        f"GET lists of a merchant with {history.rows:,} transactions and payables, "
        f"{bench.sizes.read_connections} connections, {bench.sizes.read_duration:.0f} s each",
    )
    for label, path in pages.items():
        outcome = _read_load(bench, path, merchant.secret_key)
        result.figures.append(_load_figure(label, outcome))
        result.add_processes(label, outcome.usage)
        p99 = outcome.result["latency_ms"].get("p99")
        result.targets.append(
            Target(f"{label}: p99 <= 20 ms", None if p99 is None else p99 <= 20, f"{p99} ms")
        )
        result.details[label] = {"path": path, "load": outcome.result}
    result.notes.append(
        f"seeded in {history.transactions_seconds + history.payables_seconds:.0f} s "
        f"(+{history.vacuum_seconds:.0f} s VACUUM ANALYZE), through SQL, not the API"
    )
    return result


def balance_scenario(bench: Bench) -> ScenarioResult:
    history = bench.ensure_history()
    bench.start_api()
    outcome = _read_load(bench, "/v1/balance", bench.history_merchant.secret_key)
    result = ScenarioResult(
        "balance",
        f"GET /v1/balance over {history.rows:,} payables, {bench.sizes.read_connections} connections, "
        f"{bench.sizes.read_duration:.0f} s",
        figures=[_load_figure("balance", outcome)],
    )
    p99 = outcome.result["latency_ms"].get("p99")
    result.targets.append(Target("p99 <= 20 ms", None if p99 is None else p99 <= 20, f"{p99} ms"))
    result.add_processes("balance load", outcome.usage)
    result.details = {"load": outcome.result}
    return result


def _read_load(bench: Bench, path: str, token: str) -> LoadOutcome:
    return run_load(bench.read_spec(path, token), bench.monitor, bench.loadgen_pids, bench.work_dir)


def _cursor(row: tuple[datetime, Any]) -> str:
    from psp.domain.pagination import (
        Cursor,
    )  # the product's own encoding, so the cursor is what psp hands out

    return Cursor(created_at=row[0], id=row[1]).encode()


# --- settlement ----------------------------------------------------------------------------------------


def settlement_scenario(bench: Bench) -> ScenarioResult:
    history = bench.ensure_history()
    bench.stop_worker()  # the worker has nothing to do; keep the machine to the job
    due = int(bench.database.scalar(_DUE_SQL) or 0)
    bench.database.checkpoint()
    activity_before = bench.database.activity()
    bench.monitor.start_window()
    started = time.monotonic()
    job = bench.product.settle()
    bench.job_pids.values[:] = [job.pid]
    try:
        status = job.popen.wait(SETTLE_TIMEOUT_SECONDS)
    finally:
        seconds = time.monotonic() - started
        trace = bench.monitor.rss_trace("job")
        usage = bench.monitor.stop_window()
        bench.job_pids.values.clear()
        job.stop()
    activity = _activity_since(activity_before, bench.database.activity())
    left = int(bench.database.scalar(_DUE_SQL) or 0)
    settled = due - left
    rate = settled / seconds if seconds else 0.0
    growth = _rss_growth_mb(trace)
    result = ScenarioResult(
        "settlement",
        f"psp jobs settle over {due:,} due payables ({history.rows:,} seeded)",
        figures=[
            Figure(
                "psp jobs settle (wall, incl. start-up)",
                round(rate, 1),
                "payables/s",
                errors=left,
                note=f"{seconds:.1f} s, exit status {status}",
            )
        ],
    )
    result.targets = [
        Target(f"{due:,} payables in <= 20 s", seconds <= 20 and left == 0, f"{seconds:.1f} s"),
        Target(
            f"memory flat (growth after start-up <= {RSS_GROWTH_LIMIT_MB:.0f} MB)",
            None if growth is None else growth <= RSS_GROWTH_LIMIT_MB,
            f"{growth} MB",
        ),
    ]
    result.add_processes("settlement", usage)
    result.details = {
        "due_before": due,
        "due_after": left,
        "seconds": round(seconds, 2),
        "rss_trace_mb": [(at, round(rss / 2**20, 1)) for at, rss in trace],
        "job_output": job.tail(5),
        "database_activity": activity,
    }
    result.notes.append(
        f"WAL {activity['wal_bytes'] / 2**20:,.0f} MB ({activity['wal_fpi']:,} full-page images), "
        f"{activity['autovacuum_and_analyze_runs']} autovacuum/analyze run(s) during the job"
    )
    if history.rows < 1_000_000:
        result.notes.append(f"--quick: {history.rows:,} payables, not 1,000,000")
    return result


_DUE_SQL = "SELECT count(*) FROM payables WHERE status = 'waiting_funds' AND payment_date <= current_date"


def _activity_since(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before[name] for name in after}


def _rss_growth_mb(trace: list[tuple[float, int]]) -> float | None:
    """Peak RSS minus RSS once the job is up (the first sample past a quarter of the run, or 1 s)."""
    samples = [(at, rss) for at, rss in trace if rss > 0]
    if len(samples) < 3:
        return None
    settle_from = max(1.0, samples[-1][0] / 4)
    steady = [rss for at, rss in samples if at >= settle_from] or [samples[-1][1]]
    return round((max(steady) - steady[0]) / 2**20, 1)


SCENARIOS: dict[str, Callable[[Bench], ScenarioResult]] = {
    "ceilings": ceilings_scenario,
    "ingest": ingest_scenario,
    "pipeline": pipeline_scenario,
    "lists": lists_scenario,
    "balance": balance_scenario,
    "settlement": settlement_scenario,  # last: it pays the seeded payables the others read
}
