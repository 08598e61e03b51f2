"""``gradyard tokens``: create, revoke and list API tokens, as an operator on the server does."""

from typing import Any

import click
from pydantic import TypeAdapter, ValidationError

from service.cli import settings_or_exit
from store import tokens
from store.db import printable_url, sessions


def _checked(adapter: TypeAdapter[str], longest: int) -> Any:
    def check(_context: click.Context, _parameter: click.Parameter, value: str | None) -> Any:
        if value is None:
            return None
        try:
            return adapter.validate_python(value)
        except ValidationError as exc:
            message = f"use 1 to {longest} of the characters A-Z a-z 0-9 . _ -"
            raise click.BadParameter(message) from exc

    return check


@click.group("tokens")
def tokens_group() -> None:
    """API tokens: every /api request carries one as `Authorization: Bearer <token>`."""


@tokens_group.command("create")
@click.argument("name", callback=_checked(TypeAdapter(tokens.TokenName), 100))
@click.option(
    "--owner",
    callback=_checked(TypeAdapter(tokens.Owner), 64),
    help="the tenant whose jobs the token sees (default: NAME)",
)
@click.option("--admin", is_flag=True, help="see and act on every owner's jobs")
def create(name: str, owner: str | None, admin: bool) -> None:
    """Create a token and print it: the only time it is shown (only its hash is kept)."""
    owner = owner or name
    settings = settings_or_exit()
    try:
        with sessions(settings.database_url).begin() as session:
            token = tokens.create_token(session, name, owner, admin, settings.secret_key)
    except tokens.NameTaken as exc:
        raise click.ClickException(str(exc)) from exc
    scope = "admin" if admin else "owner"
    # The token alone on stdout, so `TOKEN=$(gradyard tokens create NAME)` captures it.
    click.echo(
        f"token {name!r} for {owner!r} ({scope}) in {printable_url(settings.database_url)}; "
        "keep it now, it is not shown again:",
        err=True,
    )
    click.echo(token)


@tokens_group.command("revoke")
@click.argument("name")
def revoke(name: str) -> None:
    """Revoke a token at once: requests carrying it get 401 from now on."""
    with sessions(settings_or_exit().database_url).begin() as session:
        revoked = tokens.revoke_token(session, name)
    if not revoked:
        raise click.ClickException(f"no live token named {name!r}")
    click.echo(f"revoked token {name!r}")


@tokens_group.command("list")
def list_() -> None:
    """Every token's name, owner, scope and dates (never the token or its hash)."""
    with sessions(settings_or_exit().database_url).begin() as session:
        rows = tokens.list_tokens(session)
    click.echo(f"{'NAME':<24} {'OWNER':<20} {'SCOPE':<6} {'CREATED':<20} REVOKED")
    for row in rows:
        created = row.created_at.strftime("%Y-%m-%d %H:%M:%S")
        revoked = row.revoked_at.strftime("%Y-%m-%d %H:%M:%S") if row.revoked_at else "-"
        scope = "admin" if row.admin else "owner"
        click.echo(f"{row.name:<24} {row.owner:<20} {scope:<6} {created:<20} {revoked}")
