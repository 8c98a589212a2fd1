"""The hotline's public site (Flask): the doors citizens and other systems use without signing in.

``create_app()`` is its factory; each door is a blueprint: ``form`` (the citizens' web form and the status page
of a ticket, in Vietnamese, for a phone's browser), ``open311`` (GeoReport v2 under /open311/v2/, an API key for
POST), ``webhooks`` (the SMS gateway, Zalo OA and Facebook Page call these, each signed) and ``figures`` (the
public transparency page: a month's figures, its open data and the answers supervisors approved). Every request
goes through ``hotline.intake``. It runs apart from the operators' console (its own process, port and secret key) and
shares nothing with it but the database: a flaw here reaches no operator's session, no recording.
"""
from __future__ import annotations

import ipaddress
import logging
from datetime import datetime
from typing import Any

from flask import Flask, Response, render_template, request
from flask_limiter import Limiter
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from hotline.config.redis_url import limits_storage
from hotline.context import Context, load_context
from hotline.domain.vocabulary import PUBLIC_REFUSALS_KEY
from hotline.intake import Intake
from hotline.services.public_figures import PublicFigures
from hotline.services.publishing import Publishing

log = logging.getLogger("hotline.public")
csrf = CSRFProtect()
#: The site's rate limits, counted in the hotline's Redis (every process of the site shares them; while Redis is
#: away, in this process's memory): each door's views say their own.
def client_key() -> str:
    """Whom a rate limit counts: the client's address, an IPv6 one by its /64 (one subscriber's network, which
    may hand out any number of addresses)."""
    address = request.remote_addr or "-"
    if ":" in address:
        try:
            return str(ipaddress.ip_network(f"{address}/64", strict=False))
        except ValueError:
            return address
    return address


limiter = Limiter(client_key, key_prefix="hotline:public:limits",
                  in_memory_fallback_enabled=True, headers_enabled=True,
                  on_breach=lambda _limit: services().refused("rate"))
REFUSALS_KEY = PUBLIC_REFUSALS_KEY     # a Redis hash: why -> how many requests were refused (hotline status)
FIGURES_TTL = 300.0                   # seconds this process keeps a month's figures (public_site/figures.py)
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class PublicServices:
    """What the views share, built once: the intake door, the settings, the month's figures (kept a few minutes),
    the published answers and the Redis of the counters."""

    def __init__(self, ctx: Context, intake: Intake) -> None:
        self.ctx = ctx
        self.intake = intake
        tickets = intake.tickets
        self.figures = PublicFigures(tickets.sessions, tickets.deadlines, ctx.settings.tz, ctx.clock.now,
                                     ttl=FIGURES_TTL)
        self.publishing = Publishing(tickets.sessions, ctx.clock.now)
        self._redis: Any = None

    def agency_name(self, key: str | None) -> str | None:
        """The name of a ticket's agency: None before it has one, or when the transfer directory no longer does."""
        if not key:
            return None
        try:
            return str(self.intake.tickets.agency(key).name)
        except LookupError:
            return None

    def refused(self, why: str) -> None:
        """Count a refused request (`hotline status` and /healthz show the counts); never fails."""
        log.info("refused (%s) from %s %s", why, request.remote_addr, request.path)
        try:
            if self._redis is None:
                import redis
                self._redis = redis.Redis.from_url(self.ctx.redis_url, socket_timeout=1, socket_connect_timeout=1)
            self._redis.hincrby(REFUSALS_KEY, why, 1)
        except Exception:
            log.warning("refusal (%s) not counted: Redis not reached", why)


def services(app: Flask | None = None) -> PublicServices:
    from flask import current_app
    found: PublicServices = (app or current_app).extensions["hotline_public"]
    return found


def create_app(ctx: Context | None = None, *, intake: Intake | None = None, testing: bool = False,
               config: dict[str, Any] | None = None) -> Flask:
    """The public site for ``ctx`` (default: this machine's settings)."""
    from . import figures, form, open311, webhooks

    ctx = ctx or load_context()
    s, i = ctx.settings.public, ctx.settings.intake
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=ctx.secrets.public_secret_key, SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="hotline_public", WTF_CSRF_TIME_LIMIT=6 * 3600, TESTING=testing,
        # every photo at its largest and the text: a larger body is refused (413) before it is read
        MAX_CONTENT_LENGTH=int((i.max_files * i.max_file_mb + 1) * 1_000_000), JSON_AS_ASCII=False)
    app.json.ensure_ascii = False    # type: ignore[attr-defined]
    app.config.update(config or {})
    if s.proxy_hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=s.proxy_hops, x_proto=s.proxy_hops)   # type: ignore[method-assign]
    # started during a database outage it serves what needs no database and answers 503 to the rest (below)
    app.extensions["hotline_public"] = PublicServices(
        ctx, intake or ctx.intake(ctx.sessions(tolerate_outage=True), jobs=True))
    csrf.init_app(app)
    app.config.setdefault("RATELIMIT_STORAGE_URI", limits_storage(ctx.redis_url))
    limiter.init_app(app)
    for module in (form, open311, webhooks, figures):
        app.register_blueprint(module.bp)
    csrf.exempt(open311.bp)      # an API key, never a cookie
    csrf.exempt(webhooks.bp)     # each signed by its sender

    tz = ctx.settings.tz
    app.jinja_env.filters["local"] = lambda iso: (
        datetime.fromisoformat(iso).astimezone(tz).strftime("%H:%M ngày %d/%m/%Y") if iso else "—")

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    @app.errorhandler(CSRFError)
    def _csrf(_e: CSRFError) -> tuple[str, int]:
        services().refused("csrf")
        return render_template("error.html", message="Trang đã mở quá lâu hoặc không hợp lệ. Hãy tải lại trang và "
                                                     "gửi lại; nội dung bạn đã viết chưa được gửi."), 400

    @app.errorhandler(413)
    def _too_large(_e: HTTPException) -> tuple[str, int]:
        services().refused("too_large")
        return render_template("error.html", message=f"Tệp gửi kèm quá lớn: mỗi ảnh tối đa {i.max_file_mb:g} MB, "
                                                     f"tối đa {i.max_files} ảnh. Hãy chọn ảnh nhỏ hơn rồi gửi "
                                                     "lại."), 413

    @app.errorhandler(429)
    def _too_many(_e: HTTPException) -> tuple[str, int]:
        return render_template("error.html", message="Bạn đã gửi quá nhiều lần trong thời gian ngắn. Hãy thử lại "
                                                     "sau ít phút, hoặc gọi 1022."), 429

    @app.errorhandler(DBAPIError)
    @app.errorhandler(PoolTimeout)
    def _database_away(e: Exception) -> tuple[Any, int, dict[str, str]]:
        # The database is unreachable: nothing was saved. A webhook's or Open311 client's sender retries on a
        # 503 (the same message id later makes one ticket); a citizen is told to send again or call.
        log.warning("database unreachable, %s %s answered 503: %s", request.method, request.path,
                    getattr(e, "orig", None) or e)
        services().refused("database")
        retry = {"Retry-After": "60"}
        if request.blueprint in ("webhooks", "open311"):
            return {"error": "database_unavailable", "description": "Hệ thống tạm gián đoạn; hãy gửi lại sau."}, \
                503, retry
        return render_template("error.html", message="Hệ thống đang tạm gián đoạn, yêu cầu của bạn chưa được "
                                                     "ghi nhận. Hãy gửi lại sau ít phút, hoặc gọi 1022."), 503, retry

    @app.errorhandler(404)
    def _not_found(_e: HTTPException) -> tuple[str, int]:
        return render_template("error.html", message="Không có trang này."), 404

    return app
