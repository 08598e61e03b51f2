"""The Flask application factory: wires settings, blueprints and error handling together."""

from typing import Any

from flask import Flask

from service import auth, dashboard, headers, problems
from service.api import events, jobs, metrics, system
from service.settings import get_settings


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the API application."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = get_settings().max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    if test_config:
        app.config.update(test_config)
    metrics.register(app)  # first, so its timer also covers requests that auth refuses
    problems.register(app)
    auth.register(app)
    headers.register(app)
    if not get_settings().auth:
        app.logger.warning("AUTH is off: every API request acts for the owner 'local'")
    app.register_blueprint(system.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(jobs.bp)
    app.register_blueprint(events.bp)
    app.register_blueprint(dashboard.bp)
    return app
