"""What every response and request of the console goes through: security headers, the proxy, query checks.

- **Headers**: a Content-Security-Policy (scripts only from the console itself or with the page's nonce,
  no plug-ins, ``frame-ancestors 'none'``: no other site can frame the console), ``X-Frame-Options: DENY``
  for older browsers, ``nosniff`` and a same-origin referrer. ``connect-src`` names the SIP WebSocket
  (``[console] sip_websocket_url``), which the softphone reaches on another origin.
- **Proxy**: behind ``[console] proxy_hops`` trusted reverse proxies (the documented nginx/Caddy: 1),
  ``ProxyFix`` takes the client's address from their ``X-Forwarded-For``, so the logs, the sign-in
  limits and the AccessLog see the citizen's operator, not the proxy. 0 (the default): the header is
  ignored, as anyone could send it.
- **Query parameters**: each one a view reads is checked before the view runs; a wrong one is a 400 with
  a Vietnamese message (never a 500, never every row).
"""
from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, abort, g, request
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from hotline.adapters.db.models import TicketStatus
from hotline.config.schema import Settings
from hotline.domain.vocabulary import AccessAction, Channel

MAX_TEXT = 200                      # the longest free-text query value (a search, a number, a code)
LONGER = {"next": 2000}             # the page to go back to after signing in is a whole path with its query
PERIODS = ("day", "week", "month")


def _whole(low: int, high: int) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        if not value.isdigit() or not low <= int(value) <= high:
            return f"phải là số nguyên từ {low} đến {high}"
        return None
    return check


def _iso_day(value: str) -> str | None:
    try:
        date.fromisoformat(value[:10])
    except ValueError:
        return "phải là một ngày dạng NNNN-TT-NN (ví dụ 2026-11-25)"
    return None


def _one_of(*allowed: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        return None if value in allowed else "phải là một trong: " + ", ".join(allowed)
    return check


#: name -> check (None when the value is right, otherwise what it must be). An empty value is as absent.
CHECKS: dict[str, Callable[[str], str | None]] = {
    "limit": _whole(1, 500),
    "page": _whole(1, 100_000),
    "offset": _whole(0, 10_000_000),
    "after": _whole(0, 2**62),
    "from": _iso_day,
    "to": _iso_day,
    "by": _one_of(*PERIODS),
    "status": _one_of(*TicketStatus.ALL),
    "channel": _one_of(*Channel.ALL),
    "overdue": _one_of("0", "1", "on", "true", "false"),
    "download": _one_of("0", "1"),
    "action": _one_of(*AccessAction.ALL),
}


#: Names no page reads that url_for(**request.args) would take as its own arguments (_method, _external,
#: _anchor, _scheme, endpoint): a 500 (BuildError, TypeError) otherwise.
RESERVED = ("endpoint",)


def query_problem(args: Any) -> str | None:
    """What is wrong with a request's query parameters (in Vietnamese), or None."""
    for name in args:
        if name.startswith("_") or name in RESERVED:
            return f"Tham số '{name}' không được dùng trong địa chỉ."
        for value in args.getlist(name):
            if len(value) > (most := LONGER.get(name, MAX_TEXT)):
                return f"Tham số '{name}' dài quá {most} ký tự."
            check = CHECKS.get(name)
            if value == "" or check is None:
                continue
            if (problem := check(value)) is not None:
                return f"Tham số '{name}' {problem}."
    return None


def sip_websocket_url(settings: Settings) -> str:
    """Where browsers reach Asterisk's SIP WebSocket (``[console] sip_websocket_url`` or Asterisk's own)."""
    a = settings.asterisk
    return settings.console.sip_websocket_url or f"ws://{a.http_bind}:{a.http_port}/ws"


def csp(sip_websocket_url: str, nonce: str) -> str:
    """The Content-Security-Policy of every page; ``nonce`` lets the page's own inline scripts run."""
    ws = urlsplit(sip_websocket_url)
    sip = f" {ws.scheme}://{ws.netloc}" if ws.scheme in ("ws", "wss") and ws.netloc else ""
    return ("default-src 'self'; "
            f"script-src 'self' 'nonce-{nonce}'; "
            "style-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
            f"connect-src 'self'{sip}; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def init_app(app: Flask, *, sip_websocket_url: str, proxy_hops: int) -> None:
    if proxy_hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxy_hops, x_proto=proxy_hops)   # type: ignore[method-assign]
    app.jinja_env.globals["csp_nonce"] = _nonce

    @app.before_request
    def _check_query() -> None:
        if (problem := query_problem(request.args)) is not None:
            abort(400, problem)

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = csp(sip_websocket_url, _nonce())
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        return response


def _nonce() -> str:
    """This response's CSP nonce (one per request)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return str(g.csp_nonce)
