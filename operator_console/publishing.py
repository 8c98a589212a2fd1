"""Published answers (supervisors and admins): the answered tickets not yet on the public figures page, their
question and answer redacted (what was taken out marked, and listed), editable, with "Duyệt công bố"; the answers
on the page now, with "Gỡ". hotline.services.publishing refuses a text that still holds a phone number, an e-mail
or an ID number; each approval and withdrawal is a TicketEvent of the ticket, and the list shown (the citizens'
words) an AccessLog row.
"""
from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup, escape

from hotline.domain.errors import for_people
from hotline.domain.redact import PLACEHOLDER
from hotline.domain.vocabulary import AccessAction
from hotline.services.publishing import PublishingError

from .auth import requires
from .services import log_read, services

bp = Blueprint("publishing", __name__, url_prefix="/publishing")
_MARKED = re.compile("|".join(re.escape(p) for p in PLACEHOLDER.values()))


def marked(text: str) -> Markup:
    """``text`` escaped, each bracketed word redaction put in place highlighted."""
    safe = str(escape(text))
    return Markup(_MARKED.sub(lambda m: f"<mark>{m[0]}</mark>", safe))


@bp.route("/")
@requires("answers.publish")
def page(edited: dict[str, dict[str, str]] | None = None) -> Any:
    pub = services().publishing
    waiting, shown = pub.candidates(), pub.published(limit=50)
    log_read(AccessAction.TICKET_LIST, "publishing", count=len(waiting) + len(shown),
             codes=[t["code"] for t in waiting] + [t["code"] for t in shown])
    return render_template("publishing.html", waiting=waiting, shown=shown, edited=edited or {}, marked=marked)


@bp.route("/<code>/approve", methods=["POST"])
@requires("answers.publish")
def approve(code: str) -> Any:
    question, answer = request.form.get("question", ""), request.form.get("answer", "")
    try:
        services().publishing.approve(code, question, answer, actor=current_user.name)
    except PublishingError as exc:
        flash(f"Phiếu {code}: {for_people(exc)}", "error")
        return page(edited={code: {"question": question, "answer": answer}}), 400
    flash(f"Đã duyệt công bố câu trả lời của phiếu {code}.", "info")
    return redirect(url_for("publishing.page"))


@bp.route("/<code>/withdraw", methods=["POST"])
@requires("answers.publish")
def withdraw(code: str) -> Any:
    try:
        services().publishing.withdraw(code, actor=current_user.name)
        flash(f"Đã gỡ câu trả lời của phiếu {code} khỏi trang công khai.", "info")
    except PublishingError as exc:
        flash(for_people(exc), "error")
    return redirect(url_for("publishing.page"))
