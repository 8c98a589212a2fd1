"""``hotline operators …``: add, list and remove operators; log them in and out, pause, resume."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from hotline.cli.errors import refusal_exits
from hotline.services.operators import PAUSE_REASONS, OperatorService, apply_endpoints, context_service


@contextmanager
def _service() -> Iterator[tuple[Any, OperatorService]]:
    from hotline.cli.main import _context
    ctx = _context()
    with refusal_exits():
        yield ctx, context_service(ctx)


def _state_change(verb: str, action: Callable[[OperatorService, str], None]) -> Callable[[str], None]:
    def command(name: str) -> None:
        with _service() as (_ctx, service):
            action(service, name)
        click.echo(f"✓ {name} {verb}")
    return command


@click.group("operators")
def operators_group() -> None:
    """Operators (tổng đài viên): their SIP phones and their state in the queue."""


@operators_group.command("add")
@click.argument("name")
@click.option("--name", "display_name", required=True, help='Full name, e.g. "Nguyễn Thị Lan".')
@click.option("--web", is_flag=True, help="The operator's phone is the console's softphone (WebRTC), "
                                           "not a desk SIP phone.")
@click.option("--contact", default=None, help="Fixed SIP address of the phone instead of registering, "
                                               "e.g. sip:op-lan@192.0.2.10:5060.")
def add(name: str, display_name: str, contact: str | None, web: bool) -> None:
    """Add an operator NAME (login and SIP user name, e.g. op-lan) with a generated SIP password."""
    with _service() as (ctx, service):
        endpoint, password = service.add(name, display_name, contact, phone="web" if web else "desk")
        reloaded = apply_endpoints(ctx, service)
    click.echo(f"✓ operator {endpoint.name} ({endpoint.display_name}) added")
    s = ctx.settings
    if web:
        click.echo("  phone: the console's softphone (sign in to the console as a user with --operator "
                   f"{name}: hotline users add … --role operator --operator {name})")
    elif contact:
        click.echo(f"  calls go to {contact}")
    else:
        click.echo(f"  SIP account: user {name}, password {password}, server {s.sip.bind}:{s.sip.port} (UDP)")
    click.echo("  Asterisk reloaded" if reloaded else "  Asterisk is not running: it reads the account at start")


@operators_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_(as_json: bool) -> None:
    """The operators with their live state (available, on_call, wrap_up, paused, logged_out)."""
    with _service() as (_ctx, service):
        states = service.states()
    if as_json:
        click.echo(json.dumps([st.to_json() for st in states], ensure_ascii=False, indent=2))
        return
    if states and states[0].in_queue is None:
        click.echo("(Asterisk is not running: states from the database)")
    for st in states:
        state = f"{st.state}({st.reason})" if st.reason else st.state
        click.echo(f"{st.name:<16} {st.display_name:<28} {state:<18} phone={st.device or '-':<12} "
                   f"calls={st.calls_taken}")


@operators_group.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Log the operator out and remove their SIP account (their calls stay in the log)."""
    with _service() as (ctx, service):
        service.remove(name)
        apply_endpoints(ctx, service)
    click.echo(f"✓ operator {name} removed")


operators_group.command("login", help="Log the operator in: the queue may ring their phone.")(
    click.argument("name")(_state_change("logged in", OperatorService.login)))
operators_group.command("logout", help="Log the operator out of the queue.")(
    click.argument("name")(_state_change("logged out", OperatorService.logout)))
operators_group.command("resume", help="End the operator's pause: available again.")(
    click.argument("name")(_state_change("available again", OperatorService.resume)))


@operators_group.command("pause")
@click.argument("name")
@click.option("--reason", type=click.Choice(PAUSE_REASONS), required=True, help="Why the operator pauses.")
def pause(name: str, reason: str) -> None:
    """Pause the operator (no calls) with a reason."""
    with _service() as (_ctx, service):
        service.pause(name, reason)
    click.echo(f"✓ {name} paused ({reason})")
