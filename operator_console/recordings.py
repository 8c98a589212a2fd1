"""Recordings: search, replay in the browser (HTTP range requests: seeking), download.

A file is served only when it is a call's recording or a voicemail the database knows, by its
path under the recordings root: ``..``, absolute paths and anything not in the database are
refused, and no directory is ever listed. Every play and download is an AccessLog row. Supervisors
and admins reach any recording here; a ticket's own audio is also served by the ticket's routes
(``operator_console/tickets.py``: an agency plays its own tickets' audio there, never here).
"""
from __future__ import annotations

import sys
import wave
from array import array
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, render_template, request, send_file
from flask_login import current_user
from sqlalchemy import select
from werkzeug.security import safe_join

from hotline.adapters.db.models import Call, Recording, Ticket, Voicemail

from .auth import requires
from .services import services

bp = Blueprint("recordings", __name__, url_prefix="/recordings")


def search_recordings(args: Any, limit: int) -> list[dict[str, Any]]:
    """Recordings by day range, caller, operator, desk (transfer target) or ticket code, newest first."""
    svc = services()
    tz = svc.ctx.settings.tz
    q = (select(Recording, Call).join(Call, Recording.call_id == Call.id)
         .order_by(Call.started_at.desc()).limit(limit))
    for key, bound in (("from", False), ("to", True)):
        value = args.get(key)
        if value:
            try:
                day = datetime.combine(datetime.fromisoformat(value).date(), time(), tz)
            except ValueError:
                continue
            q = q.where(Call.started_at < day + timedelta(days=1)) if bound else q.where(Call.started_at >= day)
    if args.get("caller"):
        q = q.where(Call.caller == args["caller"].strip())
    if args.get("operator"):
        q = q.where(Call.operator == args["operator"].strip())
    if args.get("desk"):
        q = q.where(Call.transfer_target == args["desk"].strip())
    if args.get("ticket"):
        q = q.where(Call.id.in_(select(Ticket.call_id).where(Ticket.code == args["ticket"].strip())))
    with svc.sessions() as s:
        return [{"path": r.path, "duration": r.duration, "size": r.size, "call_id": c.call_id,
                 "caller": c.caller, "operator": c.operator, "started_at": c.started_at,
                 "disposition": c.disposition, "desk": c.transfer_target} for r, c in s.execute(q)]


@bp.route("/")
@requires("recordings.play")
def index() -> Any:
    svc = services()
    rows = search_recordings(request.args, svc.ctx.settings.console.page_size)
    return render_template("recordings.html", rows=rows, args=request.args, tz=svc.ctx.settings.tz)


def known(rel: str) -> tuple[str, str | None]:
    """The file's absolute path and its call id, if ``rel`` is a recording or a voicemail the database
    knows under the recordings root; 404 otherwise (``..``, absolute paths, anything else), 410 when the
    retention job deleted it."""
    svc = services()
    joined = safe_join(str(svc.recordings_root), rel)
    if joined is None or rel.startswith("/") or "\\" in rel:
        abort(404)
    with svc.sessions() as s:
        rec = s.scalar(select(Recording).where(Recording.path == rel))
        vm = None if rec is not None else s.scalar(select(Voicemail).where(Voicemail.path == rel))
        owner = rec or vm
        call = s.get(Call, owner.call_id) if owner is not None else None
    if owner is None:
        abort(404)
    if rec is not None and rec.deleted_at is not None:
        abort(410, "Tệp ghi âm đã được xoá theo thời hạn lưu trữ ([recordings] retention_days).")
    return joined, call.call_id if call is not None else None


@bp.route("/waveform/<path:rel>")
@requires("recordings.play")
def waveform(rel: str) -> Any:
    """The recording's loudness as an SVG picture (600 columns), drawn under the player."""
    joined, _call_id = known(rel)
    return waveform_svg(joined)


def waveform_svg(joined: str) -> Response:
    """The SVG picture of a known file's loudness (410 when it cannot be read)."""
    try:
        peaks = wave_peaks(Path(joined))
    except (FileNotFoundError, wave.Error, EOFError):
        abort(410, "Tệp ghi âm không đọc được hoặc không còn trên đĩa.")
    height = 60
    bars = "".join(f'<rect x="{i}" y="{(height - max(round(p * height), 1)) / 2:.1f}" width="0.8" '
                   f'height="{max(round(p * height), 1)}"/>' for i, p in enumerate(peaks))
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {len(peaks)} {height}" '
           f'preserveAspectRatio="none"><g fill="#0b5cad">{bars}</g></svg>')
    return Response(svg, mimetype="image/svg+xml", headers={"Cache-Control": "private, max-age=3600"})


def wave_peaks(path: Path, columns: int = 600) -> list[float]:
    """The loudest sample of each of ``columns`` equal slices of a 16-bit WAV, 0..1."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise wave.Error("only 16-bit recordings are drawn")
        channels, frames = w.getnchannels(), w.getnframes()
        samples = array("h", w.readframes(frames))
    if sys.byteorder == "big":
        samples.byteswap()
    if channels > 1:
        samples = samples[::channels]
    if not samples:
        return [0.0] * columns
    step = max(len(samples) // columns, 1)
    peaks = []
    for start in range(0, min(len(samples), step * columns), step):
        chunk = samples[start:start + step]
        peaks.append(max(max(chunk), -min(chunk)) / 32768)
    return peaks


@bp.route("/file/<path:rel>")
@requires("recordings.play")
def file(rel: str) -> Any:
    joined, call_id = known(rel)
    return serve(rel, joined, call_id, download=request.args.get("download") == "1")


def serve(rel: str, joined: str, call_id: str | None, *, download: bool = False, **detail: Any) -> Any:
    """A known file to the signed-in user, with HTTP ranges (seeking); the play or download logged first
    (AccessLog: who, the file, the call, the range asked, and ``detail`` such as the ticket)."""
    services().access(current_user.name, "download" if download else "play", rel, call_id=call_id,
                      remote_addr=request.remote_addr, range=request.headers.get("Range"), **detail)
    try:
        return send_file(joined, mimetype="audio/wav", conditional=True, as_attachment=download,
                         download_name=rel.rsplit("/", 1)[-1], max_age=0)
    except FileNotFoundError:
        abort(410, "Tệp ghi âm không còn trên đĩa (đã hết hạn lưu trữ hoặc bị xoá).")
