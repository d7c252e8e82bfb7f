"""gunicorn settings of the framework ceiling: psp's server settings, minus psp (no worker recycling)."""

from __future__ import annotations

import os
from pathlib import Path

bind = [f"127.0.0.1:{os.environ['BENCH_PORT']}"]
worker_class = "psp.transporters.gunicorn_worker.LeastBusyThreadWorker"  # as psp's
workers = int(os.environ.get("BENCH_WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("BENCH_WEB_THREADS", "4"))
timeout = 30
graceful_timeout = 20
keepalive = 75
accesslog = None
errorlog = "-"
loglevel = "warning"
worker_tmp_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None  # noqa: S108 - a RAM disk
control_socket_disable = True
proc_name = "bench-bare"
