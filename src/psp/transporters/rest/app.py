"""The Flask application factory. gunicorn calls ``create_app()`` in each worker, after forking."""

from __future__ import annotations

from flask import Blueprint, Flask
from flask.json.provider import DefaultJSONProvider
from werkzeug.middleware.proxy_fix import ProxyFix

from psp.bootstrap import Container, bootstrap
from psp.config import Settings
from psp.lib.logging import configure_logging
from psp.transporters.rest.blueprints.balance import balance_blueprint
from psp.transporters.rest.blueprints.docs import docs_blueprint
from psp.transporters.rest.blueprints.health import health_blueprint
from psp.transporters.rest.blueprints.payables import payables_blueprint
from psp.transporters.rest.blueprints.refunds import refunds_blueprint
from psp.transporters.rest.blueprints.transactions import transactions_blueprint
from psp.transporters.rest.blueprints.webhooks import webhooks_blueprint
from psp.transporters.rest.context import EXTENSION, PRINCIPAL_CACHE
from psp.transporters.rest.errors import install_error_handlers
from psp.transporters.rest.idempotency import install_idempotency
from psp.transporters.rest.middlewares import install_middlewares
from psp.transporters.rest.principal_cache import PrincipalCache


class _JSONProvider(DefaultJSONProvider):
    sort_keys = False  # keep fields in the documented order


def create_app(container: Container | None = None) -> Flask:
    """Build the API over ``container``, or over adapters wired from ``PSP_*`` settings when none is given."""
    if container is None:
        settings = Settings.from_env()
        configure_logging(settings.log_format, settings.log_level)
        container = bootstrap(settings, application_name="psp-api")
    app = Flask(__name__, static_folder=None)  # an API: no static files, no /static route
    # One byte over the limit: werkzeug silently truncates a chunked body at this cap, so reading up to
    # limit + 1 bytes is how the body middleware tells "exactly the limit" from "over it".
    app.config["MAX_CONTENT_LENGTH"] = container.settings.max_body_bytes + 1
    app.extensions[EXTENSION] = container
    app.extensions[PRINCIPAL_CACHE] = PrincipalCache(container.settings.auth_cache_seconds)
    app.json = _JSONProvider(app)
    install_middlewares(app)
    install_idempotency(app)  # after the middlewares: it needs the principal and the parsed body
    install_error_handlers(app)
    app.register_blueprint(health_blueprint())
    app.register_blueprint(docs_blueprint())
    app.register_blueprint(api_blueprint())
    hops = container.settings.trusted_proxy_hops
    if hops:
        # Only the entries our own proxies appended are believed; whatever the client sent is ignored.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    return app


def api_blueprint() -> Blueprint:
    """Everything under ``/v1``; the auth middleware guards that prefix."""
    api = Blueprint("v1", __name__, url_prefix="/v1")
    api.register_blueprint(transactions_blueprint())
    api.register_blueprint(payables_blueprint())
    api.register_blueprint(balance_blueprint())
    api.register_blueprint(refunds_blueprint())
    api.register_blueprint(webhooks_blueprint())
    return api
