"""Who is looking at a dashboard page: the API token the browser keeps in a cookie.

A page load cannot carry an ``Authorization`` header, so the page's script stores the token the
user pastes in the ``gradyard_token`` cookie (SameSite=Strict, so no other site's page sends it)
and sends it as ``Authorization: Bearer`` on its own API calls. The server reads the cookie only
to render pages and the read-only downloads beside them; every change (submit, cancel, predict)
goes through the API with the header, so the cookie cannot be used to forge one.
"""

from flask import request

from service.auth import LOCAL, Caller
from service.config import current_sessions, current_settings
from store import tokens

COOKIE = "gradyard_token"


def page_caller() -> Caller | None:
    """The caller the page is rendered for; None when AUTH is on and no valid token came."""
    settings = current_settings()
    if not settings.auth:
        return LOCAL
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    with current_sessions().begin() as session:
        row = tokens.find_token(session, token, settings.secret_key)
        return Caller(row.owner, row.admin) if row is not None else None
