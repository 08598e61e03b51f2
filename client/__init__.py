"""Gradyard's HTTP client and its commands: ``pip install 'gradyard[client]'`` is all they need."""

from client.client import ApiError, Client

__all__ = ["ApiError", "Client"]
