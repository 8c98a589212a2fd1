"""The browser console of the 1022 hotline (Flask): operators, supervisors, admins, agencies.

``create_app()`` is the application factory; each area is a blueprint: ``auth`` (sign-in),
``home``, ``phone`` (the softphone page and what it calls), ``tickets`` (inbox, ticket page),
``knowledge``, ``recordings`` (search, replay with HTTP ranges, the AccessLog), ``reports``,
``wallboard`` (supervisors, live) and ``api`` (JSON under /api/, token-authenticated). Every route declares the
permission it needs (``operator_console.permissions``); a route without one is refused. The views
share one ``ConsoleServices`` (``operator_console.services``), built here and kept in
``app.extensions["hotline"]``; none builds a service or runs SQL itself.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from hotline.context import Context, load_context

csrf = CSRFProtect()


def create_app(ctx: Context | None = None, *, testing: bool = False, config: dict[str, Any] | None = None) -> Flask:
    """The console for ``ctx`` (default: the settings of this machine, as every process loads them)."""
    from . import api, auth, filters, home, knowledge, phone, recordings, reports, tickets, wallboard
    from .services import ConsoleServices

    ctx = ctx or load_context()
    app = Flask(__name__)
    s = ctx.settings.console
    app.config.update(
        SECRET_KEY=ctx.secrets.console_secret_key,
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=s.secure_cookies,
        REMEMBER_COOKIE_SECURE=s.secure_cookies, PERMANENT_SESSION_LIFETIME=timedelta(hours=s.session_hours),
        WTF_CSRF_TIME_LIMIT=None,          # the token lives as long as the session
        MAX_CONTENT_LENGTH=2 * 1024 * 1024, TESTING=testing, JSON_AS_ASCII=False)
    app.json.ensure_ascii = False    # type: ignore[attr-defined]
    app.config.update(config or {})
    app.extensions["hotline"] = ConsoleServices.build(ctx)
    csrf.init_app(app)
    auth.init_app(app)
    filters.init_app(app)
    for module in (auth, home, phone, tickets, knowledge, recordings, reports, wallboard, api):
        app.register_blueprint(module.bp)
    csrf.exempt(api.bp)                  # token-authenticated, never by cookie
    return app
