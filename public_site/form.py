"""The citizens' web form and the status page of a ticket (Vietnamese, no sign-in, for a phone's browser).

The form takes the request, an optional name, phone number and e-mail, the place (address, and the phone's
position if the citizen shares it) and up to ``[intake] max_files`` photos; a request refused is shown again
with everything written kept. The status page shows what a ticket's code may show to anyone holding it: where
it stands, the agency handling it, its deadline and, once given, the answer; never who sent it or what they wrote.
"""
from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for

from hotline.domain.labels import CHANNEL
from hotline.domain.tickets import codes
from hotline.domain.vocabulary import TicketStatus
from hotline.intake import FileRefused, IntakeError, Request, Upload
from hotline.intake.service import status_token

from . import limiter, services

bp = Blueprint("form", __name__)
FIELDS = ("noi_dung", "linh_vuc", "ho_ten", "dien_thoai", "email", "dia_chi", "vi_do", "kinh_do")


def _per_hour() -> str:
    return f"{services().ctx.settings.public.form_per_hour} per hour"


def _per_minute() -> str:
    return f"{services().ctx.settings.public.lookups_per_minute} per minute"


@bp.get("/")
def page() -> str:
    return _form({}, None)


@bp.post("/gui")
@limiter.limit(_per_hour)
def submit() -> Any:
    values = {name: request.form.get(name, "") for name in FIELDS}
    svc = services()
    uploads = tuple(Upload(f.filename or "anh", f.mimetype or "", f.read())
                    for f in request.files.getlist("anh") if f and f.filename)
    try:
        lat, lon = _point(values["vi_do"], values["kinh_do"])
        receipt = svc.intake.receive(Request(
            channel="web", content=values["noi_dung"], category=values["linh_vuc"] or None,
            name=values["ho_ten"], phone=values["dien_thoai"], email=values["email"], address=values["dia_chi"],
            latitude=lat, longitude=lon, files=uploads))
    except (IntakeError, FileRefused) as e:
        svc.refused("file" if isinstance(e, FileRefused) else "invalid")
        return _form(values, e.vi or str(e), photos_lost=bool(uploads)), 400
    return render_template("receipt.html", code=receipt.code, status_url=url_for(
        "form.status", code=receipt.code, k=status_token(svc.intake.link_key, receipt.code)))


@bp.get("/tra-cuu")
def lookup() -> Any:
    code = "".join(ch for ch in request.args.get("ma", "") if ch.isdigit())
    if not code:
        return render_template("lookup.html", error=None)
    return redirect(url_for("form.status", code=code))


@bp.get("/tra-cuu/<code>")
@limiter.limit(_per_minute)
def status(code: str) -> Any:
    svc = services()
    digits = svc.ctx.settings.tickets.code_digits
    if not codes.is_valid(code, digits):
        return render_template("lookup.html", error=f"Mã phiếu {code[:20]} không đúng: mã có {digits} chữ số; "
                                                    "hãy kiểm tra lại từng chữ số."), 404
    ticket = svc.intake.tickets.get(code)
    if ticket is None:
        return render_template("lookup.html", error=f"Không tìm thấy phiếu mã {code}."), 404
    given = request.args.get("k", "")
    own = bool(svc.intake.link_key) and hmac.compare_digest(given.encode(), status_token(svc.intake.link_key,
                                                                                        code).encode())
    return render_template("status.html", t=public_view(ticket, svc, with_answer=own), own=own)


def public_view(ticket: dict[str, Any], svc: Any, with_answer: bool = False) -> dict[str, Any]:
    """What anyone holding a ticket's code may see of it: nothing about the citizen, nor their words; the answer
    (it may name them) only with ``with_answer``: the link the citizen was sent."""
    agency = svc.agency_name(ticket["agency"])
    answered = ticket["status"] in (TicketStatus.ANSWERED, TicketStatus.CLOSED)
    category = svc.ctx.categories.get(ticket["category"]).name if ticket["category"] in svc.ctx.categories else ""
    return {"code": ticket["code"], "status": ticket["status"], "status_vi": ticket["status_vi"],
            "channel": CHANNEL.get(ticket["channel"], ticket["channel"]), "category": category, "agency": agency,
            "received_at": ticket["received_at"], "due_at": ticket["due_at"],
            "answer": ticket["answer"] if answered and with_answer else None, "answered": answered,
            "answered_at": ticket["answered_at"]}


def _form(values: dict[str, str], error: str | None, photos_lost: bool = False) -> str:
    svc = services()
    return render_template("form.html", v=values, error=error, photos_lost=photos_lost,
                           categories=svc.ctx.categories.entries, limits=svc.ctx.settings.intake)


def _point(lat: str, lon: str) -> tuple[float | None, float | None]:
    if not lat.strip() and not lon.strip():
        return None, None
    try:
        return float(lat), float(lon)
    except ValueError:
        raise IntakeError("the map point is not two numbers", vi="Vị trí trên bản đồ không hợp lệ; hãy chọn lại.") \
            from None
