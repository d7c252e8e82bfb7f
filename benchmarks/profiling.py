"""``profile-ingest``: the ingest load while py-spy samples every gunicorn worker, plus a cost summary.

py-spy (in the dev extras) records collapsed stacks ("raw" format) of the API's processes
without touching the product. Only the thread holding the GIL is sampled (``--gil``): py-spy does not see
a thread blocked in psycopg's C wait as idle, so without it the profile would be mostly waiting. The
profile is therefore where the API's Python CPU goes (I/O done in C with the GIL released is not in it).
The summary groups leaf frames by library (self time), splits a request into its steps, and lists the
frames with the most inclusive time; it is written next to the raw stacks under benchmarks/results/.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.bench import Bench
from benchmarks.load import run_load
from benchmarks.report import RESULTS_DIR, Figure, ScenarioResult

SAMPLE_RATE_HZ = 250
_FRAME = re.compile(r"^(?P<function>.+?) \((?P<file>[^():]+)(?::(?P<line>\d+))?\)$")

# Leaf frames by where their code lives; the first matching fragment wins.
CATEGORIES: tuple[tuple[str, str], ...] = (
    ("sqlalchemy/", "SQLAlchemy (Core, pool, dialect)"),
    ("psycopg_pool/", "psycopg pool"),
    ("psycopg/", "psycopg (driver, adaptation)"),
    ("structlog/", "logging (structlog)"),
    ("logging/", "logging (stdlib)"),
    ("prometheus_client/", "metrics (prometheus_client)"),
    ("marshmallow/", "validation (marshmallow)"),
    ("flask/", "Flask"),
    ("werkzeug/", "Werkzeug (HTTP parsing, routing)"),
    ("gunicorn/", "gunicorn"),
    ("json/", "json (stdlib)"),
    ("psp/domain/", "psp domain (cards, ids, pricing)"),
    ("psp/validators/", "psp validators"),
    ("psp/transporters/", "psp REST layer"),
    ("psp/repositories/", "psp repositories"),
    ("psp/data_sources/", "psp data sources (unit of work)"),
    ("psp/services/", "psp services"),
    ("psp/", "psp other"),
    ("uuid.py", "uuid (stdlib)"),
    ("hmac.py", "hmac/hashlib (stdlib)"),
    ("threading.py", "threading (stdlib)"),
    ("selectors.py", "selectors (stdlib)"),
    ("socket.py", "socket (stdlib)"),
)


# What a POST /v1/transactions does, by the function that does it; a sample goes to the innermost step on
# its stack, so nested steps are not counted twice. Whatever matches none is framework and server.
STEPS: tuple[tuple[str, str, str], ...] = (
    ("auth: api key query", "PostgresApiKeyRepository.find_by_hash", "repositories/postgres/merchants.py"),
    ("merchant query", "PostgresMerchantRepository.get", "repositories/postgres/merchants.py"),
    ("INSERT transaction (Core statement)", "PostgresTransactionRepository.add", "repositories/postgres"),
    ("INSERT outbox (Core statement)", "PostgresOutboxRepository.add", "repositories/postgres"),
    ("COMMIT", "PostgresUnitOfWork.commit", "data_sources/postgres"),
    ("unit of work open (pool checkout, pre-ping)", "PostgresUnitOfWork.__enter__", "data_sources/postgres"),
    ("unit of work close (rollback, pool return)", "PostgresUnitOfWork.__exit__", "data_sources/postgres"),
    ("card checks (Luhn, brand, HMAC)", "validate_card", "psp/domain/cards.py"),
    ("body validation (marshmallow)", "parse_new_transaction", "psp/validators"),
    ("JSON body parsing", "parse_json_body", "rest/middlewares.py"),
    ("acquirer simulator", "SimulatorAcquirer.authorize", "repositories/acquirers.py"),
    ("response (serialise, Response)", "outcome_response", "rest/blueprints/transactions.py"),
    ("access log + metrics (after_request)", "finish_request", "rest/middlewares.py"),
    ("request id + log context (before_request)", "start_request", "rest/middlewares.py"),
    ("rest of auth (header, hashing)", "authenticate_api_request", "rest/middlewares.py"),
    ("rest of the service (domain objects, event)", "create_transaction", "psp/services/transactions.py"),
)


def profile_ingest(bench: Bench) -> tuple[ScenarioResult, Path]:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    bench.start_api()
    bench.start_worker()
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    raw_path = RESULTS_DIR / f"profile-ingest-{stamp}.txt"
    spec = bench.ingest_spec(bench.api_port)
    seconds = round(spec.warmup + spec.duration)
    record = [
        py_spy,
        "record",
        "--pid",
        str(bench.api_pids.values[0]),
        "--subprocesses",
        "--nonblocking",
        "--gil",
    ]
    record += ["--rate", str(SAMPLE_RATE_HZ), "--format", "raw", "--output", str(raw_path)]
    record += ["--duration", str(seconds)]
    with subprocess.Popen(record, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as spy:
        try:
            outcome = run_load(spec, bench.monitor, bench.loadgen_pids, bench.work_dir)
            _, errors = spy.communicate(timeout=seconds + 60)
        finally:
            if spy.poll() is None:
                spy.kill()
    if not raw_path.exists():
        raise RuntimeError(f"py-spy wrote no profile: {errors[-1000:]}")
    summary = summarize(raw_path)
    summary_path = raw_path.with_name(raw_path.stem + "-summary.txt")
    api_cpu = outcome.usage.get("api (gunicorn)")
    completed = outcome.result["completed"] or 1
    header = ""
    if api_cpu is not None:
        header = (
            f"API CPU per request: {api_cpu.cpu_seconds / completed * 1000:.2f} ms ({completed:,} requests)\n"
        )
    summary_path.write_text(header + summary)
    result = ScenarioResult(
        "profile-ingest",
        f"ingest load, py-spy at {SAMPLE_RATE_HZ} Hz on every gunicorn worker (GIL holder, non-blocking)",
        figures=[
            Figure(
                "psp under the profiler",
                outcome.result["ok_throughput"],
                "req/s",
                outcome.result["latency_ms"],
                outcome.result["error_count"],
            )
        ],
        details={"raw": str(raw_path), "summary": str(summary_path)},
        notes=[f"stacks: {raw_path}", f"summary: {summary_path}"],
    )
    result.add_processes("profiled load", outcome.usage)
    return result, summary_path


def summarize(raw_path: Path, top: int = 30) -> str:
    """Self time by library, then the frames with the most inclusive time, as text."""
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    steps: Counter[str] = Counter()
    total = 0
    for line in raw_path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame for frame in stack.split(";") if _FRAME.match(frame)]
        if not frames:
            continue
        total += count
        self_time[_category(frames[-1])] += count
        steps[_step(frames)] += count
        for frame in {_short(frame) for frame in frames}:
            inclusive[frame] += count
    lines = [f"{total:,} samples of the GIL-holding thread", "", "self time by library:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in self_time.most_common()]
    lines += ["", "a POST /v1/transactions, step by step (innermost step on the stack):"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in steps.most_common()]
    lines += ["", f"top {top} frames by inclusive time:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(lines) + "\n"


def _step(frames: list[str]) -> str:
    for frame in reversed(frames):
        match = _FRAME.match(frame)
        if match is None:
            continue
        for label, function, file_fragment in STEPS:
            if match.group("function") == function and file_fragment in match.group("file"):
                return label
    return "framework and server (gunicorn, Werkzeug, Flask)"


def _category(frame: str) -> str:
    match = _FRAME.match(frame)
    filename = match.group("file") if match else frame
    for fragment, name in CATEGORIES:
        if fragment in filename:
            return name
    return "other (stdlib, interpreter)"


def _short(frame: str) -> str:
    match = _FRAME.match(frame)
    if match is None:
        return frame
    parts = Path(match.group("file")).parts
    short = (
        "/".join(parts[-3:])
        if "site-packages" not in parts
        else "/".join(parts[parts.index("site-packages") + 1 :])
    )
    return f"{match.group('function')} ({short})"
