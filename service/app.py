"""The Flask application factory: wires settings, blueprints and error handling together."""

from typing import Any

from flask import Flask

from service import problems
from service.api import jobs, system
from service.settings import get_settings


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the API application."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = get_settings().max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    if test_config:
        app.config.update(test_config)
    problems.register(app)
    app.register_blueprint(system.bp)
    app.register_blueprint(jobs.bp)
    return app
