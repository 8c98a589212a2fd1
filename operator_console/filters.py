"""Jinja filters and error pages: province time, agency names, Vietnamese words."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from .services import services

EVENTS_VI = {"created": "Tạo phiếu", "transcribed": "Chuyển lời nói thành chữ", "assigned": "Chuyển cơ quan",
             "in_progress": "Nhận xử lý", "answered": "Trả lời", "closed": "Đóng phiếu",
             "out_of_scope": "Ngoài phạm vi", "duplicate": "Trùng lặp", "deadline": "Đổi hạn",
             "category": "Đổi lĩnh vực", "notified": "Gửi thư cho cơ quan", "reminded_50": "Nhắc hạn 50 %",
             "reminded_80": "Nhắc hạn 80 %", "escalated": "Báo giám sát: quá hạn"}
DISPOSITIONS_VI = {"in_progress": "Đang gọi", "abandoned_ivr": "Bỏ máy ở lời chào", "to_queue": "Vào hàng đợi",
                   "transferred": "Đã chuyển đầu mối", "transfer_failed": "Chuyển không được",
                   "voicemail": "Để lại lời nhắn", "closed_hours": "Ngoài giờ", "app_fallback": "Ứng dụng tạm ngừng",
                   "answered": "Tổng đài viên đã trả lời", "abandoned_queue": "Bỏ máy khi chờ"}
ERRORS_VI = {400: "Yêu cầu không hợp lệ", 401: "Cần đăng nhập", 403: "Không có quyền truy cập",
             404: "Không tìm thấy", 410: "Không còn nữa", 413: "Dữ liệu quá lớn", 500: "Lỗi hệ thống"}


def init_app(app: Flask) -> None:
    app.add_template_filter(localtime)
    app.add_template_filter(agency_name)
    app.add_template_filter(event_vi)
    app.add_template_filter(figure)
    app.add_template_filter(category_name)
    app.add_template_filter(lambda d: DISPOSITIONS_VI.get(d, d), "disposition_vi")
    app.add_template_filter(lambda args: {k: v for k, v in args.items() if k != "page"}, "reject_page")
    app.register_error_handler(HTTPException, _error)


def localtime(value: str | datetime | None) -> str:
    if not value:
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(services().ctx.settings.tz).strftime("%d/%m/%Y %H:%M")


def agency_name(key: str | None) -> str:
    if not key:
        return "—"
    kind, _, code = key.partition(":")
    agency = services().ctx.directory.find(kind, code)
    return agency.name if agency else key


def figure(value: Any, key: str = "") -> str:
    """A report cell: shares as percentages, seconds rounded, nothing as a dash."""
    if value is None:
        return "—"
    if key.endswith("_share") or key.endswith("_rate") or key == "service_level":
        return f"{float(value) * 100:.1f} %".replace(".", ",")
    if isinstance(value, float):
        return f"{value:.1f}".replace(".", ",")
    return str(value)


def category_name(code: str | None) -> str:
    categories = services().ctx.categories
    return categories.get(code).name if code and code in categories else (code or "—")


def event_vi(action: str) -> str:
    return EVENTS_VI.get(action, action)


def _error(exc: HTTPException) -> Any:
    code = exc.code or 500
    title = ERRORS_VI.get(code, exc.name)
    message = exc.description if code not in (403, 404) or "Trang" in (exc.description or "") else {
        403: "Vai trò của bạn không được mở trang này.", 404: "Trang hoặc phiếu này không có."}[code]
    if request.path.startswith("/api/"):
        return jsonify(error=exc.name.lower().replace(" ", "_"), message=message), code
    return render_template("error.html", code=code, title=title, message=message), code
