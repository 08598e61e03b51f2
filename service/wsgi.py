"""The WSGI entry point for gunicorn: ``gunicorn service.wsgi:app``."""

from service import logging_setup
from service.app import create_app

logging_setup.configure()
app = create_app()
