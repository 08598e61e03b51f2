"""The dashboard: server-rendered pages at ``/`` to watch, submit and inspect jobs and datasets."""

from service.dashboard import dataset_pages, downloads
from service.dashboard.views import bp

__all__ = ["bp", "dataset_pages", "downloads"]
