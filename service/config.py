"""The settings of the app handling the current request: read once, when the app is built."""

from flask import Flask, current_app
from sqlalchemy.orm import Session, sessionmaker

from store.db import sessions
from store.settings import Settings

_KEY = "gradyard.settings"


def install(app: Flask, settings: Settings) -> None:
    """Give ``app`` its settings (``create_app`` does, before anything else)."""
    app.extensions[_KEY] = settings


def current_settings() -> Settings:
    """The settings of the app handling this request."""
    settings: Settings = current_app.extensions[_KEY]
    return settings


def current_sessions() -> sessionmaker[Session]:
    """Sessions on the database of the app handling this request."""
    return sessions(current_settings().database_url)
