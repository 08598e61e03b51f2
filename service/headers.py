"""Security headers on every response; HTML pages get a content security policy of their own.

Pages may load scripts, styles and data only from this origin (inline styles are allowed, inline
scripts are not: put them in ``service/static/``), and no other site may frame them. A view may
set its own values first; these are only defaults.
"""

from flask import Flask, Response

PAGE_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# JSON is never rendered as a page: it may load nothing and be framed by nobody.
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'"


def register(app: Flask) -> None:
    """Add the headers to every response the app sends."""
    app.after_request(_secure)


def _secure(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    policy = PAGE_POLICY if response.mimetype == "text/html" else DATA_POLICY
    headers.setdefault("Content-Security-Policy", policy)
    return response
