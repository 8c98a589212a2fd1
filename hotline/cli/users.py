"""``hotline users …``: console accounts (add, list, password, role, API token, disable)."""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from hotline.adapters.db.models import Role
from hotline.cli.errors import refusal_exits
from hotline.domain.labels import ROLE
from hotline.services.users import UserService, generate_password


def _role(code: str) -> str:
    return ROLE[code].lower()


@contextmanager
def _service() -> Iterator[tuple[Any, UserService]]:
    from hotline.cli.main import _context
    ctx = _context()
    with refusal_exits():
        directory = ctx.directory
        yield ctx, UserService(ctx.sessions(), ctx.clock.now,
                               lambda key: directory.find(*key.partition(":")[::2]) is not None,
                               token_days=ctx.settings.console.token_days)


@click.group("users")
def users_group() -> None:
    """Console accounts: operators, supervisors, admins and agencies' focal points."""


@users_group.command("add")
@click.argument("username")
@click.option("--name", "full_name", required=True, help='Full name, e.g. "Trần Văn Bình".')
@click.option("--role", type=click.Choice(Role.ALL), required=True)
@click.option("--agency", default=None, help="KIND:CODE of the agency (role agency), e.g. department:01.")
@click.option("--operator", default=None, help="The operator (SIP endpoint) this user is, e.g. op-lan.")
@click.option("--password", default=None, help="At least 10 characters; default: a generated one, shown once.")
def add(username: str, full_name: str, role: str, agency: str | None, operator: str | None,
        password: str | None) -> None:
    """Add a console user USERNAME."""
    shown = password is None
    password = password or generate_password()
    with _service() as (_ctx, service):
        user = service.add(username, full_name, role, password, agency=agency, operator=operator)
    click.echo(f"✓ {user.username} ({user.full_name}), {_role(user.role)}"
               + (f", {user.agency}" if user.agency else ""))
    if shown:
        click.echo(f"  password: {password}  (shown once; change it with `hotline users passwd {username}`)")


@users_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_users(as_json: bool) -> None:
    with _service() as (_ctx, service):
        users = service.list()
    if as_json:
        click.echo(json.dumps([u.to_dict() for u in users], ensure_ascii=False, indent=2))
        return
    for u in users:
        flag = "" if u.active else "  (disabled)"
        click.echo(f"{u.username:<20} {_role(u.role):<16} {u.full_name}"
                   + (f"  [{u.agency}]" if u.agency else "") + flag)


@users_group.command("passwd")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def passwd(username: str, password: str) -> None:
    """Set USERNAME's password: their console sessions end and their API token stops working."""
    with _service() as (_ctx, service):
        ended = service.set_password(username, password)
    click.echo(f"✓ password of {username} changed; {ended} console session(s) ended, API token revoked")


@users_group.command("role")
@click.argument("username")
@click.argument("role", type=click.Choice(Role.ALL))
@click.option("--agency", default=None, help="KIND:CODE of the agency (role agency), e.g. department:01.")
def role(username: str, role: str, agency: str | None) -> None:
    """Give USERNAME another ROLE: their console sessions end (they sign in again)."""
    with _service() as (_ctx, service):
        ended = service.set_role(username, role, agency=agency)
    click.echo(f"✓ {username} is now {_role(role)}; {ended} console session(s) ended")


@users_group.command("token")
@click.argument("username")
def token(username: str) -> None:
    """Issue a new API token for USERNAME (the old one stops working); it expires after [console] token_days."""
    with _service() as (ctx, service):
        value = service.issue_token(username)
        expires = service.token_expiry(username)
    click.echo(value)
    if expires is not None:
        click.echo(f"  expires {expires.astimezone(ctx.settings.tz):%Y-%m-%d %H:%M}; a password change revokes it",
                   err=True)


@users_group.command("disable")
@click.argument("username")
def disable(username: str) -> None:
    """Disable USERNAME: no sign-in, their console sessions end and the API token stops working."""
    with _service() as (_ctx, service):
        service.set_active(username, False)
    click.echo(f"✓ {username} disabled")
