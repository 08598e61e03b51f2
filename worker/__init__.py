"""Gradyard's Celery worker: ``worker.app`` configures Celery, ``worker.tasks`` holds the tasks."""
