"""``/healthz`` (the process is alive) and ``/readyz`` (its database and queue answer)."""

from __future__ import annotations

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST

from psp.lib.metrics import render_metrics
from psp.transporters.rest.context import current_container, json_response
from psp.transporters.rest.readiness import database_is_ready, queue_is_ready


def health_blueprint() -> Blueprint:
    blueprint = Blueprint("health", __name__)
    blueprint.get("/healthz")(liveness)
    blueprint.get("/readyz")(readiness)
    blueprint.get("/metrics")(metrics)
    return blueprint


def liveness() -> Response:
    """Touches nothing outside the process, so a slow database never gets a live worker killed."""
    return json_response({"status": "ok"})


def readiness() -> Response:
    container = current_container()
    checks = {
        "database": "ok" if database_is_ready(container) else "unavailable",
        "queue": "ok" if queue_is_ready(container) else "unavailable",
    }
    ready = all(state == "ok" for state in checks.values())
    return json_response(
        {"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503
    )


def metrics() -> Response:
    """Prometheus exposition: HTTP traffic of every worker process plus pipeline gauges from the database."""
    return Response(render_metrics(current_container().pipeline_health), content_type=CONTENT_TYPE_LATEST)
