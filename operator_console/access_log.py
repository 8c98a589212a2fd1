"""The AccessLog for admins (/access-log/): who read which personal data, when and from where.

Rows newest first, filtered by user, action, days (the province's) and a ticket code or call id; ``limit`` rows
a page (the console's page size unless asked, 1–500) and ``page``, checked with every other query parameter
before the view runs (operator_console/hardening.py: 400 with a Vietnamese message). The same rows as CSV
(newest EXPORT_MOST at most), the download itself an AccessLog row. Every code is shown by its Vietnamese
label (hotline/domain/labels.py), every time in the province's zone.
"""
from __future__ import annotations

import csv
import io
from datetime import datetime, time, timedelta, tzinfo
from typing import Any

from flask import Blueprint, Response, render_template, request

from hotline.domain.labels import ACCESS_ACTION, ACTOR, label
from hotline.domain.sheets import safe_row
from hotline.domain.vocabulary import AccessAction
from hotline.services.access_log import AccessQuery

from .auth import requires
from .filters import agency_name, category_name
from .services import log_read, services

bp = Blueprint("access_log", __name__, url_prefix="/access-log")
EXPORT_MOST = 100_000
COLUMNS = ("Thời điểm", "Người dùng", "Việc", "Dữ liệu", "Mã cuộc gọi", "Địa chỉ máy", "Chi tiết")
#: What a row's resource names (a file's path is shown as it is).
RESOURCE_VI = {
    "tickets": "Danh sách phiếu", "calls": "Danh sách cuộc gọi", "recordings": "Danh sách ghi âm",
    "reports": "Báo cáo", "wallboard": "Màn hình giám sát trực tuyến", "access_log": "Nhật ký truy cập",
    "privacy:export": "Dữ liệu của một công dân", "privacy:erase": "Dữ liệu của một công dân",
    "voicemails:transcript": "Văn bản lời nhắn", "calls:caller": "Số gọi trong nhật ký cuộc gọi",
    "tickets:content": "Nội dung phiếu",
}
RESOURCE_PREFIX_VI = {"ticket:": "Phiếu", "caller:": "Số gọi", "PJSIP/": "Máy"}
#: The words of a row's details.
DETAIL_VI = {
    "search": "tìm", "status": "trạng thái", "category": "lĩnh vực", "agency": "cơ quan", "channel": "kênh",
    "overdue": "quá hạn", "page": "trang", "live": "tự cập nhật", "count": "số dòng", "codes": "phiếu",
    "ticket": "phiếu", "tickets": "phiếu", "calls": "cuộc gọi", "number": "số gọi", "caller": "số gọi",
    "operator": "tổng đài viên", "desk": "đầu mối", "from_day": "từ ngày", "to_day": "đến ngày", "by": "theo",
    "format": "định dạng", "limit": "số dòng tối đa", "offset": "bỏ qua", "range": "đoạn", "phone": "máy giám sát",
    "voicemail": "lời nhắn", "to": "gửi đến", "link": "liên kết", "reason": "lý do", "files": "số tệp",
    "archive": "tệp nén", "open_tickets": "phiếu đang mở", "forced": "xoá cả khi phiếu đang mở",
    "retention_days": "thời hạn lưu (ngày)", "recorded_at": "ghi lúc", "kind": "loại", "ids": "mã",
    "user": "người dùng", "filter_action": "việc", "ref": "mã phiếu hoặc cuộc gọi",
}
VALUE_VI = {"by": {"day": "ngày", "week": "tuần", "month": "tháng"}, "kind": {"message": "lời nhắn thoại"}}
LIST_SHOWN = 20


def _day(value: str | None, tz: tzinfo) -> datetime | None:
    """The start of the day ``value`` names (checked already: hardening.CHECKS), None when absent."""
    return datetime.combine(datetime.fromisoformat(value[:10]).date(), time(), tz) if value else None


def query_from(args: Any) -> AccessQuery:
    tz = services().ctx.settings.tz
    last = _day(args.get("to"), tz)
    return AccessQuery(username=(args.get("user") or "").strip() or None, action=args.get("action") or None,
                       since=_day(args.get("from"), tz), before=last + timedelta(days=1) if last else None,
                       ref=(args.get("ref") or "").strip() or None)


def reader(username: str) -> str:
    """Who, as a person reads it: a user's name, the hotline itself, or an account on the server."""
    if username.startswith("cli:"):
        return f"{ACTOR['cli']}: {username[4:]}"
    return ACTOR.get(username, username)


def resource_vi(resource: str) -> str:
    for prefix, word in RESOURCE_PREFIX_VI.items():
        if resource.startswith(prefix):
            return f"{word} {resource[len(prefix):]}"
    return RESOURCE_VI.get(resource, resource)


def _value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "có" if value else "không"
    if isinstance(value, list):
        shown = ", ".join(str(v) for v in value[:LIST_SHOWN])
        return (shown + f" … ({len(value)})" if len(value) > LIST_SHOWN else shown) or "—"
    text = str(value)
    if key == "status":
        return label("ticket_status", text)
    if key == "channel":
        return label("channel", text)
    if key == "category":
        return category_name(text)
    if key == "agency":
        return agency_name(text)
    if key == "filter_action":
        return ACCESS_ACTION.get(text, text)
    if key == "format":
        return text.upper()
    return VALUE_VI.get(key, {}).get(text, text)


def detail_vi(detail: dict[str, Any]) -> str:
    """A row's details in Vietnamese: "tìm: đường; số dòng: 2"."""
    return "; ".join(f"{DETAIL_VI.get(k, k)}: {_value(k, v)}" for k, v in detail.items())


def shown(row: dict[str, Any]) -> dict[str, str]:
    """A row as the page and the CSV show it."""
    return {"at": row["at"].astimezone(services().ctx.settings.tz).strftime("%d/%m/%Y %H:%M:%S"),
            "who": reader(row["username"]), "action": ACCESS_ACTION.get(row["action"], row["action"]),
            "resource": resource_vi(row["resource"]), "call_id": row["call_id"] or "—",
            "address": row["remote_addr"] or "—", "detail": detail_vi(row["detail"])}


@bp.route("/")
@requires("access_log.view")
def page() -> Any:
    svc = services()
    size = int(request.args.get("limit") or svc.ctx.settings.console.page_size)
    number = int(request.args.get("page") or 1)
    rows = svc.access_log.search(query_from(request.args), limit=size + 1, offset=(number - 1) * size)
    return render_template("access_log.html", rows=[shown(r) for r in rows[:size]], more=len(rows) > size,
                           page=number, args=request.args, actions=ACCESS_ACTION, columns=COLUMNS)


@bp.route("/export.csv")
@requires("access_log.view")
def export_csv() -> Response:
    """Every row the filters find (the newest EXPORT_MOST), as the page shows them; the download logged."""
    q = query_from(request.args)
    rows = services().access_log.search(q, limit=EXPORT_MOST)
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(COLUMNS)
    for row in rows:
        w.writerow(safe_row(shown(row).values()))
    log_read(AccessAction.LOG_EXPORT, "access_log", count=len(rows), user=q.username, filter_action=q.action,
             from_day=request.args.get("from"), to_day=request.args.get("to"), ref=q.ref)
    day = services().ctx.clock.now().astimezone(services().ctx.settings.tz).date()
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename=nhat-ky-truy-cap-{day}.csv"})
