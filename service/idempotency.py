"""Idempotent submission: the ``Idempotency-Key`` header, and the fingerprint of what was asked.

A job row keeps its owner's key (unique per owner) and the fingerprint of its request, so a retry
with the same key finds the original job, and a reuse of the key for another request is caught.
"""

import hashlib
import json
from typing import Annotated, Any

from flask import request
from pydantic import StringConstraints, TypeAdapter, ValidationError

from service.problems import Problem, from_validation_error

HEADER = "Idempotency-Key"
# Printable ASCII without spaces, as long as the column: UUIDs and the like.
_KEY = TypeAdapter(Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,200}$")])


def header_key() -> str | None:
    """The request's Idempotency-Key, validated, or None when it has none."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    try:
        return _KEY.validate_python(raw)
    except ValidationError as exc:
        raise from_validation_error(exc, prefix=HEADER) from exc


def request_hash(
    name: str | None, spec: dict[str, Any], labels: dict[str, str] | None = None
) -> str:
    """A fingerprint of the normalised request, so equal requests match however they are spelt."""
    request: dict[str, Any] = {"name": name, "spec": spec}
    if labels:  # absent when empty, so requests without labels keep their old fingerprints
        request["labels"] = labels
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def key_reused() -> Problem:
    """The 422 for a key that came with a different request than the first time."""
    message = "this key was first used with a different request; use a new key for a new job"
    return Problem(
        422,
        "Idempotency-Key reused",
        message,
        "idempotency-key-reused",
        [{"field": HEADER, "message": message}],
    )
