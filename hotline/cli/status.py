"""``hotline status``: is the hotline doing its work? Exit 0 only when all is well.

Today it answers for transcription (the engine, the worker, the messages waiting); the fault-
tolerance work adds Asterisk, the app, the AGI server, the monitor, the database and the disk.
"""
from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

import click
from sqlalchemy import func, select

from hotline.adapters.db.models import Voicemail, VoicemailStatus


def transcription_status(ctx: Any) -> dict[str, Any]:
    """The engine (without loading it), the workers registered in Redis, the messages waiting."""
    from hotline.adapters.jobqueue import connect
    from hotline.adapters.speech.engines import describe, engine_problem
    t = ctx.settings.transcription
    problems: list[str] = []
    problem = engine_problem(t)
    if problem:
        problems.append(problem)
    workers, queued = _workers(connect(ctx.settings.redis.url), t.queue, problems)
    with ctx.sessions()() as s:
        waiting = s.execute(select(func.count(), func.min(Voicemail.created_at))
                            .where(Voicemail.status.in_(VoicemailStatus.WAITING))).one()
        failed = s.scalar(select(func.count()).where(Voicemail.status == VoicemailStatus.FAILED)) or 0
        last_error = s.scalar(select(Voicemail.error).where(Voicemail.status.in_(VoicemailStatus.WAITING),
                                                           Voicemail.error.is_not(None))
                              .order_by(Voicemail.id.desc()).limit(1))
    oldest = _age(ctx.clock.now(), waiting[1])
    if last_error:
        problems.append(f"messages wait: {last_error}")
    return {"engine": describe(t), "ok": not problems, "problems": problems, "workers": workers,
            "queued_jobs": queued, "waiting": int(waiting[0]), "oldest_waiting_seconds": oldest,
            "failed": int(failed)}


def _workers(redis: Any, queue: str, problems: list[str]) -> tuple[int | None, int | None]:
    from rq import Queue, Worker
    try:
        workers = len(Worker.all(connection=redis))
        queued = Queue(queue, connection=redis).count
    except Exception as exc:   # Redis down: said, not raised
        problems.append(f"Redis does not answer ({type(exc).__name__}): the worker cannot get jobs")
        return None, None
    if workers == 0:
        problems.append("no worker is running (hotline up starts one)")
    return workers, queued


def _age(now: datetime, since: datetime | None) -> float | None:
    return None if since is None else round((now - since).total_seconds(), 1)


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status_command(as_json: bool) -> None:
    """Is the hotline doing its work (transcription: engine, workers, messages waiting)? Exit 1 if not."""
    from hotline.cli.main import _context
    report = {"transcription": transcription_status(_context())}
    ok = all(part["ok"] for part in report.values())
    if as_json:
        click.echo(json.dumps({"ok": ok, **report}, ensure_ascii=False, indent=2))
    else:
        t = report["transcription"]
        mark = "✓" if t["ok"] else "✗"
        oldest = f", the oldest for {t['oldest_waiting_seconds']:.0f} s" if t["oldest_waiting_seconds"] else ""
        click.echo(f"{mark} transcription  {t['engine']}; {t['workers'] if t['workers'] is not None else '?'} "
                   f"worker(s), {t['waiting']} message(s) waiting{oldest}, {t['failed']} failed")
        for p in t["problems"]:
            click.echo(f"    {p}")
    sys.exit(0 if ok else 1)
