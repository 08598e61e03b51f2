"""The dashboard: server-rendered pages at ``/`` to watch, submit and inspect jobs."""

from service.dashboard.views import bp

__all__ = ["bp"]
