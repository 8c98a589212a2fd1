"""``hotline status``: is every part of the hotline doing its work? Exit 0 only when all is well.

The checks are ``hotline.services.health``'s (the console's ``/healthz`` runs the same), each with a
deadline: the answer comes within a few seconds even when a part hangs.
"""
from __future__ import annotations

import json
import logging
import sys
from typing import Any

import click

from hotline.services.health import HealthProbe, Report


def status_report(ctx: Any) -> Report:
    return HealthProbe(ctx.settings, ctx.secrets, ctx.clock.now).run()


def _line(name: str, facts: dict[str, Any]) -> str:
    """The facts of one part worth a glance, in a few words."""
    f = facts
    if name == "asterisk" and f.get("version"):
        up = f.get("uptime_seconds")
        return f"{f['version']}, {f.get('channels')} channel(s), {f.get('calls')} call(s), up {_duration(up)}"
    if name == "worker" and f.get("workers") is not None:
        return f"{f['workers']} worker(s), {f.get('queued_jobs')} job(s) queued"
    if name == "monitor" and f.get("snapshot_age_seconds") is not None:
        return f"wallboard snapshot {f['snapshot_age_seconds']:.0f} s old"
    if name == "database" and f.get("answer_ms") is not None:
        return f"{f['kind']}, SELECT 1 in {f['answer_ms']:.0f} ms"
    if name == "spool":
        return "not installed" if f.get("depth") is None else f"{f['depth']} write(s) waiting, {f['rejected']} refused"
    if name == "disk" and f.get("free_mb") is not None:
        return f"{f['free_mb']:.0f} MB free (minimum {f['min_free_mb']} MB)"
    if name == "transcription" and f.get("engine"):
        oldest = f", the oldest for {f['oldest_waiting_seconds']:.0f} s" if f.get("oldest_waiting_seconds") else ""
        return f"{f['engine']}; {f['waiting']} message(s) waiting{oldest}, {f['failed']} failed"
    if name == "redis" and f.get("version"):
        return f"Redis {f['version']}"
    return ""


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return "?"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours} h {rest // 60} min" if hours else f"{rest // 60} min {rest % 60} s"


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status_command(as_json: bool) -> None:
    """Is every part doing its work (Asterisk, the ARI app, AGI, the monitor, workers, Redis, the database, the
    call-log spool, disk, transcription)? Exit 1 if not."""
    from hotline.cli.main import _context
    logging.getLogger("hotline.adapters.ami").setLevel(logging.CRITICAL)   # said in the report, once
    report = status_report(_context())
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        for name, check in report.checks.items():
            click.echo(f"{'✓' if check.ok else '✗'} {name:<14} {_line(name, check.facts)}".rstrip())
            for p in check.problems:
                click.echo(f"    {p}")
    sys.exit(0 if report.ok else 1)
