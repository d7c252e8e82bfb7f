"""gunicorn settings, loaded by ``psp serve`` as ``-c python:psp.transporters.gunicorn_config``.

gunicorn reads this module's public names as its settings, so everything else here is private. Values
come from the same ``PSP_*`` variables as the rest of psp; ``psp serve`` has already validated them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prometheus_client import multiprocess

from psp.config import Settings

_settings = Settings.from_env()

_host = f"[{_settings.host}]" if ":" in _settings.host else _settings.host  # IPv6 needs brackets
bind = [f"{_host}:{_settings.port}"]
# gunicorn's threaded worker, except that each new connection goes to the least busy worker
# (``gunicorn_worker``): kept-alive connections no longer pile up on one worker.
worker_class = "psp.transporters.gunicorn_worker.LeastBusyThreadWorker"
workers = _settings.web_concurrency
threads = _settings.web_threads

# Requests are short (the slowest is one acquirer call and two small writes), so a worker silent for
# 30 s is stuck; on SIGTERM in-flight requests get 20 s, within ECS's default 30 s stop timeout.
timeout = 30
graceful_timeout = 20
# Longer than the load balancer's 60 s idle timeout, so the balancer (not gunicorn) closes idle
# connections and never sends a request on a socket gunicorn just closed (a 502).
keepalive = 75

# Recycle workers now and then (a guard against slow leaks), with jitter so they never all restart at
# once. Not too often: a restart re-imports the app (0.6 s of CPU) and drops its keep-alive connections;
# at 10,000 requests a worker restarted every 13 s under the ingest benchmark, with 0.5 s latency spikes.
max_requests = 100_000
max_requests_jitter = 10_000

# The app logs every request itself, with its request id, as structured JSON.
accesslog = None
errorlog = "-"
loglevel = _settings.log_level.lower()

# Heartbeat files in memory: a container's overlay file system can stall them and get workers killed.
# A RAM disk, not a temporary file.
worker_tmp_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None  # noqa: S108  # nosec B108

# psp does not use gunicorn's control interface; a fixed socket path would clash between instances.
control_socket_disable = True

proc_name = "psp-api"


def child_exit(_server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges from the shared metrics directory (its counters stay summed)."""
    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
