"""Health, readiness, and the API's own description (OpenAPI document and a page that shows it)."""

from functools import cache
from typing import Any

from flask import Blueprint, Response, jsonify, render_template
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from service.config import current_settings
from service.openapi import build_openapi
from service.problems import unavailable
from store.db import engine_for
from store.queue import broker_reachable

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
    """Readiness: the database and the broker both answer."""
    checks = {"database": _database_ok(), "broker": broker_reachable(current_settings())}
    if not all(checks.values()):
        down = ", ".join(name for name, ok in checks.items() if not ok)
        raise unavailable(f"not ready: {down} unreachable", "not-ready")
    return jsonify({"status": "ready", "checks": checks})


def _database_ok() -> bool:
    try:
        with engine_for(current_settings().database_url).connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document."""
    return jsonify(openapi_document())


@bp.get("/docs")
def docs() -> str:
    """A page that renders the OpenAPI document: every operation, its parameters and schemas."""
    return render_template("docs.html", api=openapi_document())
