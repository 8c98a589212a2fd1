"""Sign-in (Flask-Login sessions, CSRF by Flask-WTF), API tokens, and the permission gate.

``@requires(permission)`` declares what a view needs. A ``before_request`` hook refuses every
request whose view declares nothing, so a new route is closed until someone says who may use it.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from werkzeug.wrappers import Response

from hotline.services.users import ConsoleUser, first_admin_command

from . import signin
from .permissions import PUBLIC as PUBLIC_ROUTES
from .permissions import allowed, mask_number
from .services import services

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Vui lòng đăng nhập để tiếp tục."
F = TypeVar("F", bound=Callable[..., Any])
PUBLIC = "public"                   # the sign-in page and the static files


class SignedIn(UserMixin):
    def __init__(self, user: ConsoleUser) -> None:
        self.user = user
        self.id = str(user.id)

    @property
    def role(self) -> str:
        return self.user.role

    @property
    def name(self) -> str:
        return self.user.username


def requires(permission: str) -> Callable[[F], F]:
    """Declare the permission a view needs (checked by the gate before the view runs)."""
    def mark(view: F) -> F:
        view.permission = permission     # type: ignore[attr-defined]
        return view
    return mark


def public(view: F) -> F:
    view.permission = PUBLIC             # type: ignore[attr-defined]
    return view


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    app.before_request(_gate)
    app.jinja_env.globals.update(can=lambda p: current_user.is_authenticated and allowed(current_user.role, p),
                                 masked=lambda n: mask_number(n, getattr(current_user, "role", None)))


@login_manager.user_loader
def _load(user_id: str) -> SignedIn | None:
    if request.path.startswith("/api/"):
        return None          # the API takes a token only, never the session cookie: no CSRF to forge
    user = services().users.get(int(user_id)) if user_id.isdigit() else None
    return SignedIn(user) if user else None


@login_manager.request_loader
def _token(req: Any) -> SignedIn | None:
    if not req.path.startswith("/api/"):
        return None
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    user = services().users.by_token(header.removeprefix("Bearer ").strip())
    return SignedIn(user) if user else None


@login_manager.unauthorized_handler
def _unauthorized() -> Any:
    if request.path.startswith("/api/"):
        return jsonify(error="unauthorized", message="Thiếu hoặc sai mã truy cập (Authorization: Bearer …)."), 401
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def _gate() -> Any:
    """Refuse before the view runs: not signed in (401 / sign-in page) or not allowed (403)."""
    if request.endpoint is None:
        return None                                   # 404 follows
    if request.endpoint == "static":
        return None
    func = _view(request.endpoint)
    permission = getattr(func, "permission", None)
    if permission == PUBLIC and request.endpoint in PUBLIC_ROUTES:
        return None
    if permission is None or permission == PUBLIC:
        abort(403, "Trang này chưa được cấp quyền cho vai trò nào.")
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not allowed(current_user.role, permission):
        if request.path.startswith("/api/"):
            return jsonify(error="forbidden", message="Vai trò của bạn không có quyền này."), 403
        abort(403)
    return None


def _view(endpoint: str) -> Any:
    from flask import current_app
    return current_app.view_functions.get(endpoint)


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    if request.method == "POST":
        username = request.form.get("username", "")
        try:
            with signin.hash_slots().take():
                user = services().users.authenticate(username, request.form.get("password", ""))
        except signin.Busy:
            return signin.busy_page()
        if user is None:
            signin.log_failure(username, services().ctx.clock.now())
            flash("Tên đăng nhập hoặc mật khẩu không đúng.", "error")
            return _login_page(), 401
        login_user(SignedIn(user))
        target = request.args.get("next", "")
        if not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
            target = url_for("home.index")
        return redirect(target)
    return _login_page()


def _login_page() -> str:
    """The sign-in form; on an install without any account, also the command that makes the first admin."""
    first_run = services().users.count(active_only=False) == 0
    return render_template("login.html", first_admin=first_admin_command() if first_run else None)


@bp.route("/logout", methods=["POST"])
@requires("console.open")
def logout() -> Response:
    logout_user()
    flash("Bạn đã đăng xuất.", "info")
    return redirect(url_for("auth.login"))
