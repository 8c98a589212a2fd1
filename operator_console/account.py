"""A signed-in user's own account: changing their password (``/account/password``).

The current password is asked first; a wrong one counts toward the sign-in lockout of the account and the
address (``operator_console.signin``) and is logged like a wrong sign-in. A change revokes the user's API
token and ends every other console session of theirs; the one that made the change is ended too and the user
goes on in a new one (a new session id: a copy of the old cookie signs nobody in).
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user

from hotline.adapters.db.console_models import EndReason
from hotline.services.users import MIN_PASSWORD

from . import signin
from .auth import SignedIn, requires
from .services import services

bp = Blueprint("account", __name__, url_prefix="/account")
PAGE = "account_password.html"
MISSING_VI = "Hãy nhập mật khẩu hiện tại và mật khẩu mới hai lần."
MISMATCH_VI = "Hai lần nhập mật khẩu mới không khớp nhau."
SHORT_VI = f"Mật khẩu mới cần ít nhất {MIN_PASSWORD} ký tự."
SAME_VI = "Mật khẩu mới phải khác mật khẩu hiện tại."
WRONG_VI = "Mật khẩu hiện tại không đúng."
DONE_VI = ("Đã đổi mật khẩu. Các phiên đăng nhập khác của bạn đã kết thúc ({ended}); mã truy cập API cũ (nếu có) "
           "không còn dùng được.")


@bp.route("/password", methods=["GET", "POST"])
@requires("console.open")
def password() -> Any:
    if request.method == "GET":
        return render_template(PAGE)
    current, new, again = (request.form.get(k, "") for k in ("current", "new", "again"))
    problem = (MISSING_VI if not (current and new and again) else MISMATCH_VI if new != again
               else SHORT_VI if len(new) < MIN_PASSWORD else SAME_VI if new == current else None)
    if problem:
        flash(problem, "error")
        return render_template(PAGE), 400
    svc = services()
    try:
        with signin.hash_slots().take():
            right = svc.users.check_password(current_user.user.id, current)
            ended = svc.users.set_password(current_user.name, new, keep_session=current_user.digest) if right else 0
    except signin.Busy:
        return signin.busy_page(PAGE)
    if not right:
        signin.log_failure(current_user.name, svc.ctx.clock.now(), "password change")
        flash(WRONG_VI, "error")
        return render_template(PAGE), 401          # 401: counted as a wrong sign-in (signin.failed)
    _new_session(svc)
    flash(DONE_VI.format(ended=ended), "info")
    return redirect(url_for("account.password"))


def _new_session(svc: Any) -> None:
    """End the session that changed the password and sign the user in again under a new session id."""
    user = current_user.user
    if current_user.session_id:
        svc.console_sessions.end(current_user.session_id, EndReason.PASSWORD)
    login_user(SignedIn(user, svc.console_sessions.start(user.id, signin.client_address())))
