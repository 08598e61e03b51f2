"""The WSGI entry point for gunicorn: ``gunicorn 'service.wsgi:create_wsgi_app()'``."""

import ctypes
import sys

from flask import Flask

from service.app import create_app
from store import logging_setup, warmup
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
    _bound_malloc_arenas()
    app = create_app(settings)
    warmup.start(warmup.rehearse_submission, settings)  # this process's first request, ahead
    return app


# glibc's mallopt(M_ARENA_MAX, n). By default every request thread may get its own malloc arena
# (up to 8 per core), and each keeps what a big request body made it grow: 16 threads that had
# parsed 2 MB bodies held a few hundred MB more than two arenas do, and went on growing for
# rounds (tests/abuse/test_error_flood.py). Set here, in each gunicorn process before its
# threads start, so every way of serving the API (compose, gradyard serve, the tests) has it.
M_ARENA_MAX = -8
MALLOC_ARENAS = 2


def _bound_malloc_arenas() -> None:
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)  # absent outside glibc: nothing to do
    if mallopt is not None:
        mallopt(M_ARENA_MAX, MALLOC_ARENAS)
