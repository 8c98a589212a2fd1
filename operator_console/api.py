"""The JSON API under /api/ (token: ``Authorization: Bearer …``, from ``hotline users token``).

The same permissions as the pages; described in operator_console/openapi.yaml.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, jsonify, request, send_file
from flask_login import current_user

from .auth import public, requires
from .permissions import mask_number
from .recordings import search_recordings
from .services import services
from .tickets import filters_from, visible

bp = Blueprint("api", __name__, url_prefix="/api")


def _number(name: str, default: int, highest: int) -> int:
    """A whole-number query argument between 0 and ``highest``; ``default`` when absent or not a number."""
    return min(max(request.args.get(name, default, type=int) or 0, 0), highest)


def _masked(ticket: dict[str, Any]) -> dict[str, Any]:
    return {**ticket, "caller": mask_number(ticket.get("caller"), current_user.role)}


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
    rows = svc.tickets.list(limit=_number("limit", 50, 500), offset=_number("offset", 0, 10**9),
                            **filters_from(request.args))
    return jsonify(tickets=[_masked(t) for t in rows])


@bp.route("/tickets/<code>")
@requires("tickets.view")
def ticket(code: str) -> Any:
    return jsonify(_masked(visible(services().tickets.get(code))))


@bp.route("/calls")
@requires("calls.view")
def calls() -> Any:
    return jsonify(calls=services().calls.latest(_number("limit", 50, 500), caller=request.args.get("caller")))


@bp.route("/recordings")
@requires("recordings.play")
def recordings() -> Any:
    rows = search_recordings(request.args, _number("limit", 50, 500))
    return jsonify(recordings=[{**r, "started_at": r["started_at"].isoformat(),
                                "url": f"/recordings/file/{r['path']}"} for r in rows])
