"""``hotline privacy …``: a citizen's data rights (Law 91/2025/QH15) from the command line."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from hotline.cli.audit import who as _who
from hotline.services.privacy import PrivacyError, PrivacyService


def _service() -> PrivacyService:
    from hotline.cli.main import _context
    ctx = _context()
    return PrivacyService(ctx.sessions(), Path(ctx.settings.paths.recordings_root), ctx.clock.now,
                          ctx.settings.paths.attachments)


def _done(result: dict[str, Any], as_json: bool, line: str) -> None:
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        click.echo(line)


_BY = "Who serves the request, kept in the AccessLog beside the account that ran the command."


@click.group("privacy")
def privacy_group() -> None:
    """A citizen's data: give them everything kept about their number, or erase it (each in the AccessLog)."""


@privacy_group.command("export")
@click.option("--caller", required=True, help="The citizen's number (0912345678, 84912345678 or +84912345678), or "
                                               "the e-mail address they wrote from.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The archive to write (default: ./du-lieu-<last 3 digits>-<date>.zip).")
@click.option("--by", default=None, help=_BY)
@click.option("--json", "as_json", is_flag=True)
def export_command(caller: str, out: Path | None, by: str | None, as_json: bool) -> None:
    """One zip of every call, recording, message, transcript and ticket kept about a number."""
    svc = _service()
    archive = out or Path(f"du-lieu-{caller[-3:]}-{svc.now():%Y%m%d-%H%M%S}.zip")
    try:
        result = svc.export(caller, archive, actor=_who(), served_by=by)
    except PrivacyError as exc:
        click.secho(f"✗ {exc}", fg="red", err=True)
        sys.exit(2)
    _done(result, as_json, f"✓ {archive}: {len(result['calls'])} calls, {len(result['tickets'])} tickets, "
                           f"{len(result['callbacks'])} call-backs, {result['files']} files")


@privacy_group.command("erase")
@click.option("--caller", required=True, help="The citizen's number, or the e-mail address they wrote from.")
@click.option("--reason", required=True, help="Why (the citizen's request and its reference): kept in the AccessLog.")
@click.option("--dry-run", is_flag=True, help="Say what would be erased, erase nothing.")
@click.option("--force", is_flag=True, help="Erase even while one of the citizen's tickets is open.")
@click.option("--by", default=None, help=_BY)
@click.option("--json", "as_json", is_flag=True)
def erase_command(caller: str, reason: str, dry_run: bool, force: bool, by: str | None, as_json: bool) -> None:
    """Delete the number's recordings, messages and transcripts and take the number and the personal content
    out of its calls and tickets; the reports' figures stay as they were."""
    try:
        result = _service().erase(caller, actor=_who(), reason=reason, force=force, dry_run=dry_run,
                                  served_by=by)
    except PrivacyError as exc:
        click.secho(f"✗ {exc}", fg="red", err=True)
        sys.exit(2)
    _done(result, as_json, f"✓ {'would erase' if dry_run else 'erased'}: {len(result['calls'])} calls, "
                           f"{len(result['tickets'])} tickets, {len(result['callbacks'])} call-backs, "
                           f"{result['files']} audio files")
