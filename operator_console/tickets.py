"""Tickets: the inbox (filters, search) and a ticket's page (audio, transcript, timeline, actions).

Every list and every ticket shown is an AccessLog row (a ticket's transcript one more), with the user and
the client's address.

An agency user sees and answers only their agency's tickets: every query and every action is
scoped on the server, a ticket of another agency is a 404 for them. A ticket's audio (the call's
recording, the voicemail) is served by the ticket's own routes to whoever holds ``tickets.audio``:
an agency's focal point plays its own tickets' audio (another agency's is a 403), every play in the
AccessLog with the ticket; the recordings search stays with supervisors and admins.

A written request's page shows its channel, the citizen's contact and place, the thread of messages (the
hotline's with their sent or failed state) and the files sent with it: each file is served by the ticket's
own route to whoever may see the ticket, every read in the AccessLog, only from the attachments folder.
An answer to a ticket of a channel the hotline writes back through (``Channel.REPLIES``) goes to the citizen
by itself: the ticket service's follow-up queues ``answer_back`` for the worker.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from hotline.adapters.db.models import Role, TicketStatus
from hotline.domain.errors import HotlineError, for_people
from hotline.domain.labels import label
from hotline.domain.redact import masked_number
from hotline.domain.vocabulary import AccessAction, Channel
from hotline.services.callback_calls import callbacks_of_calls
from hotline.services.tickets import TicketError

from .auth import requires
from .permissions import FULL_NUMBERS, allowed, for_role
from .recordings import known, serve, waveform_svg
from .services import log_read, services

bp = Blueprint("tickets", __name__, url_prefix="/tickets")


def filters_from(args: Any) -> dict[str, Any]:
    """The inbox filters a request asks for, scoped to the user's agency when they are one."""
    f: dict[str, Any] = {k: (args.get(k) or None) for k in ("status", "category", "agency", "channel", "search")}
    f["overdue"] = args.get("overdue") in ("1", "on", "true")
    if f["status"] not in (None, *TicketStatus.ALL):
        f["status"] = None
    if current_user.role == Role.AGENCY:
        f["agency"] = current_user.user.agency
    f["by_number"] = current_user.role in FULL_NUMBERS    # agencies never find a ticket by the caller's number
    return f


def asked(f: dict[str, Any]) -> dict[str, Any]:
    """The filters a user set (for the AccessLog: a search is kept with its numbers masked)."""
    return {k: v for k, v in f.items() if k in ("status", "category", "agency", "channel", "search", "overdue") and v}


def log_list(action: str, rows: list[dict[str, Any]], f: dict[str, Any], **detail: Any) -> None:
    """One AccessLog row for a list of tickets shown: its codes and what was asked."""
    log_read(action, "tickets", count=len(rows), codes=[t["code"] for t in rows], **asked(f), **detail)


def log_ticket(action: str, ticket: dict[str, Any], *, transcript: bool) -> None:
    """The AccessLog rows of one ticket shown, and of its message's transcript if that was shown too."""
    log_read(action, f"ticket:{ticket['code']}", call_id=ticket["call_id"])
    if transcript:
        log_read(AccessAction.TRANSCRIPT_VIEW, f"ticket:{ticket['code']}", call_id=ticket["call_id"],
                 voicemail=ticket["voicemail"]["path"])


def visible(ticket: dict[str, Any] | None) -> dict[str, Any]:
    if ticket is None or (current_user.role == Role.AGENCY and ticket["agency"] != current_user.user.agency):
        abort(404)
    return ticket


@bp.route("/")
@requires("tickets.view")
def inbox() -> Any:
    svc = services()
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    size = svc.ctx.settings.console.page_size
    f = filters_from(request.args)
    rows = svc.tickets.list(limit=size + 1, offset=(page - 1) * size, **f)
    log_list(AccessAction.TICKET_LIST, rows[:size], f, page=page)
    return render_template("inbox.html", tickets=rows[:size], more=len(rows) > size, page=page, f=f,
                           categories=svc.ctx.categories.entries, agencies=svc.ctx.directory.entries,
                           now=svc.ctx.clock.now())


@bp.route("/latest")
@requires("tickets.view")
def latest() -> Any:
    """Tickets newer than ``after`` (an id) that the open inbox's filters would show, as table rows:
    the inbox asks every second, so a voicemail's ticket appears without reloading the page."""
    svc = services()
    after = request.args.get("after", "")
    f = filters_from(request.args)
    rows = svc.tickets.list(limit=50, after_id=int(after) if after.isdigit() else 0, **f)
    if rows:                # asked every second: a row only when new tickets are shown
        log_list(AccessAction.TICKET_LIST, rows, f, live=True)
    html = render_template("_ticket_rows.html", tickets=rows, now=svc.ctx.clock.now())
    return jsonify(ids=[t["id"] for t in rows], html=html)


@bp.route("/<code>")
@requires("tickets.view")
def show(code: str) -> Any:
    svc = services()
    ticket = visible(svc.tickets.get(code))
    log_ticket(AccessAction.TICKET_VIEW, ticket, transcript=bool((ticket["voicemail"] or {}).get("words")))
    suggestion = (svc.suggest.for_ticket(ticket) if svc.ctx.settings.suggest.enabled
                  and allowed(current_user.role, "tickets.write") else None)
    others = allowed(current_user.role, "calls.view")      # the caller's other tickets: not an agency's to see
    open_of_caller = svc.tickets.open_of_caller(ticket["caller"], leave_out=code) if others else []
    related = svc.tickets.related(code) if others else None
    if open_of_caller:
        log_read(AccessAction.CALLER_HISTORY, f"caller:{masked_number(ticket['caller'])}", call_id=ticket["call_id"],
                 number=ticket["caller"], codes=[t["code"] for t in open_of_caller], ticket=code)
    return render_template("ticket.html", t=for_role(ticket, current_user.role), agencies=svc.ctx.directory.entries,
                           now=svc.ctx.clock.now(), replies=Channel.REPLIES, photos=PHOTOS, suggestion=suggestion,
                           open_of_caller=open_of_caller, related=related, callbacks=_callbacks(ticket))


def _callbacks(ticket: dict[str, Any]) -> list[dict[str, Any]]:
    """The call-backs the ticket's call asked for (key 2 while waiting), each with its call out's recording."""
    call_id = ticket.get("call_id")
    return callbacks_of_calls(services().sessions, [call_id]).get(call_id, []) if call_id else []


#: The files shown in the page (the photos hotline.intake re-encoded); any other is only downloaded.
PHOTOS = ("image/jpeg", "image/png")
#: A call-back's call out recording among a ticket's audio: ``callback-<the call-back's id>``.
CALLBACK_AUDIO = re.compile(r"callback-[0-9]{1,9}")


@bp.route("/<code>/files/<int:file_id>")
@requires("tickets.view")
def file(code: str, file_id: int) -> Any:
    """A file the citizen sent with the ticket, to whoever may see the ticket (another agency's: 404), each
    read in the AccessLog with the ticket; never a path outside the attachments folder."""
    svc = services()
    ticket = visible(svc.tickets.get(code))
    found = svc.tickets.attachment(code, file_id)
    root = svc.ctx.settings.paths.attachments.resolve()
    path = (root / found["path"]).resolve() if found else root
    if found is None or not path.is_relative_to(root) or not path.is_file():
        abort(404)
    # the file's id, never its name: a citizen's file name is theirs, and an erasure does not reach this log
    log_read(AccessAction.FILE_VIEW, f"ticket:{code}", call_id=ticket["call_id"], file=file_id)
    photo = found["media_type"] in PHOTOS
    response = send_file(path, mimetype=found["media_type"], as_attachment=not photo,
                         download_name=found["filename"], conditional=True, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _audio_path(code: str, kind: str) -> str:
    """The path of the ticket's ``kind`` of audio ("recording": the call's, "voicemail", "callback-<id>": the call
    out of a call-back its call asked for), if the user may hear it: 404 for no such ticket or audio, 403 for
    another agency's ticket."""
    ticket = services().tickets.get(code)
    if ticket is None or not (kind in ("recording", "voicemail") or CALLBACK_AUDIO.fullmatch(kind)):
        abort(404)
    if current_user.role == Role.AGENCY and ticket["agency"] != current_user.user.agency:
        abort(403)
    if kind.startswith("callback-"):
        wanted = int(kind.removeprefix("callback-"))
        path = next(((cb["recording"] or {}).get("path") for cb in _callbacks(ticket) if cb["id"] == wanted), None)
    else:
        path = ticket["recording"] if kind == "recording" else (ticket["voicemail"] or {}).get("path")
    if not path:
        abort(404)
    return str(path)


@bp.route("/<code>/audio/<kind>")
@requires("tickets.audio")
def audio(code: str, kind: str) -> Any:
    """The ticket's call recording or voicemail, with seeking; each play logged with the ticket."""
    rel = _audio_path(code, kind)
    joined, call_id = known(rel)
    return serve(rel, joined, call_id, ticket=code)


@bp.route("/<code>/waveform")
@requires("tickets.audio")
def waveform(code: str) -> Any:
    """The loudness of the ticket's call recording, drawn under its player (not a play: not logged)."""
    return waveform_svg(known(_audio_path(code, "recording"))[0])


@bp.route("/<code>/waveform/<kind>")
@requires("tickets.audio")
def waveform_of(code: str, kind: str) -> Any:
    """The loudness of another recording of the ticket (a call-back's call out), drawn under its player."""
    return waveform_svg(known(_audio_path(code, kind))[0])


@bp.route("/<code>/assign", methods=["POST"])
@requires("tickets.write")
def assign(code: str) -> Response:
    return _act(code, lambda t: services().tickets.assign(code, request.form.get("agency", ""),
                                                         actor=current_user.name,
                                                         note=request.form.get("note", "")),
                "Đã chuyển phiếu cho cơ quan.")


@bp.route("/<code>/suggestion", methods=["POST"])
@requires("tickets.write")
def confirm_suggestion(code: str) -> Response:
    """The operator's one click on the suggested category and agency (the suggestions learn from it)."""
    return _act(code, lambda t: services().suggest.confirm(code, category=request.form.get("category") or None,
                                                          agency=request.form.get("agency") or None,
                                                          actor=current_user.name),
                "Đã xác nhận gợi ý: phiếu đã được phân loại và chuyển cơ quan.")


@bp.route("/<code>/merge", methods=["POST"])
@requires("tickets.write")
def merge(code: str) -> Response:
    """Merge this ticket into another (the probable duplicate's link, or a code typed): it is closed as a
    duplicate, its content, files and events join the other's timeline; the citizen hears the answer once."""
    into = (request.form.get("into") or "").strip()
    return _act(code, lambda t: services().tickets.merge(code, into, actor=current_user.name,
                                                        note=request.form.get("note", "")),
                f"Đã gộp phiếu vào phiếu {into}.")


@bp.route("/<code>/answer", methods=["POST"])
@requires("tickets.answer")
def answer(code: str) -> Response:
    return _act(code, lambda t: services().tickets.answer(code, request.form.get("text", ""),
                                                         actor=current_user.name), answered_note)


def answered_note(ticket: dict[str, Any]) -> str:
    """What the operator is told once the answer is kept: where the citizen will read it."""
    if ticket["channel"] in Channel.REPLIES:
        channel = label("channel", ticket["channel"])
        return f"Đã ghi nội dung trả lời; câu trả lời sẽ được gửi cho người dân qua {channel}."
    if ticket["channel"] == Channel.WEB:
        return "Đã ghi nội dung trả lời; câu trả lời hiện trên trang tra cứu công khai của mã phiếu."
    return "Đã ghi nội dung trả lời."


@bp.route("/<code>/start", methods=["POST"])
@requires("tickets.answer")
def start(code: str) -> Response:
    return _act(code, lambda t: services().tickets.start(code, actor=current_user.name), "Đã nhận xử lý phiếu.")


@bp.route("/<code>/close", methods=["POST"])
@requires("tickets.write")
def close(code: str) -> Response:
    status = request.form.get("status", TicketStatus.CLOSED)
    return _act(code, lambda t: services().tickets.close(code, actor=current_user.name, status=status,
                                                        note=request.form.get("note", "")), "Đã đóng phiếu.")


@bp.route("/<code>/call", methods=["POST"])
@requires("calls.place")
def call(code: str) -> Response:
    """"Gọi cho công dân": the operator's phone rings, then the citizen's number (the ticket's, or the one typed)."""
    svc = services()
    ticket = visible(svc.tickets.get(code))
    operator = current_user.user.operator or ""
    try:
        placed = svc.outbound.place(operator=operator, number=request.form.get("number") or ticket["caller"],
                                    actor=current_user.name, ticket=code)
    except HotlineError as exc:
        flash(f"Không gọi được: {for_people(exc)}", "error")
        return redirect(url_for("tickets.show", code=code))
    svc.access(current_user.name, AccessAction.CALL_OUT, f"tel:{placed.number}", call_id=placed.call_id,
               remote_addr=request.remote_addr, ticket=code, phone=operator)
    flash(f"Máy của bạn sẽ đổ chuông: nhấc máy để gọi cho công dân số {placed.number}. Sau cuộc gọi, hãy ghi "
          "kết quả.", "info")
    return redirect(url_for("tickets.show", code=code))


@bp.route("/<code>/call-outcome", methods=["POST"])
@requires("calls.place")
def call_outcome(code: str) -> Response:
    """What came of the call: relayed (the answered ticket is closed), no answer, wrong number (noted)."""
    outcome = request.form.get("outcome", "")
    return _act(code, lambda t: services().outbound.outcome(code, outcome, actor=current_user.name,
                                                           call_id=request.form.get("call_id", "")),
                lambda t: f"Đã ghi kết quả cuộc gọi: {label('call_outcome', outcome)}.")


def _act(code: str, action: Any, done: str | Callable[[dict[str, Any]], str]) -> Response:
    ticket = visible(services().tickets.get(code))
    try:
        action(ticket)
    except TicketError as exc:
        flash(f"Không thực hiện được: {for_people(exc)}", "error")
    else:
        flash(done if isinstance(done, str) else done(ticket), "info")
    return redirect(url_for("tickets.show", code=code))
