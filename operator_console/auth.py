"""Sign-in (Flask-Login over server-side sessions, CSRF by Flask-WTF), API tokens, and the permission gate.

Signing in starts a row of ``console_sessions`` (hotline.services.console_sessions); the cookie carries
only that session's random id, and every request loads the user through the live row, so logout, a
password change, disabling the account or a new role end a copied cookie too. The API takes a bearer
token only, checked for its expiry; a refused one gets 401 with a Vietnamese message saying why.

``@requires(permission)`` declares what a view needs. A ``before_request`` hook refuses every
request whose view declares nothing, so a new route is closed until someone says who may use it.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from werkzeug.wrappers import Response

from hotline.services.users import ConsoleUser, TokenUse, first_admin_command

from . import signin
from .filters import localtime
from .permissions import PUBLIC as PUBLIC_ROUTES
from .permissions import allowed, mask_number
from .services import services

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Vui lòng đăng nhập để tiếp tục."
F = TypeVar("F", bound=Callable[..., Any])
PUBLIC = "public"                   # the sign-in page and the static files
TOKEN_VI = {
    "missing": "Thiếu mã truy cập (Authorization: Bearer …).",
    "unknown": "Mã truy cập không đúng hoặc đã bị thu hồi (mật khẩu đã đổi, tài khoản bị khoá). "
               "Hãy xin mã mới: hotline users token TÊN.",
    "expired": "Mã truy cập đã hết hạn{at}. Hãy xin mã mới: hotline users token TÊN.",
}


class SignedIn(UserMixin):
    """The user of a request: through a console session (``session_id``, ``digest``) or an API token."""

    def __init__(self, user: ConsoleUser, session_id: str | None = None, digest: str | None = None) -> None:
        self.user = user
        self.id = session_id or ""           # what Flask-Login keeps in the cookie: the session's id only
        self.session_id, self.digest = session_id, digest

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
def _load(session_id: str) -> SignedIn | None:
    if request.path.startswith("/api/"):
        return None          # the API takes a token only, never the session cookie: no CSRF to forge
    live = services().console_sessions.live(session_id)
    return SignedIn(live.user, session_id, live.digest) if live else None


@login_manager.request_loader
def _token(req: Any) -> SignedIn | None:
    if not req.path.startswith("/api/"):
        return None
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    use = services().users.use_token(header.removeprefix("Bearer ").strip())
    g.token_use = use
    return SignedIn(use.user) if use.user else None


@login_manager.unauthorized_handler
def _unauthorized() -> Any:
    if request.path.startswith("/api/"):
        use: TokenUse = g.get("token_use") or TokenUse(None, "missing")
        refused = use.refused or "missing"
        at = f" lúc {localtime(use.expired_at)}" if use.expired_at else ""
        return jsonify(error="unauthorized", reason=refused, message=TOKEN_VI[refused].format(at=at)), 401
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
        session_id = services().console_sessions.start(user.id, signin.client_address())
        login_user(SignedIn(user, session_id))
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
    if current_user.session_id:
        services().console_sessions.end(current_user.session_id)
    logout_user()
    flash("Bạn đã đăng xuất.", "info")
    return redirect(url_for("auth.login"))
