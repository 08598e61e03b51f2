"""Gradyard's service: the Flask API (``service.app``) and the data layer it shares with the worker.

Only ``service.app`` and ``service.api`` import Flask; ``settings``, ``db``, ``models``, ``jobs``
and ``progress`` do not, so the worker can use them without loading the web stack.
"""
