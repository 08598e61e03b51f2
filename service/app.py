"""The Flask application factory: wires settings, blueprints and error handling together."""

from typing import Any

from flask import Flask

from service import auth, bodies, config, dashboard, headers, job_ids, problems
from service.api import datasets, exports, jobs, metrics, sweeps, system
from service.api import events as event_routes
from service.dashboard import sweep_pages
from store import events
from store import metrics as store_metrics
from store.settings import Settings, get_settings


def create_app(
    settings: Settings | None = None, test_config: dict[str, Any] | None = None
) -> Flask:
    """Build the API application on ``settings`` (default: read from the environment)."""
    settings = settings or get_settings()
    app = Flask(__name__)
    # "/api/v1/jobs//losses" (an empty $ID) is a 404 problem, not a redirect page to another URL.
    app.url_map.merge_slashes = False
    app.before_request(problems.refuse_empty_segments)
    app.request_class = bodies.Request  # MAX_BODY_BYTES on the bytes read, however framed
    config.install(app, settings)
    store_metrics.prepare(settings)
    events.configure(settings)
    event_routes.install(app, settings)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    if test_config:
        app.config.update(test_config)
    metrics.register(app)  # first, so its timer also covers requests that auth refuses
    problems.register(app)
    auth.register(app)
    job_ids.register(app)
    headers.register(app)
    if not settings.auth:
        app.logger.warning("AUTH is off: every API request acts for the owner 'local'")
    app.register_blueprint(system.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(jobs.bp)
    app.register_blueprint(exports.bp)
    app.register_blueprint(datasets.bp)
    app.register_blueprint(sweeps.bp)
    app.register_blueprint(event_routes.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(sweep_pages.bp)
    return app
