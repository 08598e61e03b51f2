"""Health, readiness, and the API's own description (OpenAPI document and a page that shows it)."""

from functools import cache
from typing import Any

from flask import Blueprint, Response, jsonify, render_template

from service.config import current_settings
from service.openapi import build_openapi
from service.problems import unavailable
from store import health

bp = Blueprint("system", __name__)


@cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI document (built once: the models do not change while running)."""
    return build_openapi()


@bp.get("/healthz")
def healthz() -> Response:
    """Liveness: the process answers."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    """Readiness: the database and the broker both answer, within a few seconds each."""
    checks = health.ready(current_settings())
    if not all(checks.values()):
        down = ", ".join(name for name, ok in checks.items() if not ok)
        raise unavailable(f"not ready: {down} unreachable", "not-ready")
    return jsonify({"status": "ready", "checks": checks})


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document."""
    return jsonify(openapi_document())


@bp.get("/docs")
def docs() -> str:
    """A page that renders the OpenAPI document: every operation, its parameters and schemas."""
    return render_template("docs.html", api=openapi_document())
