"""Recordings: search, replay in the browser (HTTP range requests: seeking), download.

A file is served only when it is a call's recording or a voicemail the database knows, by its
path under the recordings root: ``..``, absolute paths and anything not in the database are
refused, and no directory is ever listed. Every search, play and download is an AccessLog row. Supervisors
and admins reach any recording here; a ticket's own audio is also served by the ticket's routes
(``operator_console/tickets.py``: an agency plays its own tickets' audio there, never here).
"""
from __future__ import annotations

import sys
import wave
from array import array
from datetime import datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, render_template, request, send_file
from werkzeug.security import safe_join

from hotline.adapters.db.repository import RecordingSearch
from hotline.domain.vocabulary import AccessAction
from hotline.services.callback_calls import callback_origins, callbacks_of_calls

from .auth import requires
from .services import log_read, services

bp = Blueprint("recordings", __name__, url_prefix="/recordings")


def search_recordings(args: Any, limit: int) -> list[dict[str, Any]]:
    """Recordings by day range, caller, operator, desk (transfer target) or ticket code, newest first."""
    svc = services()
    first, last = (_day(args.get(key), svc.ctx.settings.tz) for key in ("from", "to"))

    def arg(name: str) -> str | None:
        value = args.get(name)
        return str(value).strip() if value else None
    search = RecordingSearch(since=first, before=last + timedelta(days=1) if last else None, caller=arg("caller"),
                             operator=arg("operator"), desk=arg("desk"), ticket=arg("ticket"))
    return svc.calls.recordings(search, limit)


def log_recordings(action: str, rows: list[dict[str, Any]]) -> None:
    """The AccessLog row of a recordings search shown: what was asked (the number masked) and which calls."""
    a = request.args
    log_read(action, "recordings", count=len(rows), calls=[r["call_id"] for r in rows], caller=a.get("caller"),
             operator=a.get("operator"), desk=a.get("desk"), ticket=a.get("ticket"), from_day=a.get("from"),
             to_day=a.get("to"))


def _day(value: str | None, tz: tzinfo) -> datetime | None:
    """The start of the day ``value`` names (an ISO date or date-time), None when absent or not a date."""
    try:
        return datetime.combine(datetime.fromisoformat(value).date(), time(), tz) if value else None
    except ValueError:
        return None


@bp.route("/")
@requires("recordings.play")
def index() -> Any:
    svc = services()
    rows = search_recordings(request.args, svc.ctx.settings.console.page_size)
    log_recordings(AccessAction.RECORDING_LIST, rows)
    # a caller's call with the call-backs it asked for and their call out's recording; a call out that was a
    # call-back says so (each play below goes through ``file``: an AccessLog row, as every play)
    ids = [r["call_id"] for r in rows]
    return render_template("recordings.html", rows=rows, args=request.args, tz=svc.ctx.settings.tz,
                           callbacks=callbacks_of_calls(svc.sessions, ids), origins=callback_origins(svc.sessions, ids))


def known(rel: str) -> tuple[str, str | None]:
    """The file's absolute path and its call id, if ``rel`` is a recording or a voicemail the database
    knows under the recordings root; 404 otherwise (``..``, absolute paths, anything else), 410 when the
    retention job deleted it."""
    svc = services()
    joined = safe_join(str(svc.recordings_root), rel)
    if joined is None or rel.startswith("/") or "\\" in rel:
        abort(404)
    found = svc.calls.audio_file(rel)
    if found is None:
        abort(404)
    if found.deleted:
        abort(410, "Tệp ghi âm đã được xoá theo thời hạn lưu trữ ([recordings] retention_days).")
    return joined, found.call_id


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
    log_read(AccessAction.DOWNLOAD if download else AccessAction.PLAY, rel, call_id=call_id,
             range=request.headers.get("Range"), **detail)
    try:
        return send_file(joined, mimetype="audio/wav", conditional=True, as_attachment=download,
                         download_name=rel.rsplit("/", 1)[-1], max_age=0)
    except FileNotFoundError:
        abort(410, "Tệp ghi âm không còn trên đĩa (đã hết hạn lưu trữ hoặc bị xoá).")
