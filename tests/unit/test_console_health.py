"""The console's /healthz (open to anyone, no personal data, 503 when a part is down, cached) and the
wallboard's banner of the supervisors' alerts (on the page and through its event stream)."""
from __future__ import annotations

import json
import time
from typing import Any

from flask import Flask

from hotline.services.alerts import AlertStore, alerts_dir
from operator_console.auth import public
from tests.unit.test_console import CALLER, ROLES, sign_in
from tests.unit.test_console import world as world  # noqa: F401  (the same fixture, re-used)


def test_healthz_is_open_says_which_parts_are_down_without_personal_data_and_is_cached(world: dict[str, Any]) -> None:
    app: Flask = world["app"]
    client = app.test_client()
    started = time.monotonic()
    got = client.get("/healthz")
    assert time.monotonic() - started < 5
    assert got.status_code == 503 and got.headers["Cache-Control"] == "no-store"      # no Asterisk, no Redis here
    body = got.get_json()
    parts = body["components"]
    assert body["ok"] is False and not parts["asterisk"]["ok"] and not parts["redis"]["ok"]
    assert parts["database"]["ok"] and parts["disk"]["ok"] and set(parts) >= {"ari_app", "agi", "monitor", "worker"}
    text = got.get_data(as_text=True)
    assert CALLER not in text and "problems" not in text and str(world["tmp"]) not in text
    assert not any(f"Người dùng {name}" in text or f"\"{name}\"" in text for name in ROLES)
    again = client.get("/healthz").get_json()
    assert again["checked_at"] == body["checked_at"]          # the cache answered: the checks ran once


def test_a_public_view_not_in_the_table_is_refused(world: dict[str, Any]) -> None:
    app: Flask = world["app"]

    @public
    def sneaky() -> str:
        return "open?"
    app.add_url_rule("/sneaky", "sneaky", sneaky)
    assert app.test_client().get("/sneaky").status_code == 403


def alerted(world: dict[str, Any]) -> None:
    """The state `hotline watch` leaves once it has e-mailed the supervisors that the AGI server is down."""
    since = time.time() - 120
    with AlertStore(alerts_dir(world["ctx"].settings.paths.state_dir)).locked() as state:
        state["open"] = {"agi": {"key": "agi", "since": since, "problem": "refused", "alerted_at": since + 60}}


def test_the_wallboard_shows_the_alerts_banner_in_vietnamese(world: dict[str, Any]) -> None:
    app: Flask = world["app"]
    sup = sign_in(app, "binh")
    assert 'id="w-alerts"' in (page := sup.get("/wallboard/").get_data(as_text=True)) and 'class="alert"' not in page
    alerted(world)
    page = sup.get("/wallboard/").get_data(as_text=True)
    assert "Cảnh báo: Máy chủ AGI (tra cứu phản ánh qua điện thoại) không hoạt động từ" in page

    from operator_console.wallboard import stream_events
    svc = world["svc"]
    with app.test_request_context():
        events = stream_events(svc.live, "test:none", max_seconds=3, alerts=svc.alerts_banner)
        for chunk in events:
            if chunk.startswith("event: alerts"):
                data = json.loads(chunk.split("\n")[1][6:])
                break
        events.close()
    assert [a["key"] for a in data["alerts"]] == ["agi"] and data["alerts"][0]["text"].startswith("Máy chủ AGI")
