"""Driving the load generator process from the orchestrator, and measuring the processes meanwhile."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.loadgen import DRAIN_SECONDS, LoadSpec
from benchmarks.monitor import GroupUsage, ResourceMonitor
from benchmarks.processes import REPO_ROOT

WATCHDOG_MARGIN_SECONDS = 30.0


@dataclass
class PidHolder:
    """Pids a monitor group reads at each sample; filled in when the process exists."""

    values: list[int] = field(default_factory=list)

    def __call__(self) -> list[int]:
        return list(self.values)


def http_request(
    method: str,
    path: str,
    port: int,
    *,
    token: str | None = None,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> str:
    """A raw HTTP/1.1 keep-alive request (latin-1 text), ready for ``LoadSpec.requests``."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Accept: application/json"]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    lines.extend(f"{name}: {value}" for name, value in (headers or {}).items())
    payload = b"" if body is None else json.dumps(body).encode()
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    return "\r\n".join(lines) + "\r\n\r\n" + payload.decode("latin-1")


@dataclass
class LoadOutcome:
    result: dict[str, Any]
    usage: dict[str, GroupUsage]
    window: tuple[float, float] = (
        0.0,
        0.0,
    )  # wall-clock (epoch seconds) start and end of the measured window

    def as_dict(self) -> dict[str, Any]:
        return {"load": self.result, "processes": {name: use.as_dict() for name, use in self.usage.items()}}


def run_load(
    spec: LoadSpec, monitor: ResourceMonitor, loadgen_pids: PidHolder, work_dir: Path
) -> LoadOutcome:
    """Run the load generator as its own process; measure every group over its measured window."""
    spec_path, result_path = work_dir / "load-spec.json", work_dir / "load-result.json"
    spec_path.write_text(json.dumps(asdict(spec)))
    result_path.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "benchmarks.loadgen", str(spec_path), str(result_path)]
    process = subprocess.Popen(argv, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True)
    loadgen_pids.values[:] = [process.pid]
    watchdog = threading.Timer(
        spec.warmup + spec.duration + DRAIN_SECONDS + WATCHDOG_MARGIN_SECONDS, process.kill
    )
    watchdog.start()
    usage: dict[str, GroupUsage] = {}
    window = [0.0, 0.0]
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.strip() == "MEASURING":
                window[0] = time.time()
                monitor.start_window()
            elif line.strip() == "DONE":
                window[1] = time.time()
                usage = monitor.stop_window()
        process.wait()
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
        loadgen_pids.values.clear()
    if process.returncode != 0 or not result_path.exists():
        raise RuntimeError(f"the load generator failed with status {process.returncode}")
    return LoadOutcome(json.loads(result_path.read_text()), usage, (window[0], window[1]))
