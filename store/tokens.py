"""API tokens in SQL: create one (shown once), find the one a request carries, revoke, list.

A token reads ``gy_<id>_<secret>``. The id is public and finds the row; the row keeps only
HMAC-SHA256(SECRET_KEY, token), compared in constant time, so a copy of the database alone can
neither use a token nor test a guess at one. Changing SECRET_KEY therefore invalidates every token.
Every function takes the caller's session; the caller owns the transaction.
"""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Annotated

from pydantic import StringConstraints
from sqlalchemy import Connection, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.models import ApiToken, utcnow

PREFIX = "gy_"
_TOKEN = re.compile(r"gy_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
# Names and owners appear in URLs, logs and SQL: keep them plain.
TokenName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,100}$")]
Owner = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")]


class NameTaken(Exception):
    """A token with this name exists or existed (names are never reused)."""


def hash_token(token: str, secret_key: str | None) -> str:
    """The stored form of ``token``: HMAC-SHA256 keyed with the deployment's secret key."""
    # The embedded mode may run without a key: a hash of 256 random bits is still irreversible.
    key = (secret_key or "").encode()
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


def create_token(
    session: Session, name: str, owner: str, admin: bool, secret_key: str | None
) -> str:
    """Store a new token for ``owner`` and return it: the only time it exists in the clear."""
    taken = NameTaken(f"a token named {name!r} exists or existed; pick another name")
    if session.scalars(select(ApiToken.id).where(ApiToken.name == name)).first() is not None:
        raise taken
    token_id = secrets.token_hex(6)
    token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    session.add(
        ApiToken(
            id=token_id,
            name=name,
            owner=owner,
            admin=admin,
            token_hash=hash_token(token, secret_key),
            created_at=utcnow(),
        )
    )
    try:
        session.flush()
    except IntegrityError as exc:  # the same name, created at the same moment
        raise taken from exc
    return token


@dataclass(frozen=True)
class Holder:
    """Whom a live token acts for."""

    owner: str
    admin: bool


def find_token(session: Session | Connection, token: str, secret_key: str | None) -> Holder | None:
    """Whom the live (unrevoked) token ``token`` acts for, or None.

    One Core SELECT of the row's few columns: it runs on every API request.
    """
    match = _TOKEN.fullmatch(token)
    if match is None:
        return None
    row = session.execute(_FIND, {"id": match.group(1)}).one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.token_hash, hash_token(token, secret_key)):
        return None
    return Holder(row.owner, row.admin)


_FIND = select(ApiToken.owner, ApiToken.admin, ApiToken.token_hash, ApiToken.revoked_at).where(
    ApiToken.id == bindparam("id")
)


def revoke_token(session: Session, name: str) -> bool:
    """Revoke the live token named ``name``; False when there is none."""
    row = session.scalars(
        select(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))
    ).one_or_none()
    if row is None:
        return False
    row.revoked_at = utcnow()
    return True


def list_tokens(session: Session) -> list[ApiToken]:
    """Every token, live or revoked, oldest first."""
    return list(session.scalars(select(ApiToken).order_by(ApiToken.created_at, ApiToken.name)))
