"""The stuck-transactions job: a thin wrapper over ``resolve_processing`` for the CLI."""

from __future__ import annotations

import time

import structlog

from psp.bootstrap import Container
from psp.services.processing import ResolutionReport, resolve_processing

log = structlog.get_logger(__name__)

RESOLUTION_CHUNK_SIZE = 100  # transactions per database transaction (their rows stay locked meanwhile)


def resolve(container: Container, *, chunk_size: int = RESOLUTION_CHUNK_SIZE) -> ResolutionReport:
    """Ask the acquirer about every ``processing`` transaction; move those it has an answer for."""
    started = time.perf_counter()
    log.info("resolve_processing.started")
    report = resolve_processing(
        uow_factory=container.uow_factory,
        acquirer=container.acquirer,
        clock=container.clock,
        limit=chunk_size,
    )
    log.info(
        "resolve_processing.finished",
        approved=report.approved,
        declined=report.declined,
        unresolved=report.unresolved,
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )
    return report


def describe_resolution(report: ResolutionReport) -> list[str]:
    return [
        f"Examined {report.examined} processing transaction(s): {report.approved} approved, "
        f"{report.declined} declined, {report.unresolved} still without an answer."
    ]
