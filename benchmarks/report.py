"""Results: one text table per scenario on stdout, and everything as JSON under benchmarks/results/."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.monitor import GroupUsage
from benchmarks.processes import REPO_ROOT

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Figure:
    """One row of a scenario's table."""

    label: str
    rate: float | None  # per second, in ``unit``
    unit: str
    latency_ms: dict[str, float] = field(default_factory=dict)
    errors: int | None = None
    note: str = ""


@dataclass
class Target:
    description: str
    met: bool | None  # None: could not be judged (a figure is missing)
    measured: str


@dataclass
class ScenarioResult:
    name: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    ratios: dict[str, float | None] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    processes: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # phase -> group -> use
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add_processes(self, phase: str, usage: dict[str, GroupUsage]) -> None:
        self.processes[phase] = {
            name: use.as_dict() for name, use in usage.items() if use.processes or use.cpu_seconds
        }


def ratio(value: float | None, ceiling: float | None) -> float | None:
    if value is None or not ceiling:
        return None
    return round(value / ceiling, 3)


def render(result: ScenarioResult) -> str:
    lines = [f"\n=== {result.name}: {result.title} ==="]
    lines.append(
        f"{'':32}{'rate':>12}  {'unit':<14}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}"
    )
    for figure in result.figures:
        latency = figure.latency_ms
        lines.append(
            f"{figure.label:32}{_number(figure.rate):>12}  {figure.unit:<14}"
            f"{_number(latency.get('p50')):>9}{_number(latency.get('p95')):>9}"
            f"{_number(latency.get('p99')):>9}{_number(latency.get('max')):>9}"
            f"{_number(figure.errors):>8}" + (f"  {figure.note}" if figure.note else "")
        )
    for name, value in result.ratios.items():
        lines.append(f"  ratio {name}: {'n/a' if value is None else f'{value:.2f}'}")
    for target in result.targets:
        verdict = {True: "MET", False: "MISSED", None: "n/a"}[target.met]
        lines.append(f"  target {target.description}: {target.measured} -> {verdict}")
    for phase, groups in result.processes.items():
        lines.append(
            f"  processes during {phase}:   cpu s    cpu %(1 core=100)   peak RSS MB (sum / largest)"
        )
        for group, use in groups.items():
            if not use["peak_rss_mb"]:  # whole-machine lines: CPU only
                lines.append(f"    {group:22}{use['cpu_seconds']:>8.1f}{use['cpu_percent']:>10.0f}")
                continue
            lines.append(
                f"    {group:22}{use['cpu_seconds']:>8.1f}{use['cpu_percent']:>10.0f}"
                f"{use['peak_rss_mb']:>20.0f} / {use['peak_process_rss_mb']:.0f}  ({use['processes']} proc)"
            )
    lines.extend(f"  note: {note}" for note in result.notes)
    return "\n".join(lines)


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) or value >= 100:
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def write_json(results: list[ScenarioResult], run: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"{stamp}.json"
    path.write_text(
        json.dumps({"run": run, "scenarios": [asdict(r) for r in results]}, indent=2, default=str)
    )
    return path


def run_metadata(arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "started_at": datetime.now(UTC).isoformat(),
        "git_revision": _git_revision(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "machine": platform.platform(),
        "load_average_at_start": os.getloadavg(),
        "arguments": arguments,
    }


def _git_revision() -> str:
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return "unknown"
    return described.stdout.strip() or "unknown"
