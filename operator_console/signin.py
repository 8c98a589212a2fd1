"""Sign-in's guard: limits per account and per address, the failures' log, and argon2's memory kept bounded.

- **Lockout** (Flask-Limiter, counted in Redis so every console process shares it): after
  ``[console] signin_failures`` wrong passwords for one account within ``signin_lock_minutes``, the account
  is refused until that window has passed, even with the right password; one address gets
  ``signin_per_address`` wrong passwords in the same window, whichever accounts it tries. Only failures
  count: a user who signs in right is never slowed. While Redis is away the counts are kept in this
  process's memory (sign-in still works, still limited). A wrong current password on the page where a
  signed-in user changes theirs (``account.password``) counts as a wrong sign-in of that account and address.
- **Log**: every failure and every refusal is one line of ``hotline.console.signin`` with the user name
  tried, the client's address (``ProxyFix`` behind the proxy) and the time; never the password.
- **Memory**: each argon2 check takes 64 MiB for its ~0.1 s. At most ``[console] hashing_slots`` run at
  once; a sign-in that finds every slot taken waits ``HASH_WAIT`` seconds at most, then gets a 503 in
  Vietnamese, before any hashing. A burst of sign-ins therefore costs at most slots x 64 MiB, however
  many threads the server has (measured in tests/integration/test_console_hardening.py).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, Response, flash, render_template, request
from flask_limiter import Limiter, RequestLimit
from flask_login import current_user

from hotline.config.redis_url import limits_storage
from hotline.domain.vocabulary import SIGNIN_KEY_PREFIX

log = logging.getLogger("hotline.console.signin")
HASH_WAIT = 2.0            # seconds a sign-in waits for an argon2 slot before it is turned away
LOCKED_VI = "Đăng nhập sai quá nhiều lần. Tài khoản hoặc địa chỉ này tạm bị khoá {minutes} phút; hãy thử lại sau."
BUSY_VI = "Máy chủ đang bận kiểm tra các lần đăng nhập khác. Hãy thử lại sau ít giây."


class Busy(Exception):
    """Every argon2 slot is taken."""


class HashSlots:
    """At most ``slots`` password checks at once; ``take()`` raises Busy after ``wait`` seconds."""

    def __init__(self, slots: int, wait: float = HASH_WAIT) -> None:
        self._slots, self.wait = threading.BoundedSemaphore(slots), wait

    @contextmanager
    def take(self) -> Iterator[None]:
        if not self._slots.acquire(timeout=self.wait):
            raise Busy()
        try:
            yield
        finally:
            self._slots.release()


def account_tried() -> str:
    return request.form.get("username", "").strip().lower()[:64] or "-"


def account_signed_in() -> str:
    return str(getattr(current_user, "name", "") or "-")


def client_address() -> str:
    return request.remote_addr or "-"


def failed(response: Response) -> bool:
    return response.status_code == 401


#: The views where a wrong password counts toward the lockout: endpoint -> (the account tried, the page shown
#: when it is locked).
GUARDED: dict[str, tuple[Any, str]] = {"auth.login": (account_tried, "login.html"),
                                       "account.password": (account_signed_in, "account_password.html")}


def init_app(app: Flask, *, redis_url: str, failures: int, per_address: int, minutes: float, slots: int,
             key_prefix: str = SIGNIN_KEY_PREFIX) -> Limiter:
    """Guard the views of ``GUARDED`` (already registered) of ``app``; the Limiter is the app's own."""
    limiter = Limiter(client_address, app=app, storage_uri=limits_storage(redis_url), key_prefix=key_prefix,
                      strategy="fixed-window", in_memory_fallback_enabled=True, swallow_errors=True,
                      headers_enabled=False, storage_options={"socket_connect_timeout": 1, "socket_timeout": 2})
    window = f"{minutes:g} minutes" if minutes != 1 else "1 minute"

    def refused(limit: RequestLimit) -> Response:
        account, page = GUARDED[request.endpoint or "auth.login"]
        log.warning("console sign-in refused (locked): user=%r address=%s limit=%s", account(),
                    client_address(), limit.limit)
        flash(LOCKED_VI.format(minutes=f"{minutes:g}"), "error")
        return Response(render_template(page, first_admin=None), 429)
    for endpoint, (account, _page) in GUARDED.items():
        view: Any = app.view_functions[endpoint]
        # Shared: one count per account and one per address, whichever of the views the wrong password came to.
        guarded: Any = limiter.shared_limit(f"{failures} per {window}", "signin-account", key_func=account,
                                            methods=["POST"], deduct_when=failed, on_breach=refused)(view)
        guarded = limiter.shared_limit(f"{per_address} per {window}", "signin-address", key_func=client_address,
                                       methods=["POST"], deduct_when=failed, on_breach=refused)(guarded)
        app.view_functions[endpoint] = guarded
    app.extensions["hotline.hash_slots"] = HashSlots(slots)
    return limiter


def log_failure(username: str, at: Any, what: str = "sign-in") -> None:
    log.warning("console %s failed: user=%r address=%s at=%s", what, username.strip().lower()[:64],
                client_address(), at.isoformat())


def hash_slots() -> HashSlots:
    from flask import current_app
    found: HashSlots = current_app.extensions["hotline.hash_slots"]
    return found


def busy_page(page: str = "login.html") -> tuple[str, int]:
    flash(BUSY_VI, "error")
    return render_template(page, first_admin=None), 503

