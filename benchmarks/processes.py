"""Child processes the benchmark starts: each in its own session, so stopping one stops its whole tree."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PSP = str(BIN / "psp")
STOP_TIMEOUT_SECONDS = 25.0  # gunicorn gives in-flight requests 20 s on SIGTERM


class ManagedProcess:
    """A child in a new session with its output in a log file; ``stop`` terminates its process group."""

    def __init__(
        self, name: str, argv: Sequence[str], env: Mapping[str, str], log_dir: Path, cwd: Path = REPO_ROOT
    ) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                list(argv),
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int | None:
        """Signal the group, wait, then kill it; returns the exit status (None if it had to be killed)."""
        if self.running():
            _signal_group(self.pid, sig)
            try:
                return self.popen.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                pass
        _signal_group(self.pid, signal.SIGKILL)  # stragglers of the group, even after the leader exited
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(5)
        return self.popen.returncode

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


@contextlib.contextmanager
def started(process: ManagedProcess) -> Iterator[ManagedProcess]:
    try:
        yield process
    finally:
        process.stop()


def run_command(argv: Sequence[str], env: Mapping[str, str], timeout: float = 120.0) -> str:
    """Run a short command to completion; its stdout, or an error carrying its output."""
    result = subprocess.run(
        list(argv), env=dict(env), cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return result.stdout


def wait_http_ready(
    process: ManagedProcess, port: int, path: str = "/healthz", timeout: float = 60.0
) -> None:
    """Poll ``path`` until it answers 200; fail early (with the log) if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.running():
            raise RuntimeError(f"{process.name} exited during start-up:\n{process.tail()}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", path)
            if connection.getresponse().status == 200:
                connection.close()
                return
        time.sleep(0.1)
    raise RuntimeError(f"{process.name} not ready after {timeout:.0f} s:\n{process.tail()}")
