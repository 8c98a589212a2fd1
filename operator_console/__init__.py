"""The browser console of the 1022 hotline (Flask): operators, supervisors, admins, agencies.

``create_app()`` is the application factory; each area is a blueprint: ``auth`` (sign-in, server-side
sessions), ``account`` (a user's own password), ``home``, ``phone`` (the softphone page and what it calls),
``tickets`` (inbox, ticket page), ``knowledge``, ``recordings`` (search, replay with HTTP ranges, the
AccessLog), ``reports``, ``wallboard`` (supervisors, live, with the alerts' banner), ``api`` (JSON under
/api/, token-authenticated), ``health`` (``/healthz``, open to anyone, no personal data) and ``access_log``
(admins: who read which personal data; every such read is logged through ``services.log_read``) and
``publishing`` (supervisors: the answers approved for the public figures page). Every
route declares the permission it needs (``operator_console.permissions``); a route without one is
refused. The views share one ``ConsoleServices`` (``operator_console.services``), built here and kept in
``app.extensions["hotline"]``; none builds a service or runs SQL itself.
"""
from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from hotline.context import Context, load_context
from hotline.domain.vocabulary import SIGNIN_KEY_PREFIX

csrf = CSRFProtect()


def create_app(ctx: Context | None = None, *, testing: bool = False, config: dict[str, Any] | None = None) -> Flask:
    """The console for ``ctx`` (default: the settings of this machine, as every process loads them)."""
    from . import (
        access_log,
        account,
        api,
        auth,
        filters,
        hardening,
        health,
        home,
        knowledge,
        phone,
        privacy,
        publishing,
        recordings,
        reports,
        signin,
        tickets,
        wallboard,
    )
    from .services import ConsoleServices

    ctx = ctx or load_context()
    ctx = dataclasses.replace(ctx, secrets=ctx.secrets.for_ami("console"))   # the console's own AMI account
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
    hardening.init_app(app, sip_websocket_url=hardening.sip_websocket_url(ctx.settings), proxy_hops=s.proxy_hops)
    auth.init_app(app)
    filters.init_app(app)
    for module in (auth, account, home, phone, tickets, knowledge, recordings, reports, wallboard, api, health,
                   privacy, access_log, publishing):
        app.register_blueprint(module.bp)
    csrf.exempt(api.bp)                  # token-authenticated, never by cookie
    wallboard.init_app(app, total=s.max_streams, per_user=s.streams_per_user)
    signin.init_app(app, redis_url=ctx.redis_url, failures=s.signin_failures,
                    per_address=s.signin_per_address, minutes=s.signin_lock_minutes, slots=s.hashing_slots,
                    key_prefix=app.config.get("SIGNIN_KEY_PREFIX", SIGNIN_KEY_PREFIX))
    return app
