"""The JSON API under /api/ (token: ``Authorization: Bearer …``, from ``hotline users token``).

The same permissions as the pages; described in operator_console/openapi.yaml. Every read of personal data
(tickets, calls, recordings) is an AccessLog row with the token's user and the client's address.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, jsonify, request, send_file
from flask_login import current_user

from hotline.domain.vocabulary import AccessAction

from .auth import public, requires
from .permissions import for_role
from .recordings import log_recordings, search_recordings
from .services import log_read, services
from .tickets import filters_from, log_list, log_ticket, visible

bp = Blueprint("api", __name__, url_prefix="/api")


def _number(name: str, default: int, highest: int) -> int:
    """A whole-number query argument between 0 and ``highest``; ``default`` when absent or not a number."""
    return min(max(request.args.get(name, default, type=int) or 0, 0), highest)


def _masked(ticket: dict[str, Any]) -> dict[str, Any]:
    return for_role(ticket, current_user.role)


@bp.route("/openapi.yaml")
@public
def openapi() -> Any:
    return send_file(Path(__file__).with_name("openapi.yaml"), mimetype="application/yaml")


@bp.route("/me")
@requires("console.open")
def me() -> Any:
    return jsonify(current_user.user.to_dict())


@bp.route("/tickets")
@requires("tickets.view")
def tickets() -> Any:
    svc = services()
    f = filters_from(request.args)
    limit, offset = _number("limit", 50, 500), _number("offset", 0, 10**9)
    rows = svc.tickets.list(limit=limit, offset=offset, **f)
    log_list(AccessAction.API_TICKET_LIST, rows, f, limit=limit, offset=offset)
    return jsonify(tickets=[_masked(t) for t in rows])


@bp.route("/tickets/<code>")
@requires("tickets.view")
def ticket(code: str) -> Any:
    ticket = visible(services().tickets.get(code))
    log_ticket(AccessAction.API_TICKET_VIEW, ticket, transcript=bool((ticket["voicemail"] or {}).get("transcript")))
    return jsonify(_masked(ticket))


@bp.route("/calls")
@requires("calls.view")
def calls() -> Any:
    caller = request.args.get("caller")
    rows = services().calls.latest(_number("limit", 50, 500), caller=caller)
    log_read(AccessAction.API_CALL_LIST, "calls", caller=caller, count=len(rows), calls=[c["call_id"] for c in rows])
    return jsonify(calls=rows)


@bp.route("/recordings")
@requires("recordings.play")
def recordings() -> Any:
    rows = search_recordings(request.args, _number("limit", 50, 500))
    log_recordings(AccessAction.API_RECORDINGS, rows)
    return jsonify(recordings=[{**r, "started_at": r["started_at"].isoformat(),
                                "url": f"/recordings/file/{r['path']}"} for r in rows])
