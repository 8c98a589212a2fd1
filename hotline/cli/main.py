"""The ``hotline`` command line: one entry point for IT staff and for scripts."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from hotline.domain.directory import KINDS
from hotline.domain.errors import ConfigError, ConfigErrors, HotlineError
from hotline.domain.redact import redact_url


def _fail(exc: Exception) -> None:
    errors = exc.errors if isinstance(exc, ConfigErrors) else [exc]
    for err in errors:
        click.secho(f"✗ {err}", fg="red", err=True)
    sys.exit(2)


def _context() -> Any:
    from hotline.context import load_context
    try:
        return load_context()
    except (ConfigError, ConfigErrors, HotlineError) as exc:
        _fail(exc)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Tổng đài 1022 — the 1022 public-service hotline (Asterisk 22 + Python)."""


@main.command()
def check() -> None:
    """Validate settings, transfer directory and IVR flow; exit 2 with file:line on a mistake."""
    ctx = _context()
    s = ctx.settings
    counts = {kind: len(ctx.directory.of_kind(kind)) for kind in ("department", "district", "commune")}
    tiers = ", ".join(f"{n} {kind}s" for kind, n in counts.items() if n or kind != "commune")
    click.echo(f"✓ settings   {s.source} — {s.province.name}, numbers {', '.join(s.province.hotline_numbers)}")
    click.echo(f"✓ directory  {s.paths.directory} — {tiers}, {len(ctx.directory.entries)} entries")
    click.echo(f"✓ flow       {ctx.flow.source} — {len(ctx.flow.nodes)} nodes, {len(ctx.flow.prompts)} prompts")
    click.echo(f"✓ categories {s.paths.categories} — {len(ctx.categories)} ticket categories")
    if not s.callback.dial and any(getattr(n, "on_callback", None) for n in ctx.flow.nodes.values()):
        click.echo("! call-back  the flow offers key 2 (a queue's on_callback) but [callback] dial is empty: key 2 is "
                   "not offered and nobody can be called back; set [callback] dial (README: Calling citizens back), "
                   "or remove on_callback and the sentence about key 2 from to_operator and queue-periodic-announce")
    speech_problem = _check_speech(s.transcription)
    now = ctx.clock.now()
    reason = ctx.hours.closed_reason(now)
    click.echo(f"✓ clock      {now.isoformat()} — {'open' if reason is None else 'closed (' + reason + ')'}")
    if speech_problem:
        sys.exit(1)


def _check_speech(settings: Any) -> str | None:
    """Load the speech engine as a worker would; print what it is or why it cannot run."""
    from hotline.adapters.speech.engines import EngineUnavailable, describe, open_engine
    started = time.monotonic()
    try:
        engine = open_engine(settings)
    except EngineUnavailable as exc:
        click.echo(f"✗ speech     {exc}: voicemail tickets wait for transcription (README: Transcription)")
        return str(exc)
    click.echo(f"✓ speech     {describe(settings)}: {engine.name} loads in {time.monotonic() - started:.1f} s")
    return None


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--kind", type=click.Choice(list(KINDS)))
def directory(as_json: bool, kind: str | None) -> None:
    """List the transfer directory (one-stop desks the IVR and operators transfer to)."""
    ctx = _context()
    entries = ctx.directory.to_json()
    if kind:
        entries = [e for e in entries if e["kind"] == kind]
    if as_json:
        click.echo(json.dumps(entries, ensure_ascii=False, indent=2))
        return
    for e in entries:
        click.echo(f"{e['kind']:<18} {e['code']}  {e['name']:<45} {e['desk']['dial']}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--limit", default=20, show_default=True, help="How many of the latest calls.")
@click.option("--direction", type=click.Choice(["in", "out"]), default=None,
              help="Only calls to the hotline (in) or calls out to citizens (out).")
def calls(as_json: bool, limit: int, direction: str | None) -> None:
    """The latest calls with their direction, IVR path, disposition and recording; a caller's call lists the
    call-backs it asked for with their call out's recording (in the AccessLog: who listed them)."""
    from hotline.adapters.db.repository import CallRepository
    from hotline.cli.audit import log_read
    from hotline.domain.vocabulary import AccessAction
    from hotline.services.callback_calls import callback_origins, callbacks_of_calls
    ctx = _context()
    sessions = ctx.sessions()
    rows = CallRepository(sessions).latest(limit, direction=direction)
    log_read(ctx, sessions, AccessAction.CLI_CALL_LIST, "calls", count=len(rows), calls=[r["call_id"] for r in rows])
    callbacks = callbacks_of_calls(sessions, [r["call_id"] for r in rows if r["direction"] != "out"])
    origins = callback_origins(sessions, [r["call_id"] for r in rows if r["direction"] == "out"])
    for r in rows:
        if r["direction"] == "out":
            r["callback_of"] = origins.get(r["call_id"])
        else:
            r["callbacks"] = callbacks.get(r["call_id"], [])
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        keys = " ".join(step["keys"] for step in r["ivr_path"])
        rec = r["recording"]["path"] if r["recording"] else "-"
        click.echo(f"{r['started_at'][:19]}  {r['direction']:<3} {r['caller']:<12} {r['disposition']:<16} "
                   f"keys[{keys}]  {rec}")
        if r.get("callback_of"):
            click.echo(f"    call-back of {r['callback_of']}")
        for cb in r.get("callbacks", []):
            out = cb["recording"]["path"] if cb["recording"] else (cb["out_call"] or {}).get("call_id", "-")
            click.echo(f"    call-back {cb['status']:<11} {cb['number']:<12} attempts {cb['attempts']}  "
                       f"{cb['ticket_code'] or ''} {out or '-'}".rstrip())


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the newest schema (idempotent)."""
    ctx = _context()
    ctx.sessions(migrate=True)
    click.echo(f"✓ database at the newest schema: {redact_url(ctx.settings.database.url)}")


@main.group()
def recordings() -> None:
    """Call recordings: the retention job ([recordings] retention_days)."""


@recordings.command("purge")
@click.option("--dry-run", is_flag=True, help="List what would be deleted, delete nothing.")
def recordings_purge(dry_run: bool) -> None:
    """Delete recordings older than [recordings] retention_days now (the worker does it hourly)."""
    from hotline.services.retention import purge_recordings
    ctx = _context()
    days = ctx.settings.recordings.retention_days
    if days <= 0:
        click.echo("[recordings] retention_days is 0: every recording is kept")
        return
    done = purge_recordings(ctx.sessions(), Path(ctx.settings.paths.recordings_root), ctx.clock.now(), days,
                            limit=100_000, dry_run=dry_run)
    for path in done:
        click.echo(path)
    click.echo(f"✓ {len(done)} recordings older than {days} days {'would be ' if dry_run else ''}deleted")


@main.command("render-config")
def render_config() -> None:
    """Render asterisk_conf/ templates into the state directory (done by `hotline up` too)."""
    from hotline.adapters.asterisk_config import render
    ctx = _context()
    from hotline.services.operators import context_service
    path = render(ctx.settings, ctx.secrets, ctx.directory, ctx.settings.paths.state_dir / "asterisk",
                  clock_offset=ctx.clock.offset_seconds(), operators=context_service(ctx).endpoints())
    click.echo(f"✓ Asterisk configuration rendered: {path.parent}")


def _register_commands() -> None:
    """Every command group, one module each in hotline/cli/."""
    from hotline.cli.call import call_command
    from hotline.cli.channels import channels_group, mailbox_command, public_command
    from hotline.cli.cluster import cluster_group
    from hotline.cli.console import console_command
    from hotline.cli.kb import kb_group
    from hotline.cli.operators import operators_group
    from hotline.cli.privacy import privacy_group
    from hotline.cli.report import report_command
    from hotline.cli.status import status_command
    from hotline.cli.system import setup_command, up_command
    from hotline.cli.tickets import tickets_group
    from hotline.cli.transfers import transfer_command
    from hotline.cli.units import unit_group
    from hotline.cli.users import users_group
    from hotline.cli.watch import watch_command
    main.add_command(setup_command, "setup")
    main.add_command(up_command, "up")
    main.add_command(cluster_group, "cluster")
    main.add_command(call_command, "call")
    main.add_command(operators_group, "operators")
    main.add_command(report_command, "report")
    main.add_command(transfer_command, "transfer")
    main.add_command(tickets_group, "tickets")
    main.add_command(users_group, "users")
    main.add_command(console_command, "console")
    main.add_command(public_command, "public")
    main.add_command(channels_group, "channels")
    main.add_command(mailbox_command, "mailbox")
    main.add_command(kb_group, "kb")
    main.add_command(status_command, "status")
    main.add_command(watch_command, "watch")
    main.add_command(privacy_group, "privacy")
    main.add_command(unit_group, "unit")


_register_commands()


if __name__ == "__main__":
    main()
