"""The operator's softphone page and what it calls: its SIP account, state changes, the caller's
history, transfers and the ticket written during a call.

The page registers to Asterisk itself (SIP.js over WebSocket, WebRTC media); the server only
hands the signed-in operator their own SIP account and acts for them over AMI, through the same
services as ``hotline operators`` and ``hotline transfer``.
"""
from __future__ import annotations

import logging
import re
from typing import Any

from flask import Blueprint, Response, abort, jsonify, render_template, request
from flask_login import current_user

from hotline.domain.errors import HotlineError, for_people
from hotline.domain.labels import AGENCY_KIND, PAUSE_REASON, label
from hotline.domain.redact import masked_number
from hotline.domain.vocabulary import AccessAction, OperatorState
from hotline.services.operators import PAUSE_REASONS
from hotline.services.tickets import TicketError
from hotline.services.transfers import TransferRequest

from .auth import requires
from .filters import localtime
from .hardening import sip_websocket_url
from .services import log_read, services

log = logging.getLogger("hotline.console")
CALL_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")     # a channel id as Asterisk and the app name them
bp = Blueprint("phone", __name__, url_prefix="/phone")


def _operator() -> str:
    name = current_user.user.operator
    if not name:     # the page's script shows the message: JSON, as every answer of these endpoints
        abort(_refusal("Tài khoản này chưa gắn với máy tổng đài viên nào (hotline users add … --operator TÊN)."))
    return str(name)


def _refusal(message: str) -> Response:
    answer = jsonify(error="refused", message=message)
    answer.status_code = 409
    return answer


def _fail(exc: Exception | str) -> Response:
    """409 with what the operator reads: the error's Vietnamese wording (the English goes to the log)."""
    if isinstance(exc, str):
        return _refusal(exc)
    log.info("operator %s refused: %s", getattr(current_user, "name", "?"), exc)
    return _refusal(for_people(exc))


@bp.route("/")
@requires("phone.use")
def page() -> Any:
    svc = services()
    return render_template("phone.html", operator=current_user.user.operator, categories=svc.ctx.categories.entries)


@bp.route("/directory")
@requires("phone.use")
def directory() -> Any:
    """?q=: the transfer directory's entries matching a name (diacritics and case ignored: "my tho" finds
    "Phường Mỹ Tho") or a code, for the transfer box; at most ``limit`` (20, up to 50)."""
    query = (request.args.get("q") or "").strip()[:80]
    limit = request.args.get("limit", "20")
    count = min(int(limit), 50) if limit.isdigit() and int(limit) > 0 else 20
    found = services().ctx.directory.search(query, count)
    return jsonify(agencies=[{"target": f"{a.kind}:{a.code}", "kind": a.kind, "code": a.code, "name": a.name,
                              "kind_label": AGENCY_KIND.get(a.kind, a.kind)} for a in found])


@bp.route("/account")
@requires("phone.use")
def account() -> Any:
    """The signed-in operator's own SIP account (nobody else's) and the softphone's settings."""
    svc = services()
    name = _operator()
    s = svc.ctx.settings
    ws = sip_websocket_url(s)
    # on a cluster the softphone registers with Kamailio (its domain); else with Asterisk itself
    host = s.cluster.registrar.rsplit(":", 1)[0] if s.cluster.softphones_at_registrar else s.asterisk.http_bind
    try:
        password = svc.ctx.secrets.endpoint_password(name)
    except PermissionError:     # none yet, and secrets.toml is root's: the console (user hotline) may not add one
        log.warning("operator %s has no SIP password and the console may not create one; run hotline operators "
                    "add %s as root", name, name)
        return jsonify(error="no_sip_account",
                       message="Điện thoại viên này chưa có tài khoản SIP. Quản trị viên hệ thống cần chạy "
                               f"`hotline operators add {name}` trên máy chủ rồi tải lại trang."), 503
    return jsonify(websocket=ws, uri=f"sip:{name}@{host}", username=name,
                   password=password, display_name=current_user.user.full_name,
                   ice_timeout_ms=s.console.ice_timeout_ms, wrapup_seconds=s.queue.wrapup_seconds)


@bp.route("/state", methods=["GET", "POST"])
@requires("phone.use")
def state() -> Any:
    """GET: the operator's state; POST {state: available|paused|logged_out, reason}: change it."""
    name = _operator()
    ops = services().operators
    if request.method == "POST":
        body = request.get_json(silent=True) or {}
        wanted, reason = body.get("state"), body.get("reason") or "break"
        current = next((o for o in ops.states() if o.name == name), None)
        try:
            if wanted == OperatorState.AVAILABLE:
                if current is None or current.state == OperatorState.LOGGED_OUT:
                    ops.login(name)
                elif current.state == OperatorState.PAUSED:
                    ops.resume(name)
            elif wanted == OperatorState.PAUSED:
                if reason not in PAUSE_REASONS:
                    return _fail("Hãy chọn lý do tạm nghỉ: " + ", ".join(PAUSE_REASON[r] for r in PAUSE_REASONS)
                                 + ".")
                if current is None or current.state == OperatorState.LOGGED_OUT:
                    ops.login(name)
                ops.pause(name, reason)
            elif wanted == OperatorState.LOGGED_OUT:
                ops.logout(name)
            else:
                return _fail("Trạng thái chỉ là: sẵn sàng, tạm nghỉ hoặc kết thúc ca.")
        except HotlineError as exc:
            return _fail(exc)
    now = next((o for o in ops.states() if o.name == name), None)
    return jsonify(now.to_json() if now else {"name": name, "state": OperatorState.LOGGED_OUT})


@bp.route("/history")
@requires("calls.view")
def history() -> Any:
    """A number's earlier tickets and calls (newest first, ten of each) and its open tickets (``open``: the number
    in any of its forms) for the incoming-call card; ``call``:
    the ringing call itself, left out. Codes with their Vietnamese labels, times in the province's zone; the
    number itself is never sent back (the roles that may ask see numbers whole: permissions.FULL_NUMBERS).
    Each look-up is an AccessLog row (the number masked, the tickets and calls shown)."""
    svc = services()
    number = (request.args.get("number") or "").strip()
    ringing = (request.args.get("call") or "").strip()
    if ringing and not CALL_ID.fullmatch(ringing):      # it goes into the AccessLog: an id, never free text
        return jsonify(error="bad_call", message="Mã cuộc gọi không hợp lệ."), 400
    if not number:
        return jsonify(tickets=[], calls=[])
    tickets = svc.tickets.list(caller=number, limit=10)
    still_open = svc.tickets.open_of_caller(number)      # whatever way each ticket wrote the number
    calls = [{"call_id": c["call_id"], "started_at": c["started_at"], "started_vi": localtime(c["started_at"]),
              "disposition": c["disposition"], "disposition_vi": label("disposition", c["disposition"]),
              "operator": c["operator"], "talk_seconds": c["talk_seconds"]}
             for c in svc.calls.latest(10, caller=number, leave_out=ringing)]
    log_read(AccessAction.CALLER_HISTORY, f"caller:{masked_number(number)}", call_id=ringing or None, number=number,
             codes=sorted({t["code"] for t in (*tickets, *still_open)}), calls=[c["call_id"] for c in calls])
    return jsonify(tickets=[_brief(t) for t in tickets], open=[_brief(t) for t in still_open], calls=calls)


def _brief(t: dict[str, Any]) -> dict[str, Any]:
    return {"code": t["code"], "received_at": t["received_at"], "received_vi": localtime(t["received_at"]),
            "status": t["status"], "status_vi": t["status_vi"], "content": t["content"][:200]}


@bp.route("/transfer", methods=["POST"])
@requires("phone.use")
def transfer() -> Any:
    """{call_id, target: "department:01", attended: bool}: blind or attended transfer over AMI."""
    name = _operator()
    body = request.get_json(silent=True) or {}
    kind, _, code = str(body.get("target", "")).partition(":")
    try:
        channel = services().transfers.transfer(
            TransferRequest(str(body.get("call_id", "")), kind, code, name, bool(body.get("attended"))))
    except HotlineError as exc:
        return _fail(exc)
    return jsonify(started=True, channel=channel)


@bp.route("/transfer/back", methods=["POST"])
@requires("phone.use")
def transfer_back() -> Any:
    """{call_id}: end the operator's consultation (AMI CancelAtxfer); the Transfer row says 'returned'."""
    name = _operator()
    call_id = str((request.get_json(silent=True) or {}).get("call_id", ""))
    svc = services()
    attempt = svc.calls.open_transfer(call_id) if call_id else None
    try:
        svc.transfers.back_to_caller(call_id, name)
    except HotlineError as exc:
        return _fail(exc)
    if attempt is not None:     # closed now: the consultation's own end (AGI transfer_end) changes nothing
        svc.calls.finish_transfer(attempt, outcome="returned", ended_at=svc.ctx.clock.now())
    return jsonify(back=True)


@bp.route("/ticket", methods=["POST"])
@requires("tickets.write")
def ticket() -> Any:
    """{call_id, caller, content, category}: the ticket the operator writes during the call."""
    svc = services()
    body = request.get_json(silent=True) or {}
    if not str(body.get("content", "")).strip():
        return _fail("Phiếu cần có nội dung phản ánh, kiến nghị.")
    try:
        created = svc.tickets.create(channel="phone", caller=str(body.get("caller", "")),
                                     content=str(body.get("content", "")).strip(),
                                     category=body.get("category") or None, actor=current_user.name,
                                     call_id=str(body["call_id"]) if body.get("call_id") else None)
    except (TicketError, LookupError) as exc:
        return _fail(exc)
    return jsonify(code=created["code"], due_at=created["due_at"])


@bp.route("/call", methods=["POST"])
@requires("calls.place")
def call() -> Any:
    """{number, ticket?}: call a citizen. The operator's own phone rings first; picked up, it calls the number
    through the outbound route (only Vietnamese numbers). Every call in the AccessLog with the number."""
    name = _operator()
    body = request.get_json(silent=True) or {}
    ticket = str(body["ticket"]) if body.get("ticket") else None
    return placed_call(name, str(body.get("number", "")), ticket)


def placed_call(operator: str, number: str, ticket: str | None) -> Response:
    """Place the call (the softphone's number field, a ticket's button): JSON, 409 with the Vietnamese refusal."""
    svc = services()
    try:
        placed = svc.outbound.place(operator=operator, number=number, actor=current_user.name, ticket=ticket)
    except HotlineError as exc:
        return _fail(exc)
    svc.access(current_user.name, AccessAction.CALL_OUT, f"tel:{placed.number}", call_id=placed.call_id,
               remote_addr=request.remote_addr, ticket=ticket, phone=operator)
    log.info("call=%s out: %s asked to call %s (ticket %s)", placed.call_id, current_user.name,
             masked_number(placed.number),
             ticket or "none")
    return jsonify(call_id=placed.call_id, number=placed.number, ticket=ticket,
                   message=f"Máy của bạn sẽ đổ chuông: nhấc máy để gọi số {placed.number}.")


@bp.route("/calls/<call_id>")
@requires("calls.place")
def call_state(call_id: str) -> Any:
    """A call out's row as the page follows it: ringing, talking, ended with its disposition (own calls only)."""
    if not CALL_ID.fullmatch(call_id):
        abort(404)
    row = services().calls.get(call_id)
    if row is None:
        return jsonify(call_id=call_id, state="placing")
    if row.get("direction") != "out" or (row.get("operator") != current_user.user.operator
                                         and current_user.role != "supervisor"):
        abort(404)
    state = "ended" if row["ended_at"] else "talking" if row["answered_at"] else "ringing"
    return jsonify(call_id=call_id, state=state, disposition=row["disposition"],
                   disposition_vi=label("disposition", row["disposition"]), talk_seconds=row["talk_seconds"])
