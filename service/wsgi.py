"""The WSGI entry point for gunicorn: ``gunicorn 'service.wsgi:create_wsgi_app()'``."""

import sys

from flask import Flask

from service.app import create_app
from store import logging_setup
from store.settings import ConfigError, get_settings


def create_wsgi_app() -> Flask:
    """The API as gunicorn serves it: settings read now, logs in the configured format."""
    try:
        settings = get_settings()
    except ConfigError as exc:
        # One line per bad setting and exit 2: gunicorn stops at once instead of looping.
        print(f"gradyard: bad configuration:\n{exc}", file=sys.stderr)
        raise SystemExit(2) from None
    logging_setup.configure(settings.log_format)
    return create_app(settings)
