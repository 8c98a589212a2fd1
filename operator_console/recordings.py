"""Recordings: search, replay in the browser (HTTP range requests: seeking), download.

A file is served only when it is a call's recording or a voicemail the database knows, by its
path under the recordings root: ``..``, absolute paths and anything not in the database are
refused, and no directory is ever listed. Every play and download is an AccessLog row.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from flask import Blueprint, abort, render_template, request, send_file
from flask_login import current_user
from sqlalchemy import select
from werkzeug.security import safe_join

from hotline.db.models import Call, Recording, Ticket, Voicemail

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


@bp.route("/file/<path:rel>")
@requires("recordings.play")
def file(rel: str) -> Any:
    svc = services()
    root = svc.recordings_root
    joined = safe_join(str(root), rel)
    if joined is None or rel.startswith("/") or "\\" in rel:
        abort(404)
    with svc.sessions() as s:
        rec = s.scalar(select(Recording).where(Recording.path == rel))
        vm = None if rec is not None else s.scalar(select(Voicemail).where(Voicemail.path == rel))
        owner = rec or vm
        call = s.get(Call, owner.call_id) if owner is not None else None
        call_id = call.call_id if call is not None else None
    if owner is None:
        abort(404)
    if rec is not None and rec.deleted_at is not None:
        abort(410, "Tệp ghi âm đã được xoá theo thời hạn lưu trữ ([recordings] retention_days).")
    download = request.args.get("download") == "1"
    svc.access(current_user.name, "download" if download else "play", rel, call_id=call_id,
               remote_addr=request.remote_addr, range=request.headers.get("Range"))
    try:
        return send_file(joined, mimetype="audio/wav", conditional=True, as_attachment=download,
                         download_name=rel.rsplit("/", 1)[-1], max_age=0)
    except FileNotFoundError:
        abort(410, "Tệp ghi âm không còn trên đĩa (đã hết hạn lưu trữ hoặc bị xoá).")
