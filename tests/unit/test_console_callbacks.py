"""Call-backs and calls out in the console: the wallboard counts the waiting call-backs apart (still waiting callers)
and the calls out going on; the recordings page and the ticket page of the caller's call list its call-backs with
their call out's recording, each play an AccessLog row (SQLite and PostgreSQL)."""
from __future__ import annotations

import asyncio
import re
import uuid
from datetime import timedelta
from typing import Any

import redis
import redis.asyncio as aioredis
from sqlalchemy import select

from ari_app.audio import audio_facts
from hotline.adapters.db.models import AccessLog, Call, CallbackRequest
from hotline.adapters.db.repository import CallRepository
from monitor.publish import LivePublisher
from tests.support.audio import write_wav
from tests.unit.test_console import CALLER, sign_in
from tests.unit.test_console import world as world  # noqa: F401  (the same fixture, re-used)

OUT_REC = "2026/11/25/out-cb1.wav"
S = timedelta(seconds=1)


def call_backs(world: dict[str, Any]) -> tuple[int, int]:
    """The world's call (hotline1-1, whose ticket is ``mine``) asked to be called back twice: once called back
    (out-cb1, recorded 4 s), once not reached (a ticket); returns both call-backs' ids."""
    svc, tmp, now = world["svc"], world["tmp"], world["ctx"].clock.now()
    repo = CallRepository(svc.sessions)
    repo.start_outbound("out-cb1", channel_id="out-cb1", number=CALLER, operator="op-lan", started_at=now + 60 * S,
                        recording_file=str(tmp / "rec" / OUT_REC))
    repo.update("out-cb1", answered_at=now + 70 * S)
    repo.end_call("out-cb1", ended_at=now + 80 * S, disposition="out_answered")
    write_wav(tmp / "rec" / OUT_REC, 4.0)
    repo.add_recording("out-cb1", audio_facts(tmp / "rec" / OUT_REC, tmp / "rec"), now + 80 * S)
    with svc.sessions.begin() as s:
        call = s.scalars(select(Call).where(Call.call_id == "hotline1-1")).one()
        done = CallbackRequest(call_id=call.id, number=CALLER, requested_at=now + 10 * S, status="completed",
                               attempts=1, operator="op-lan", offered_at=now + 60 * S, out_call="out-cb1")
        missed = CallbackRequest(call_id=call.id, number=CALLER, requested_at=now + 20 * S, status="no_answer",
                                 attempts=1, operator="op-hoa", ticket_code=world["other"])
        s.add_all([done, missed])
        s.flush()
        return done.id, missed.id


def test_the_recordings_page_lists_a_callers_call_backs_with_their_recording(world: dict[str, Any]) -> None:
    done, missed = call_backs(world)
    sup = sign_in(world["app"], "binh")
    page = sup.get(f"/recordings/?caller={CALLER}").get_data(as_text=True)
    row = re.search(rf'<tr class="callback" data-callback="{done}">(.*?)</tr>', page, re.S)
    assert row and f"Gọi lại số {CALLER}: Đã gọi lại được, tổng đài viên op-lan" in row.group(1)   # a supervisor
    assert f'src="/recordings/file/{OUT_REC}"' in row.group(1)
    other = re.search(rf'<tr class="callback" data-callback="{missed}">(.*?)</tr>', page, re.S)
    assert other and "Gọi lại không được, đã tạo phiếu" in other.group(1) and world["other"] in other.group(1)
    assert "Gọi lại cho người đã chờ máy" in page          # the call out's own row says what it was
    assert sup.get(f"/recordings/file/{OUT_REC}").status_code == 200
    with world["svc"].sessions() as s:
        played = s.scalars(select(AccessLog).where(AccessLog.action == "play")).all()
    assert [(p.username, p.resource, p.call_id) for p in played] == [("binh", OUT_REC, "out-cb1")]


def test_the_ticket_page_of_the_callers_call_plays_the_call_back(world: dict[str, Any]) -> None:
    done, missed = call_backs(world)
    code = world["mine"]
    for name in ("binh", "xd"):          # a supervisor, and the agency the ticket is assigned to
        client = sign_in(world["app"], name)
        page = client.get(f"/tickets/{code}").get_data(as_text=True)
        section = re.search(r'<section aria-labelledby="cb-h" class="callbacks">(.*?)</section>', page, re.S)
        assert section and "Gọi lại cho người gọi" in section.group(1)
        assert f'src="/tickets/{code}/audio/callback-{done}"' in section.group(1)
        assert "Đã gọi lại được, tổng đài viên op-lan, 1 lần gọi" in section.group(1)
        assert client.get(f"/tickets/{code}/audio/callback-{done}").status_code == 200
        assert client.get(f"/tickets/{code}/waveform/callback-{done}").status_code == 200
        assert client.get(f"/tickets/{code}/audio/callback-{missed}").status_code == 404     # nothing recorded
        assert client.get(f"/tickets/{world['other']}/audio/callback-{done}").status_code in (403, 404)
        assert client.get(f"/tickets/{code}/audio/callback-x").status_code == 404
    with world["svc"].sessions() as s:
        played = s.scalars(select(AccessLog).where(AccessLog.action == "play")).all()
    assert [(p.username, p.resource, p.call_id, (p.detail or {}).get("ticket")) for p in played] == [
        ("binh", OUT_REC, "out-cb1", code), ("xd", OUT_REC, "out-cb1", code)]


def test_the_wallboard_shows_call_backs_waiting_and_calls_out_going_on(world: dict[str, Any]) -> None:
    settings, now = world["ctx"].settings, world["ctx"].clock.now()
    CallRepository(world["svc"].sessions).start_outbound("out-now", channel_id="out-now", number="0933000111",
                                                         operator="op-lan", started_at=now - 20 * S,
                                                         recording_file=None)
    url = "redis://127.0.0.1:6379/14"
    settings.redis.url, settings.redis.live_channel = url, f"test:live:{uuid.uuid4().hex}"
    snapshot = {"at": now.isoformat(), "longest_wait": 40, "by_state": {}, "operators": [],
                "callbacks_waiting": 1,
                "waiting": [{"call_id": "cb", "caller": "*******678", "wait": 40, "position": 1, "callback": True},
                            {"call_id": "c2", "caller": "*******111", "wait": 12, "position": 2, "callback": False}]}

    async def publish() -> None:
        publisher = LivePublisher(aioredis.Redis.from_url(url), settings.redis.live_channel, "node-a")
        await publisher.publish([], snapshot)
        await publisher.close()
    client = redis.Redis.from_url(url)
    try:
        asyncio.run(publish())
        sup = sign_in(world["app"], "binh")
        floor = sup.get("/wallboard/live").get_json()
        assert len(floor["waiting"]) == 2 and floor["callbacks_waiting"] == 1         # counted, and apart
        assert floor["nodes"][0]["callbacks_waiting"] == 1
        page = sup.get("/wallboard/").get_data(as_text=True)
        assert re.search(r'<span>Chờ gọi lại</span><strong id="w-callbacks">', page)
        assert re.search(r'<span>Đang gọi ra</span><strong id="w-calls-out">1</strong>', page)
    finally:
        client.delete(*client.keys(f"{settings.redis.live_channel}:*"))
        client.close()
