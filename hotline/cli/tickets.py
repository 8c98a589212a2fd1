"""``hotline tickets …``: everything about tickets from the command line (the console calls the same service)."""
from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

import click

from hotline.adapters.db.models import TicketStatus
from hotline.cli.audit import log_read
from hotline.domain.vocabulary import AccessAction, Channel
from hotline.services.tickets import TicketError


class _Tickets:
    """The command's context: the ticket service (with the worker's queue), built once per command."""

    def __init__(self) -> None:
        from hotline.cli.main import _context
        self.ctx = _context()
        self.service = self.ctx.tickets(jobs=True)      # reminders, the agency's e-mail: the service queues them

    def local(self, iso: str | None) -> str:
        if not iso:
            return "-"
        return datetime.fromisoformat(iso).astimezone(self.ctx.settings.tz).strftime("%d/%m/%Y %H:%M")


def _run(change: Callable[[_Tickets], dict[str, Any]], as_json: bool) -> None:
    t = _Tickets()
    try:
        ticket = change(t)
    except (TicketError, LookupError) as exc:
        click.secho(f"✗ {exc.args[0] if exc.args else exc}", fg="red", err=True)
        sys.exit(2)
    # The whole ticket is printed after a change (number, content, answer): a read like `tickets show`.
    log_read(t.ctx, t.service.sessions, AccessAction.CLI_TICKET_VIEW, f"ticket:{ticket['code']}",
             call_id=ticket.get("call_id"))
    _show(t, ticket, as_json)


def _show(t: _Tickets, ticket: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(ticket, ensure_ascii=False, indent=2))
        return
    agency = t.service.agency(ticket["agency"]).name if ticket["agency"] else "(chưa chuyển)"
    click.echo(f"Phiếu {ticket['code']} — {ticket['status_vi']} ({ticket['status']})")
    click.echo(f"  kênh {ticket['channel']}, người gọi {ticket['caller'] or '-'}, "
               f"lĩnh vực {t.ctx.categories.get(ticket['category']).name}")
    click.echo(f"  tiếp nhận {t.local(ticket['received_at'])}, hạn trả lời {t.local(ticket['due_at'])} "
               f"({ticket['deadline_hours']:g} giờ làm việc)")
    click.echo(f"  cơ quan: {agency}")
    click.echo(f"  nội dung: {ticket['content']}")
    if ticket["answer"]:
        click.echo(f"  trả lời: {ticket['answer']}")
    vm = ticket.get("voicemail")
    if vm:
        click.echo(f"  lời nhắn: {vm['path']} ({vm['duration']:.1f} s), {vm['status']}"
                   + (f" — {vm['error']}" if vm.get("error") else ""))
    for e in ticket.get("events", []):
        click.echo(f"  {t.local(e['at'])}  {e['actor']:<12} {e['action']:<12} "
                   f"{json.dumps(e['detail'], ensure_ascii=False)}")


_json = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
_by = click.option("--by", "actor", default="cli", show_default=True, help="Who does it (an operator's name).")


@click.group("tickets")
def tickets_group() -> None:
    """Tickets (phản ánh, kiến nghị): list, show, create, assign, answer, close."""


@tickets_group.command("list")
@click.option("--status", type=click.Choice(TicketStatus.ALL))
@click.option("--agency", help="KIND:CODE, e.g. department:01")
@click.option("--category")
@click.option("--overdue", is_flag=True, help="Open tickets past their deadline.")
@click.option("--limit", default=50, show_default=True)
@_json
def list_command(status: str | None, agency: str | None, category: str | None, overdue: bool, limit: int,
                 as_json: bool) -> None:
    """The latest tickets (in the AccessLog: who listed which)."""
    t = _Tickets()
    rows = t.service.list(status=status, agency=agency, category=category, overdue=overdue, limit=limit)
    log_read(t.ctx, t.service.sessions, AccessAction.CLI_TICKET_LIST, "tickets", count=len(rows),
             codes=[r["code"] for r in rows], status=status, agency=agency, category=category, overdue=overdue or None)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        click.echo(f"{r['code']}  {t.local(r['received_at'])}  {r['status']:<12} hạn {t.local(r['due_at'])}  "
                   f"{r['agency'] or '-':<20} {r['content'][:60]}")


@tickets_group.command("show")
@click.argument("code")
@_json
def show_command(code: str, as_json: bool) -> None:
    """One ticket with its history (in the AccessLog: who read it)."""
    t = _Tickets()
    ticket = t.service.get(code)
    if ticket is None:
        click.secho(f"✗ no ticket {code!r}; see `hotline tickets list`", fg="red", err=True)
        sys.exit(2)
    log_read(t.ctx, t.service.sessions, AccessAction.CLI_TICKET_VIEW, f"ticket:{code}", call_id=ticket["call_id"])
    _show(t, ticket, as_json)


@tickets_group.command("create")
@click.option("--content", required=True, help="What the citizen asks or reports.")
@click.option("--caller", default="")
@click.option("--category", help="A code of ticket_categories.yaml (default: the first).")
@click.option("--channel", default="phone", show_default=True,
              type=click.Choice([c for c in Channel.ALL if c != Channel.VOICEMAIL]))
@click.option("--call", "call_id", help="The call it came from (hotline calls).")
@click.option("--agency", help="Forward at once to KIND:CODE.")
@_by
@_json
def create_command(content: str, caller: str, category: str | None, channel: str, call_id: str | None,
                   agency: str | None, actor: str, as_json: bool) -> None:
    """A ticket an operator writes (or from another channel)."""
    _run(lambda t: t.service.create(channel=channel, caller=caller, content=content, category=category,
                                    agency=agency, actor=actor, call_id=call_id), as_json)


@tickets_group.command("assign")
@click.argument("code")
@click.argument("agency")
@click.option("--note", default="")
@_by
@_json
def assign_command(code: str, agency: str, note: str, actor: str, as_json: bool) -> None:
    """Forward to AGENCY (KIND:CODE; provincial_office:01 when competence is unclear); e-mails its focal points."""
    _run(lambda t: t.service.assign(code, agency, actor=actor, note=note), as_json)


@tickets_group.command("start")
@click.argument("code")
@_by
@_json
def start_command(code: str, actor: str, as_json: bool) -> None:
    """The agency is working on it."""
    _run(lambda t: t.service.start(code, actor=actor), as_json)


@tickets_group.command("answer")
@click.argument("code")
@click.option("--text", required=True, help="The agency's answer.")
@_by
@_json
def answer_command(code: str, text: str, actor: str, as_json: bool) -> None:
    """Record the agency's answer (to be relayed to the citizen)."""
    _run(lambda t: t.service.answer(code, text, actor=actor), as_json)


@tickets_group.command("transcribe")
@click.argument("codes", nargs=-1, required=True)
@_by
@_json
def transcribe_command(codes: tuple[str, ...], actor: str, as_json: bool) -> None:
    """Transcribe the messages of CODES again with the configured engine (after changing engine or model)."""
    t = _Tickets()
    done = []
    for code in codes:
        try:
            ticket = t.service.transcribe_again(code, actor=actor)
        except TicketError as exc:
            click.secho(f"✗ {exc.args[0]}", fg="red", err=True)
            sys.exit(2)
        done.append({"code": code, "queued": ticket["queued"]})     # Redis down: the worker's sweep queues it
    if as_json:
        click.echo(json.dumps(done, ensure_ascii=False))
        return
    for d in done:
        click.echo(f"✓ {d['code']}: " + ("queued for transcription" if d["queued"] else
                                         "waiting (Redis is not answering; the worker's sweep will queue it)"))


@tickets_group.command("close")
@click.argument("code")
@click.option("--as", "status", default=TicketStatus.CLOSED, show_default=True,
              type=click.Choice(TicketStatus.FINAL))
@click.option("--note", default="")
@_by
@_json
def close_command(code: str, status: str, note: str, actor: str, as_json: bool) -> None:
    """Close it (answer relayed), or end it as out of scope or a duplicate."""
    _run(lambda t: t.service.close(code, actor=actor, status=status, note=note), as_json)


@tickets_group.command("deadline")
@click.argument("code")
@click.argument("hours", type=float)
@_by
@_json
def deadline_command(code: str, hours: float, actor: str, as_json: bool) -> None:
    """Change the working hours the agency has (8 or 48)."""
    _run(lambda t: t.service.set_deadline(code, hours, actor=actor), as_json)


@tickets_group.command("category")
@click.argument("code")
@click.argument("category")
@_by
@_json
def category_command(code: str, category: str, actor: str, as_json: bool) -> None:
    """Set the ticket's category (a code of ticket_categories.yaml)."""
    _run(lambda t: t.service.set_category(code, category, actor=actor), as_json)
