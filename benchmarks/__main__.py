"""``python -m benchmarks [scenario ...] [options]``: run scenarios, print their tables, save JSON.

Scenarios: ceilings, ingest, pipeline, lists, balance, settlement, all (the default), profile-ingest.
Figures are informative: a missed target never changes the exit status.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from psycopg import sql

from benchmarks.bench import Bench, Sizes
from benchmarks.database import Database, database
from benchmarks.product import ServerSettings
from benchmarks.report import ScenarioResult, render, run_metadata, write_json
from benchmarks.scenarios import SCENARIOS

ALL = "all"
PROFILE = "profile-ingest"


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument(
        "scenarios",
        nargs="*",
        metavar="scenario",
        help=f"one or more of: {', '.join([*SCENARIOS, ALL, PROFILE])} (default: all)",
    )
    parser.add_argument("--duration", type=float, help="seconds of measured load (default 30; --quick: 3)")
    parser.add_argument(
        "--connections", type=int, default=32, help="HTTP connections for ingest (default 32)"
    )
    parser.add_argument(
        "--read-connections", type=int, default=4, help="connections for lists and balance (default 4)"
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes and short runs: a smoke test")
    parser.add_argument(
        "--web-concurrency", type=int, default=2, help="gunicorn workers (PSP_WEB_CONCURRENCY)"
    )
    parser.add_argument("--web-threads", type=int, default=4, help="threads per worker (PSP_WEB_THREADS)")
    parser.add_argument("--db-pool-size", type=int, help="PSP_DB_POOL_SIZE (default: the product's)")
    parser.add_argument("--no-worker", action="store_true", help="ingest without the payables worker running")
    parser.add_argument(
        "--idempotency-keys", action="store_true", help="send a unique Idempotency-Key on every POST"
    )
    parser.add_argument(
        "--skip-ceilings",
        action="store_true",
        help="ingest without measuring the ceilings (quicker iterations)",
    )
    parser.add_argument(
        "--pg-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="ALTER SYSTEM SET on the embedded server before the run (reloadable settings only), repeatable",
    )
    parser.add_argument("--keep-work-dir", action="store_true", help="keep process logs (printed path)")
    arguments = parser.parse_args(argv)
    unknown = set(arguments.scenarios) - {*SCENARIOS, ALL, PROFILE}
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    arguments.scenarios = arguments.scenarios or [ALL]
    return arguments


def selected(names: list[str]) -> list[str]:
    if PROFILE in names:
        return [PROFILE]
    if ALL in names:
        return list(SCENARIOS)
    return [name for name in SCENARIOS if name in names]  # in the canonical order: settlement last


def run(arguments: argparse.Namespace) -> list[ScenarioResult]:
    sizes = Sizes.chosen(
        quick=arguments.quick,
        duration=arguments.duration,
        connections=arguments.connections,
        read_connections=arguments.read_connections,
    )
    settings = ServerSettings(arguments.web_concurrency, arguments.web_threads, arguments.db_pool_size)
    work_dir = Path(tempfile.mkdtemp(prefix="psp-bench-"))
    results: list[ScenarioResult] = []
    try:
        with database(os.environ.get("PSP_DATABASE_URL")) as db:
            apply_settings(db, arguments.pg_setting)
            bench = Bench(
                db,
                settings,
                sizes,
                work_dir,
                idempotency_keys=arguments.idempotency_keys,
                skip_ceilings=arguments.skip_ceilings,
            )
            with bench.running():
                for name in selected(arguments.scenarios):
                    results.append(run_one(bench, name, no_worker=arguments.no_worker))
                    print(render(results[-1]), flush=True)
    finally:
        if arguments.keep_work_dir:
            print(f"logs kept in {work_dir}")
        else:
            shutil.rmtree(work_dir, ignore_errors=True)
    return results


def apply_settings(db: Database, settings: list[str]) -> None:
    if settings and not db.embedded:
        raise SystemExit("--pg-setting only applies to the embedded server")
    for setting in settings:
        name, _, value = setting.partition("=")
        if not name.replace("_", "").isalnum():
            raise SystemExit(f"not a setting name: {name!r}")
        db.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
    if settings:
        db.execute("SELECT pg_reload_conf()")


def run_one(bench: Bench, name: str, *, no_worker: bool) -> ScenarioResult:
    print(f"\n--- running {name} ...", flush=True)
    started = time.monotonic()
    if name == PROFILE:
        from benchmarks.profiling import profile_ingest

        result, summary = profile_ingest(bench)
        print(summary.read_text())
    elif name == "ingest":
        from benchmarks.scenarios import ingest_scenario

        result = ingest_scenario(bench, with_worker=not no_worker)
    else:
        result = SCENARIOS[name](bench)
    result.details["scenario_seconds"] = round(time.monotonic() - started, 1)
    return result


def main(argv: list[str]) -> int:
    arguments = parse_arguments(argv)
    metadata = run_metadata(vars(arguments))
    started = time.monotonic()
    results = run(arguments)
    metadata["seconds"] = round(time.monotonic() - started, 1)
    metadata["note"] = (
        "the load generator, PostgreSQL and psp share this machine's cores; "
        "other work on the machine skews the figures (see 'other processes (noise)')"
    )
    path = write_json(results, metadata)
    print(f"\nresults: {path}  ({metadata['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
