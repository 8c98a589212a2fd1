"""The home page: what this role can open."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from .auth import requires

bp = Blueprint("home", __name__)


@bp.route("/")
@requires("console.open")
def index() -> Any:
    if current_user.role == "agency":
        return redirect(url_for("tickets.inbox"))
    return render_template("home.html")
