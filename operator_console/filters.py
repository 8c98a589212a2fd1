"""Jinja filters and error pages: province time, agency names, the Vietnamese label of every code."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from hotline.domain.labels import LABELS, label

from .services import services

ERRORS_VI = {400: "Yêu cầu không hợp lệ", 401: "Cần đăng nhập", 403: "Không có quyền truy cập",
             404: "Không tìm thấy", 410: "Không còn nữa", 413: "Dữ liệu quá lớn", 500: "Lỗi hệ thống"}
#: What a form or a page's request without its CSRF token (or with an old one) gets.
CSRF_VI = "Biểu mẫu đã hết hạn hoặc thiếu mã bảo vệ (CSRF). Hãy tải lại trang rồi làm lại."


def init_app(app: Flask) -> None:
    app.add_template_filter(localtime)
    app.add_template_filter(agency_name)
    app.add_template_filter(vi)
    app.add_template_filter(figure)
    app.add_template_filter(category_name)
    app.jinja_env.globals["labels"] = LABELS
    app.add_template_filter(lambda args: {k: v for k, v in args.items() if k != "page"}, "reject_page")
    app.register_error_handler(HTTPException, _error)
    app.register_error_handler(CSRFError, _csrf_refused)


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


def vi(code: str | None, kind: str) -> str:
    """``{{ call.disposition | vi('disposition') }}``: the code's label in hotline/domain/labels.py."""
    return label(kind, code)


def _error(exc: HTTPException) -> Any:
    code = exc.code or 500
    title = ERRORS_VI.get(code, exc.name)
    message = exc.description if code not in (403, 404) or "Trang" in (exc.description or "") else {
        403: "Vai trò của bạn không được mở trang này.", 404: "Trang hoặc phiếu này không có."}[code]
    if request.path.startswith("/api/"):
        return jsonify(error=exc.name.lower().replace(" ", "_"), message=message), code
    return render_template("error.html", code=code, title=title, message=message), code


def _csrf_refused(exc: CSRFError) -> Any:
    """400 that says it is the CSRF token (in Vietnamese; Flask-WTF's English reason goes to the log)."""
    current_app.logger.info("CSRF refused %s %s: %s", request.method, request.path, exc.description)
    if request.is_json or request.accept_mimetypes.best == "application/json":
        return jsonify(error="csrf", message=CSRF_VI), 400
    return render_template("error.html", code=400, title=ERRORS_VI[400], message=CSRF_VI), 400
