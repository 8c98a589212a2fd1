"""``GET /healthz``: is the hotline well? Open to anyone (a load balancer, a monitoring system), so it says
only which parts are up, with counts and ages: never a number, a name, a version or a path.

200 when every part is well, 503 otherwise. The answer is cached for a couple of seconds
(``hotline.services.health.CachedHealth``): asking it in a loop cannot load the hotline.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from .auth import public
from .services import services

bp = Blueprint("health", __name__)


@bp.route("/healthz")
@public
def healthz() -> Any:
    report = services().health.get()
    response = jsonify(report.public())
    response.headers["Cache-Control"] = "no-store"
    return response, 200 if report.ok else 503
