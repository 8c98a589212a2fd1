"""Open311 GeoReport v2 under /open311/v2/: other systems (a city's app, a ministry's portal) read the hotline's
services and requests and send requests in, in JSON or XML (README: Channels, Open311).

The services are the ticket categories (ticket_categories.yaml). A POST needs an API key (``hotline channels
open311-key CLIENT``) and goes through the one door, ``hotline.intake``, as channel ``open311``; the spec has no id
of a request a client could send twice, so a POST sent twice is two tickets. The GETs need no key and are anonymous
open data: a request's code, service, status, agency and dates; never the citizen's name, phone, e-mail, address,
map point or words (not even a web request's: anyone may list every request, and what a citizen writes, says on
the phone or leaves on voicemail often names them), nor the agency's answer (the status page shows it to whoever
holds the code).
"""
from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any
from xml.etree import ElementTree

from flask import Blueprint, Response, current_app, request

from hotline.domain.vocabulary import TicketStatus
from hotline.intake import IntakeError, Request

from . import limiter, services

log = logging.getLogger("hotline.public")
bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
FORMATS = ("json", "xml")
WINDOW = timedelta(days=90)        # the spec's default and widest range of GET requests
MAX_REQUESTS = 1000                # the most requests one GET returns
#: Open311 knows two statuses; every hotline status is one of them.
STATUS = {**{s: "open" for s in TicketStatus.OPEN},
          **{s: "closed" for s in (TicketStatus.ANSWERED, *TicketStatus.FINAL)}}
#: The spec's fields of a request that the hotline never fills (all personal, or unknown to it).
WITHHELD = ("description", "address", "address_id", "zipcode", "lat", "long", "media_url")


class Open311Error(Exception):
    """A request refused with ``status`` and the Vietnamese ``vi`` the client's error list carries."""

    def __init__(self, status: int, vi: str) -> None:
        super().__init__(vi)
        self.status = status
        self.vi = vi


@bp.errorhandler(Open311Error)
def _refused(e: Open311Error) -> Response:
    return _error(e.status, e.vi)


@bp.errorhandler(429)
def _too_many(_e: Exception) -> Response:
    return _error(429, "Hệ thống của bạn đã gửi quá nhiều yêu cầu trong thời gian ngắn; hãy thử lại sau ít phút.")


def _error(status: int, vi: str) -> Response:
    fmt = request.view_args.get("fmt") if request.view_args else None
    return _answer("errors", "error", [{"code": status, "description": vi}], fmt if fmt in FORMATS else "json",
                   status)


# -- services -------------------------------------------------------------------------
@bp.get("/services.<fmt>")
def service_list(fmt: str) -> Response:
    return _answer("services", "service", [_service(c) for c in services().ctx.categories.entries], fmt)


@bp.get("/services/<code>.<fmt>")
def service_definition(code: str, fmt: str) -> Response:
    _format(fmt)
    if code not in services().ctx.categories:
        raise Open311Error(404, f"Không có lĩnh vực mã {code[:40]}; xem danh sách tại services.{fmt}.")
    definition = {"service_code": code, "attributes": []}   # no service asks for more than its text
    return _answer(None, "service_definition", [definition], fmt)


def _service(category: Any) -> dict[str, Any]:
    keywords = [w.strip() for part in category.description.split(";") for w in part.split(",") if w.strip()]
    return {"service_code": category.code, "service_name": category.name, "description": category.description,
            "metadata": False, "type": "realtime", "keywords": ", ".join(keywords),
            "group": f"Trả lời trong {category.deadline_hours:g} giờ làm việc"}


# -- requests in ----------------------------------------------------------------------
def _client_or_address() -> str:
    """Whom the POST limit counts: the client of a valid API key, else the address."""
    client = services().ctx.secrets.open311_client(request.form.get("api_key", "")) \
        if request.form.get("api_key") else None
    return f"client:{client}" if client else f"address:{request.remote_addr or '-'}"


def _per_minute() -> str:
    return f"{services().ctx.settings.public.open311_per_minute} per minute"


@bp.post("/requests.<fmt>")
@limiter.limit(_per_minute, key_func=_client_or_address)
def create(fmt: str) -> Response:
    _format(fmt)
    svc = services()
    form = request.form
    key = form.get("api_key", "")
    client = svc.ctx.secrets.open311_client(key) if key else None
    if client is None:
        svc.refused("open311")
        raise Open311Error(403, "Thiếu api_key hoặc api_key không hợp lệ; hãy xin khóa của đường dây nóng 1022."
                           if key else "Thiếu api_key: yêu cầu gửi phản ánh cần khóa do đường dây nóng 1022 cấp.")
    try:
        receipt = svc.intake.receive(_request(form))
    except IntakeError as e:
        svc.refused("open311")
        raise Open311Error(400, e.vi or str(e)) from None
    log.info("open311 client %s sent ticket %s", client, receipt.code)
    answer = {"service_request_id": receipt.code, "service_notice": receipt.reply, "account_id": None}
    return _answer("service_requests", "request", [answer], fmt, 201)


def _request(form: Any) -> Request:
    """The intake's Request of a POST's fields (``attribute[…]``, ``address_id``, ``device_id`` and
    ``account_id`` are not kept; ``media_url`` is kept as a line of the text, never fetched)."""
    code = form.get("service_code", "").strip()
    if not code:
        raise IntakeError("no service_code", vi="Thiếu service_code: hãy chọn một lĩnh vực trong services.json.")
    if code not in services().ctx.categories:
        raise IntakeError(f"no service {code[:40]!r}",
                          vi=f"Không có lĩnh vực mã {code[:40]}; xem danh sách tại services.json.")
    content = form.get("description", "")
    media = form.get("media_url", "").strip()
    if media and content.strip():
        if not media.startswith(("https://", "http://")) or len(media) > 1000:
            raise IntakeError("media_url is not an http(s) URL",
                              vi="media_url phải là một địa chỉ http:// hoặc https:// không quá 1000 ký tự.")
        content = f"{content}\n\nẢnh do hệ thống gửi kèm (chưa kiểm tra): {media}"
    name = " ".join(form.get(k, "").strip() for k in ("last_name", "first_name")).strip()   # họ trước tên
    lat, lon = _number(form.get("lat", ""), "lat"), _number(form.get("long", ""), "long")
    return Request(channel="open311", content=content, category=code, name=name, phone=form.get("phone", ""),
                   email=form.get("email", ""), address=form.get("address_string", ""), latitude=lat,
                   longitude=lon)


def _number(text: str, name: str) -> float | None:
    if not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        raise IntakeError(f"{name} is not a number", vi=f"{name} phải là một số (độ, WGS 84), ví dụ 10.4599.") \
            from None


# -- requests out ---------------------------------------------------------------------
def _lookups_per_minute() -> str:
    return f"{services().ctx.settings.public.lookups_per_minute} per minute"


@bp.get("/requests.<fmt>")
@limiter.limit(_lookups_per_minute)
def request_list(fmt: str) -> Response:
    _format(fmt)
    args = request.args
    codes = _list(args.get("service_request_id", ""))
    since, until = _window(args.get("start_date", ""), args.get("end_date", ""))
    found = services().intake.tickets.published(
        since=since, until=until, codes=codes[:MAX_REQUESTS], statuses=_statuses(args.get("status", "")),
        categories=_categories(args.get("service_code", "")), limit=MAX_REQUESTS)
    return _answer("service_requests", "request", [_public(t) for t in found], fmt)


@bp.get("/requests/<code>.<fmt>")
@limiter.limit(_lookups_per_minute)
def request_one(code: str, fmt: str) -> Response:
    _format(fmt)
    tickets = services().intake.tickets
    found = tickets.published(since=tickets.now(), until=tickets.now(), codes=[code[:32]], limit=1)
    if not found:
        raise Open311Error(404, f"Không có phản ánh mã {code[:32]}.")
    return _answer("service_requests", "request", [_public(found[0])], fmt)


def _public(ticket: dict[str, Any]) -> dict[str, Any]:
    """What anyone may read of a ticket (see the module's docstring: nothing of the citizen, nor their words)."""
    svc = services()
    categories = svc.ctx.categories
    updated = max([ticket["received_at"], *(e["at"] for e in ticket.get("events", ()))], key=datetime.fromisoformat)
    out = {"service_request_id": ticket["code"], "status": STATUS[ticket["status"]],
           "status_notes": ticket["status_vi"],
           "service_name": categories.get(ticket["category"]).name if ticket["category"] in categories else None,
           "service_code": ticket["category"], "agency_responsible": svc.agency_name(ticket["agency"]),
           "service_notice": f"Thời hạn trả lời: {ticket['deadline_hours']:g} giờ làm việc.",
           "requested_datetime": ticket["received_at"], "updated_datetime": updated,
           "expected_datetime": ticket["due_at"]}
    return {**out, **dict.fromkeys(WITHHELD)}


def _window(start: str, end: str) -> tuple[datetime, datetime]:
    """The range of received times a GET asks for: the spec's last 90 days by default, never wider."""
    since, until = _date(start, "start_date"), _date(end, "end_date")
    if since is None and until is None:
        until = services().intake.tickets.now()
    if since is None:
        assert until is not None
        since = until - WINDOW
    if until is None:
        until = since + WINDOW
    if since > until:
        raise Open311Error(400, "start_date phải trước end_date.")
    if until - since > WINDOW:
        raise Open311Error(400, "Khoảng thời gian tìm kiếm tối đa 90 ngày; hãy thu hẹp start_date và end_date.")
    return since, until


def _date(text: str, name: str) -> datetime | None:
    if not text.strip():
        return None
    try:
        value = datetime.fromisoformat(re.sub(r" (\d\d:?\d\d)$", r"+\1", text.strip()))  # an unquoted + is a blank
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise Open311Error(400, f"{name} không đúng định dạng ISO 8601 có múi giờ, ví dụ 2025-03-01T08:00:00+07:00 "
                                "hoặc 2025-03-01T01:00:00Z.")
    return value


def _statuses(text: str) -> list[str]:
    wanted = _list(text)
    unknown = [w for w in wanted if w not in ("open", "closed")]
    if unknown:
        raise Open311Error(400, f"status {unknown[0][:20]} không hợp lệ: chỉ có open hoặc closed.")
    return [s for s, o311 in STATUS.items() if o311 in wanted]


def _categories(text: str) -> list[str]:
    wanted = _list(text)
    unknown = [c for c in wanted if c not in services().ctx.categories]
    if unknown:
        raise Open311Error(400, f"Không có lĩnh vực mã {unknown[0][:40]}; xem danh sách tại services.json.")
    return wanted


def _list(text: str) -> list[str]:
    return [w.strip() for w in text.split(",") if w.strip()]


# -- answers --------------------------------------------------------------------------
def _format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise Open311Error(400, f"Định dạng {fmt[:10]} không được hỗ trợ: hãy dùng .json hoặc .xml.")


def _answer(root: str | None, item: str, rows: list[dict[str, Any]], fmt: str, status: int = 200) -> Response:
    """``rows`` as the spec writes them: a JSON list (one object for a service definition), or XML ``<root>``
    holding an ``<item>`` per row (a service definition's root is the item)."""
    _format(fmt)
    if fmt == "json":
        body: Any = rows[0] if root is None else rows
        return Response(current_app.json.dumps(body, sort_keys=False), status=status,     # the spec's order
                        content_type="application/json; charset=utf-8")
    element = _element(item, rows[0]) if root is None else ElementTree.Element(root)
    if root is not None:
        element.extend(_element(item, row) for row in rows)
    xml = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(element, encoding="utf-8",
                                                                             xml_declaration=False)
    return Response(xml, status=status, content_type="application/xml; charset=utf-8")


def _element(tag: str, row: dict[str, Any]) -> ElementTree.Element:
    element = ElementTree.Element(tag)
    for key, value in row.items():
        child = ElementTree.SubElement(element, key)
        if isinstance(value, list):        # a service definition's attributes: none so far
            child.extend(_element(key[:-1], v) for v in value)
        elif isinstance(value, bool):
            child.text = "true" if value else "false"
        elif value is not None:
            child.text = str(value)
    return element
