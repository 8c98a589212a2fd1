"""No page or export of the console shows a code ("to_queue"): every code the hotline writes has its
Vietnamese label in one table (hotline/domain/labels.py), and every page, for every role, is read as a
person reads it (the text, without tags and scripts) with data holding every code.
"""
from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from ari_app.audio import audio_facts
from hotline.adapters.db.models import Role, TicketStatus, VoicemailStatus
from hotline.adapters.db.repository import CallRepository
from hotline.domain.labels import ACTOR, CHANNEL, LABELS, TICKET_EVENT, label
from hotline.domain.vocabulary import Disposition
from operator_console.permissions import PERMISSIONS
from tests.support.audio import write_wav
from tests.unit.test_console import CALLER, ROLES, sign_in, urls
from tests.unit.test_console import world as world  # noqa: F401  (the same fixture, re-used)

ROOT = Path(__file__).resolve().parents[2]
#: Not pages: audio, pictures, the event stream and the live picture's JSON, the JSON API (codes are its
#: vocabulary: openapi.yaml) and the monitoring systems' /healthz.
NOT_READ = ("recordings.file", "recordings.waveform", "tickets.audio", "tickets.waveform", "tickets.file",
            "wallboard.stream", "wallboard.live", "api.", "health.")
CODES = sorted({code for table in LABELS.values() for code in table}, key=len, reverse=True)
RAW = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, CODES)) + r")(?![\w-])")


def _constants(cls: type) -> set[str]:
    return {v for k, v in vars(cls).items() if k.isupper() and isinstance(v, str)}


def test_every_code_the_hotline_writes_has_a_vietnamese_label() -> None:
    from hotline.cli.tickets import create_command
    from hotline.domain.vocabulary import CallbackStatus, Channel, OperatorState
    from hotline.services.operators import PAUSE_REASONS
    from hotline.services.transfers import DIAL_OUTCOMES
    from hotline.worker.jobs import FLAGS
    cli_channels = next(p.type.choices for p in create_command.params if p.name == "channel")  # type: ignore[attr-defined]
    assert set(LABELS["disposition"]) == set(Disposition.ALL)
    assert set(LABELS["ticket_status"]) == set(TicketStatus.ALL)
    assert set(LABELS["role"]) == set(Role.ALL)
    assert set(LABELS["callback_status"]) == {*CallbackStatus.OPEN, *CallbackStatus.ENDED}
    assert set(LABELS["voicemail_status"]) == _constants(VoicemailStatus)
    assert set(LABELS["pause_reason"]) == set(PAUSE_REASONS)
    assert set(LABELS["operator_state"]) == set(OperatorState.ALL)
    assert set(CHANNEL) == {*cli_channels, "voicemail"} == set(Channel.ALL)
    # Transfer rows: Dial()'s outcomes (agi), a desk's hangup causes and a caller leaving (ari_app/call.py),
    # an operator back to the caller (console) or completing (models.Transfer.outcome).
    assert set(LABELS["transfer_outcome"]) == {*DIAL_OUTCOMES.values(), "failed", "rejected", "returned", "completed"}
    assert set(LABELS["transfer_kind"]) == {"ivr", "blind", "attended"}
    # Call.queue_outcome: the flow engine's (answered, timeout, empty, message) and the monitor's (abandoned).
    assert set(LABELS["queue_outcome"]) == {"answered", "abandoned", "timeout", "empty", "message", "full"}
    assert set(TICKET_EVENT) >= {*FLAGS, *(set(TicketStatus.ALL) - {TicketStatus.NEW}), "created", "transcribed",
                                 "no_speech", "transcribe_again", "transcription_failed", "deadline", "category",
                                 "notified", "message", "answer_sent", "code_sent"}
    for kind, table in LABELS.items():
        for code, text in table.items():
            assert text.strip() and text != code and not RAW.search(text), (kind, code, text)
    assert label("disposition", "to_queue") == "Vào hàng đợi" and label("disposition", None) == "—"


def _calls(world: dict[str, Any]) -> list[str]:
    """One recorded call of CALLER per disposition, with every transfer and queue outcome in the rows."""
    svc, tmp = world["svc"], world["tmp"]
    repo = CallRepository(svc.sessions)
    now = world["ctx"].clock.now()
    outcomes = list(LABELS["transfer_outcome"])
    queue = list(LABELS["queue_outcome"])
    ids = []
    for i, disposition in enumerate(Disposition.ALL):
        call_id, rel = f"hotline1-{100 + i}", f"2026/11/25/hotline1-{100 + i}.wav"
        started = now - timedelta(minutes=i + 1)
        repo.start_call(call_id, channel_id=call_id, caller=CALLER, dialled="1022", started_at=started,
                        answered_at=started, disposition=disposition)
        write_wav(tmp / "rec" / rel, 0.2)
        repo.add_recording(call_id, audio_facts(tmp / "rec" / rel, tmp / "rec"), now)
        kind = list(LABELS["transfer_kind"])[i % 3]
        attempt = repo.start_transfer(call_id, kind=kind, target="department:02", started_at=started)
        repo.finish_transfer(attempt, outcome=outcomes[i % len(outcomes)], ended_at=now)
        repo.update(call_id, queue_outcome=queue[i % len(queue)], operator="op-lan")
        ids.append(call_id)
    return ids


def _tickets(world: dict[str, Any]) -> list[str]:
    """A ticket in every status and from every channel, made by every non-person actor, and one ticket
    whose timeline holds every event."""
    t = world["svc"].tickets
    actors = list(ACTOR)
    made = [t.create(channel=ch, caller=CALLER, content=f"Phản ánh số {i + 1}", category="procedures",
                     actor=actors[i % len(actors)])["code"] for i, ch in enumerate(CHANNEL)]
    new, assigned, started, answered, closed, out, dup = [t.create(
        channel="phone", caller=CALLER, content="Hỏi lịch tiếp công dân", actor="lan")["code"] for _ in range(7)]
    for code in (assigned, started, answered, closed):
        t.assign(code, "department:03", actor="lan", note="Chuyển Sở Xây dựng")
    t.start(started, actor="xd")
    for code in (answered, closed):
        t.answer(code, "Đã trả lời công dân", actor="xd")
    t.close(closed, actor="binh", status=TicketStatus.CLOSED, note="")
    t.close(out, actor="binh", status=TicketStatus.OUT_OF_SCOPE, note="")
    t.close(dup, actor="binh", status=TicketStatus.DUPLICATE, note="")
    everything = t.get(new)["id"]
    for i, action in enumerate(TICKET_EVENT):
        t.record(everything, actors[i % len(actors)], action, {})
    assert {t.get(c)["status"] for c in (new, assigned, started, answered, closed, out, dup)} == set(TicketStatus.ALL)
    return [*made, new, assigned, started, answered, closed, out, dup]


def visible(markup: str) -> str:
    """What a person reads of a page: no scripts, styles or tags; entities decoded."""
    markup = re.sub(r"<(script|style)\b.*?</\1>", " ", markup, flags=re.S | re.I)
    return html.unescape(re.sub(r"<[^>]+>", " ", markup))


def _raw_codes(text: str) -> list[str]:
    text = " ".join(text.split())
    return [f"{m.group(1)!r} in «…{text[max(m.start() - 40, 0):m.end() + 40]}…»" for m in RAW.finditer(text)]


def _read(app: Flask, client: Any, url: str) -> str:
    got = client.get(url)
    assert 200 <= got.status_code < 400, (url, got.status_code)
    kind = got.headers.get("Content-Type", "")
    if "spreadsheetml" in kind:
        from openpyxl import load_workbook
        book = load_workbook(io.BytesIO(got.data))
        return "\n".join(" ".join(str(v) for v in row if v is not None) for s in book for row in s.values)
    if "text/csv" in kind:
        return "\n".join(" ".join(row) for row in csv.reader(io.StringIO(got.get_data(as_text=True))))
    if "json" in kind:
        data = got.get_json()
        return visible(data.get("html", "")) if isinstance(data, dict) else ""
    return visible(got.get_data(as_text=True))


def test_no_page_or_export_shows_a_code_for_any_role(world: dict[str, Any]) -> None:
    app: Flask = world["app"]
    app.config["WTF_CSRF_ENABLED"] = False
    calls, tickets = _calls(world), _tickets(world)
    pages = [(url, endpoint) for method, url, endpoint in urls(app, world)
             if method == "GET" and not endpoint.startswith(NOT_READ)]
    pages += [(f"/tickets/{code}", "tickets.show") for code in tickets]
    pages += [(f"/phone/history?number={CALLER}", "phone.history"), ("/tickets/latest?after=0", "tickets.latest"),
              ("/reports/export.csv?from=2026-11-01&to=2026-11-30&by=week", "reports.export_csv"),
              ("/reports/export.xlsx?from=2026-11-01&to=2026-11-30", "reports.export_xlsx")]
    found: list[str] = []
    for name, role in ROLES.items():
        client = sign_in(app, name)
        for url, endpoint in pages:
            permission = app.view_functions[endpoint].permission
            if permission != "public" and role not in PERMISSIONS[permission]:
                continue
            if endpoint == "tickets.show" and role == Role.AGENCY and world["svc"].tickets.get(
                    url.rsplit("/", 1)[1])["agency"] != "department:03":
                continue                                        # another agency's ticket: 404 for them
            found += [f"{name} {url}: {hit}" for hit in _raw_codes(_read(app, client, url))]
    found += [f"visitor /login: {hit}" for hit in _raw_codes(_read(app, app.test_client(), "/login"))]
    assert not found, "codes shown instead of their Vietnamese label:\n" + "\n".join(found)
    history = sign_in(app, "lan").get(f"/phone/history?number={CALLER}").get_json()["calls"]
    assert {c["call_id"] for c in history} >= set(calls[:9])
    assert all(c["disposition_vi"] == LABELS["disposition"][c["disposition"]] for c in history)


def test_the_softphone_and_the_wallboard_take_their_words_from_the_table(world: dict[str, Any]) -> None:
    """Their scripts show operator states, pause reasons and dispositions through the page's table only."""
    sup = sign_in(world["app"], "binh")
    for url in ("/phone/", "/wallboard/"):
        page = sup.get(url).get_data(as_text=True)
        embedded = re.search(r'<script type="application/json" id="labels">(.*?)</script>', page, re.S)
        assert embedded and json.loads(embedded.group(1)) == LABELS, url
    scripts = [(ROOT / "operator_console/static/phone.js").read_text(encoding="utf-8"),
               (ROOT / "operator_console/static/history.js").read_text(encoding="utf-8"),
               (ROOT / "operator_console/templates/wallboard.html").read_text(encoding="utf-8")]
    own_table = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, CODES)) + r")\s*:\s*[\"']")
    assert not [m.group(0) for text in scripts for m in own_table.finditer(text)]


@pytest.mark.parametrize("role", sorted(Role.ALL))
def test_each_role_is_named_in_vietnamese(world: dict[str, Any], role: str) -> None:
    name = next(n for n, r in ROLES.items() if r == role)
    page = visible(sign_in(world["app"], name).get("/kb/").get_data(as_text=True))
    assert LABELS["role"][role] in page and not _raw_codes(page)
