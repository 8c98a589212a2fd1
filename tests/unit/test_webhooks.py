"""The channels' webhooks (public_site.webhooks) through Flask's test client, on a real database (SQLite and
PostgreSQL), a real Redis (the limits, the refusal counts) and a stand-in of the sending APIs on loopback
(tests/support/standin_gateway.py): a citizen's SMS, Zalo or Facebook message becomes a ticket whose receipt the
outbox sends back to them with the code; a forged call makes nothing; the same message twice is one ticket and
one receipt; a failing API keeps the message for the next try; the agency's answer goes back the same way."""
from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from hotline.adapters.db.models import IntakeMessage, Ticket
from hotline.context import Context, load_context
from hotline.intake import outbox
from public_site import REFUSALS_KEY, create_app, services
from tests.support.redis_server import redis_server
from tests.support.standin_gateway import Post, StandinGateway, standin_gateway

SETTINGS = """\
[province]
name = "Đồng Tháp"
area_code = "0277"

[intake]
public_url = "https://1022.example.gov.vn"

[public]
messages_per_hour = 4

[sms]
enabled = true
send_url = "{url}/sms/send"

[zalo]
enabled = true
app_id = "4321987654"
api_url = "{url}/zalo/message/cs"

[facebook]
enabled = true
api_url = "{url}/facebook/me/messages"
"""
SECRETS = {"sms_token": "sms-in-7f3a", "sms_send_token": "sms-out-1b2c", "zalo_secret_key": "oa-secret-9d8e",
           "zalo_access_token": "zalo-at-55", "facebook_app_secret": "fb-app-secret-31",
           "facebook_verify_token": "fb-verify-42", "facebook_page_token": "fb-page-77"}
TEXT = "Đèn đường ấp 3 xã Tân Thuận tắt cả tuần nay."
CHANNELS = ("sms", "zalo", "facebook")
#: each channel's citizen: as the webhook names them, and as the hotline writes back to them
SENDER = {"sms": "+84 912 345 678", "zalo": "2468013579111", "facebook": "6101234567890"}
ADDRESS = {"sms": "0912345678", "zalo": "2468013579111", "facebook": "6101234567890"}


@pytest.fixture
def gateway() -> Iterator[StandinGateway]:
    with standin_gateway() as gw:
        yield gw


@pytest.fixture
def ctx(tmp_path: Path, database_url: str, gateway: StandinGateway) -> Iterator[Context]:
    settings = tmp_path / "province.toml"
    settings.write_text(SETTINGS.format(url=gateway.url("")), encoding="utf-8")
    with redis_server(tmp_path / "redis") as url:
        found = load_context(settings, env={"HOTLINE_STATE_DIR": str(tmp_path / "state"),
                                            "HOTLINE_DATABASE_URL": database_url, "HOTLINE_REDIS_URL": url})
        for name, value in SECRETS.items():
            found.secrets.set_channel_secret(name, value)
        yield found


@pytest.fixture
def app(ctx: Context) -> Flask:
    return create_app(ctx, testing=True)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


# -- what each platform sends ---------------------------------------------------------------
def sms(client: FlaskClient, sender: str, msg_id: str, text: str, *, token: str = SECRETS["sms_token"]) -> Any:
    return client.post("/sms/inbound", json={"from": sender, "text": text, "id": msg_id, "to": "1022"},
                       headers={"Authorization": f"Bearer {token}"})


def zalo(client: FlaskClient, sender: str, msg_id: str, text: str, *, secret: str = SECRETS["zalo_secret_key"],
         event: dict[str, Any] | None = None) -> Any:
    timestamp = "1764042000123"
    event = event or {"app_id": "4321987654", "event_name": "user_send_text", "timestamp": timestamp,
                      "sender": {"id": sender}, "recipient": {"id": "579745863508352884"},
                      "message": {"msg_id": msg_id, "text": text}, "user_id_by_app": "552177279717587730"}
    raw = json.dumps(event, ensure_ascii=False).encode()
    # as Zalo documents it: sha256(app_id + body + timestamp + OA secret key), sent as mac=<hex>
    mac = hashlib.sha256(b"4321987654" + raw + str(event["timestamp"]).encode() + secret.encode()).hexdigest()
    return client.post("/zalo/webhook", data=raw, content_type="application/json",
                       headers={"X-ZEvent-Signature": f"mac={mac}"})


def facebook(client: FlaskClient, sender: str, msg_id: str, text: str, *,
             secret: str = SECRETS["facebook_app_secret"], message: dict[str, Any] | None = None) -> Any:
    event = {"object": "page", "entry": [{"id": "PAGE-1", "time": 1764042000123, "messaging": [
        {"sender": {"id": sender}, "recipient": {"id": "PAGE-1"}, "timestamp": 1764042000000,
         "message": message or {"mid": msg_id, "text": text}}]}]}
    raw = json.dumps(event, ensure_ascii=False).encode()
    signature = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return client.post("/facebook/webhook", data=raw, content_type="application/json",
                       headers={"X-Hub-Signature-256": f"sha256={signature}"})


DOORS: dict[str, Callable[..., Any]] = {"sms": sms, "zalo": zalo, "facebook": facebook}


def code_of(answer: Any) -> str:
    body = answer.get_json()
    return str(body["messages"][0]["code"] if "messages" in body else body["code"])


def error_of(answer: Any) -> str:
    body = answer.get_json()
    return str(body["messages"][0]["error"] if "messages" in body else body["error"])


def addressee(channel: str, post: Post) -> str:
    body = post.body
    return str(body["to"] if channel == "sms" else body["recipient"]["user_id" if channel == "zalo" else "id"])


def text_sent(channel: str, post: Post) -> str:
    return str(post.body["text"] if channel == "sms" else post.body["message"]["text"])


def deliver(app: Flask, ctx: Context) -> list[str]:
    """What the worker does: send every message due, through the channels' senders."""
    sessions = services(app).intake.sessions
    now = services(app).intake.tickets.now
    send_with = outbox.senders(ctx.settings, ctx.secrets)
    return [outbox.send(sessions, i, send_with, now) for i in outbox.due(sessions, now())]


def tickets(app: Flask) -> int:
    with services(app).intake.sessions() as s:
        return s.scalar(select(func.count()).select_from(Ticket)) or 0


def refusals(ctx: Context) -> dict[str, int]:
    got = redis.Redis.from_url(ctx.redis_url).hgetall(REFUSALS_KEY)
    return {k.decode(): int(v) for k, v in got.items()}


# -- tests --------------------------------------------------------------------------------
@pytest.mark.parametrize("channel", CHANNELS)
def test_a_message_is_a_ticket_whose_receipt_reaches_the_citizen(
        channel: str, app: Flask, client: FlaskClient, ctx: Context, gateway: StandinGateway) -> None:
    answer = DOORS[channel](client, SENDER[channel], f"{channel}-m1", TEXT)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    code = code_of(answer)
    ticket = services(app).intake.tickets.get(code)
    assert ticket is not None and ticket["channel"] == channel and ticket["content"] == TEXT
    assert ticket["caller"] == (ADDRESS["sms"] if channel == "sms" else "")
    assert deliver(app, ctx) == ["sent"]
    [post] = gateway.posts
    assert addressee(channel, post) == ADDRESS[channel]
    assert f"Mã phiếu: {code}." in text_sent(channel, post)
    assert f"https://1022.example.gov.vn/tra-cuu/{code}" in text_sent(channel, post)
    credential = {"sms": ("authorization", "Bearer sms-out-1b2c"), "zalo": ("access_token", "zalo-at-55"),
                  "facebook": ("authorization", "Bearer fb-page-77")}[channel]
    assert post.headers[credential[0]] == credential[1]
    assert deliver(app, ctx) == [] and len(gateway.posts) == 1         # sent once


def test_the_sms_answer_holds_the_code_and_the_receipt(client: FlaskClient, ctx: Context) -> None:
    from hotline.intake.service import status_token
    body = sms(client, SENDER["sms"], "gw-1", TEXT).get_json()
    assert body["new"] is True
    key = status_token(ctx.secrets.public_secret_key, body["code"])     # the link lets the citizen read the answer
    assert body["reply"] == (f"Đường dây nóng 1022 đã tiếp nhận phản ánh của bạn. Mã phiếu: {body['code']}. "
                             f"Tra cứu: https://1022.example.gov.vn/tra-cuu/{body['code']}?k={key}")


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_forged_call_is_refused_and_makes_nothing(
        channel: str, app: Flask, client: FlaskClient, ctx: Context, gateway: StandinGateway) -> None:
    wrong = {"sms": {"token": "guessed"}, "zalo": {"secret": "guessed"}, "facebook": {"secret": "guessed"}}
    answer = DOORS[channel](client, SENDER[channel], "m1", TEXT, **wrong[channel])
    assert answer.status_code == 401
    assert "Chữ ký không hợp lệ" in answer.get_json()["error"]
    unsigned = client.post({"sms": "/sms/inbound", "zalo": "/zalo/webhook", "facebook": "/facebook/webhook"}[
        channel], json={"from": "0912345678", "text": TEXT, "id": "m2"})
    assert unsigned.status_code == 401
    assert tickets(app) == 0 and deliver(app, ctx) == [] and gateway.posts == []
    assert refusals(ctx) == {f"{channel}_signature": 2}


def test_an_sms_signed_with_an_hmac_of_its_form_body_is_taken(app: Flask, client: FlaskClient) -> None:
    raw = "from=0912345678&text=H%E1%BB%8Fi+gi%E1%BB%9D+l%C3%A0m+vi%E1%BB%87c&id=gw-77"
    signature = hmac.new(SECRETS["sms_token"].encode(), raw.encode(), hashlib.sha256).hexdigest()
    answer = client.post("/sms/inbound", data=raw, content_type="application/x-www-form-urlencoded",
                         headers={"X-Signature": signature})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    ticket = services(app).intake.tickets.get(answer.get_json()["code"])
    assert ticket is not None and ticket["content"] == "Hỏi giờ làm việc"
    tampered = client.post("/sms/inbound", data=raw.replace("gw-77", "gw-78"),
                           content_type="application/x-www-form-urlencoded", headers={"X-Signature": signature})
    assert tampered.status_code == 401 and tickets(app) == 1


@pytest.mark.parametrize("channel", CHANNELS)
def test_the_same_message_twice_is_one_ticket_and_one_receipt(
        channel: str, app: Flask, client: FlaskClient, ctx: Context, gateway: StandinGateway) -> None:
    first = DOORS[channel](client, SENDER[channel], "dup-1", TEXT)
    again = DOORS[channel](client, SENDER[channel], "dup-1", TEXT)
    assert first.status_code == again.status_code == 200
    assert code_of(first) == code_of(again) and tickets(app) == 1
    assert deliver(app, ctx) == ["sent"] and deliver(app, ctx) == []
    assert len(gateway.posts) == 1


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_failing_api_keeps_the_message_with_its_error_for_the_next_try(
        channel: str, app: Flask, client: FlaskClient, ctx: Context, gateway: StandinGateway) -> None:
    code = code_of(DOORS[channel](client, SENDER[channel], "m1", TEXT))
    gateway.fail(1, "zalo-216" if channel == "zalo" else "http500")
    assert deliver(app, ctx) == ["failed"]
    with services(app).intake.sessions() as s:
        msg = s.scalar(select(IntakeMessage).where(IntakeMessage.direction == "out"))
        assert msg is not None and msg.sent_at is None and msg.attempts == 1
        assert ("-216" if channel == "zalo" else "answered 500") in (msg.error or "")
        msg_id = msg.id
    sessions, now = services(app).intake.sessions, services(app).intake.tickets.now
    assert outbox.send(sessions, msg_id, outbox.senders(ctx.settings, ctx.secrets), now) == "sent"   # next try
    assert [addressee(channel, p) for p in gateway.posts] == [ADDRESS[channel]] * 2
    assert f"Mã phiếu: {code}." in text_sent(channel, gateway.posts[-1])
    with sessions() as s:
        kept = s.get(IntakeMessage, msg_id)
        assert kept is not None and kept.error is None and kept.sent_at is not None and kept.attempts == 2


@pytest.mark.parametrize("channel", CHANNELS)
def test_the_agency_s_answer_goes_back_through_the_channel(
        channel: str, app: Flask, client: FlaskClient, ctx: Context, gateway: StandinGateway) -> None:
    code = code_of(DOORS[channel](client, SENDER[channel], "m1", TEXT))
    assert deliver(app, ctx) == ["sent"]
    ctx.tickets(ctx.sessions()).answer(code, "Điện lực huyện đã thay bóng đèn ngày 26/11.", actor="agency-dl")
    out = services(app).intake.answer_back(code, actor="worker")
    assert out is not None and out["channel"] == channel and out["address"] == ADDRESS[channel]
    assert deliver(app, ctx) == ["sent"]
    answer = gateway.posts[-1]
    assert addressee(channel, answer) == ADDRESS[channel]
    assert text_sent(channel, answer) == f"Trả lời phản ánh mã {code}:\nĐiện lực huyện đã thay bóng đèn ngày 26/11."


@pytest.mark.parametrize("channel", CHANNELS)
def test_an_empty_or_too_long_message_is_refused_in_vietnamese_and_counted(
        channel: str, app: Flask, client: FlaskClient, ctx: Context) -> None:
    empty = DOORS[channel](client, SENDER[channel], "m1", "   ")
    long = DOORS[channel](client, SENDER[channel], "m2", "x" * 6000)
    # the gateway is told (400); Zalo and Facebook want their 200 whatever comes
    assert {empty.status_code, long.status_code} == {400 if channel == "sms" else 200}
    assert "Hãy viết nội dung" in error_of(empty) and "dài quá 5000 ký tự" in error_of(long)
    assert tickets(app) == 0 and refusals(ctx) == {f"{channel}_invalid": 2}


@pytest.mark.parametrize("channel", CHANNELS)
def test_one_sender_flooding_is_held_back_and_counted(
        channel: str, app: Flask, client: FlaskClient, ctx: Context) -> None:
    answers = [DOORS[channel](client, SENDER[channel], f"m{i}", f"{TEXT} ({i})") for i in range(6)]
    assert [a.status_code for a in answers] == [200] * 4 + ([429, 429] if channel == "sms" else [200, 200])
    assert "quá 4 tin nhắn trong một giờ" in error_of(answers[-1])
    assert tickets(app) == 4 and refusals(ctx) == {f"{channel}_rate": 2}
    other = {"sms": "0987654321", "zalo": "1357924680", "facebook": "6109876543210"}[channel]
    assert DOORS[channel](client, other, "m9", TEXT).status_code == 200 and tickets(app) == 5


def test_a_zalo_photo_is_a_line_with_its_url_never_fetched(
        app: Flask, client: FlaskClient, gateway: StandinGateway) -> None:
    url = "https://photo-stal-9.zdn.vn/abc/cong-tac.jpg"
    event = {"app_id": "4321987654", "event_name": "user_send_image", "timestamp": "1764042000999",
             "sender": {"id": "2468013579111"}, "recipient": {"id": "579745863508352884"},
             "message": {"msg_id": "z-img-1", "text": "Cống bị tắc",
                         "attachments": [{"type": "image", "payload": {"thumbnail": url, "url": url}}]}}
    answer = zalo(client, "", "", "", event=event)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    ticket = services(app).intake.tickets.get(code_of(answer))
    assert ticket is not None and ticket["content"] == f"Cống bị tắc\nẢnh: {url}"
    assert gateway.posts == []


def test_other_zalo_events_and_facebook_echoes_make_no_ticket(app: Flask, client: FlaskClient) -> None:
    follow = {"app_id": "4321987654", "event_name": "follow", "timestamp": "1764042000000",
              "follower": {"id": "2468013579111"}, "oa_id": "579745863508352884"}
    assert zalo(client, "", "", "", event=follow).get_json() == {"ignored": "follow"}
    echo = facebook(client, "PAGE-1", "", "", message={"mid": "m_echo", "text": "Cảm ơn", "is_echo": True})
    assert echo.status_code == 200 and echo.get_json() == {"messages": []}
    assert tickets(app) == 0


def test_facebook_s_webhook_check_echoes_the_challenge_only_with_the_token(client: FlaskClient, ctx: Context) -> None:
    ok = client.get("/facebook/webhook?hub.mode=subscribe&hub.verify_token=fb-verify-42&hub.challenge=1158201444")
    assert ok.status_code == 200 and ok.get_data(as_text=True) == "1158201444"
    wrong = client.get("/facebook/webhook?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1")
    assert wrong.status_code == 403 and refusals(ctx) == {"facebook_verify": 1}


@pytest.mark.parametrize(("channel", "path"), [("sms", "/sms/inbound"), ("zalo", "/zalo/webhook"),
                                               ("facebook", "/facebook/webhook")])
def test_a_channel_switched_off_has_no_door(channel: str, path: str, client: FlaskClient, ctx: Context) -> None:
    getattr(ctx.settings, channel).enabled = False
    answer = DOORS[channel](client, SENDER[channel], "m1", TEXT)
    assert answer.status_code == 404 and "chưa được bật" in answer.get_json()["error"]
    assert client.post(path).status_code == 404


def test_the_worker_sends_the_receipt_then_the_answer_from_the_queue(ctx: Context, client: FlaskClient,
                                                                     gateway: StandinGateway) -> None:
    """The real worker (HotlineWorker, burst) runs what the door and the answer queued: the receipt with the
    code, then the agency's answer, each once, through the stand-in SMS gateway."""
    from rq import Queue
    from rq.serializers import JSONSerializer

    from hotline.worker.rqworker import HotlineWorker
    from hotline.worker.runtime import Runtime
    rt = Runtime.build(ctx)
    connection = redis.Redis.from_url(ctx.redis_url)
    queue = Queue(ctx.settings.transcription.queue, connection=connection, serializer=JSONSerializer)
    code = sms(client, SENDER["sms"], "gw-worker-1", TEXT).get_json()["code"]
    assert [j.split("-")[0] for j in queue.job_ids] == ["send"]
    HotlineWorker([queue], connection=connection, runtime=rt).work(burst=True)
    [receipt] = gateway.received("/sms/send")
    assert receipt.body["to"] == ADDRESS["sms"] and code in receipt.body["text"]
    rt.tickets.answer(code, "Điện lực huyện đã thay bóng đèn ngày 26/11.", actor="dl-huyen")
    HotlineWorker([queue], connection=connection, runtime=rt).work(burst=True)
    texts = [p.body["text"] for p in gateway.received("/sms/send")]
    assert len(texts) == 2 and texts[1] == f"Trả lời phản ánh mã {code}:\nĐiện lực huyện đã thay bóng đèn ngày 26/11."
    HotlineWorker([queue], connection=connection, runtime=rt).work(burst=True)
    assert len(gateway.received("/sms/send")) == 2                   # nothing sent twice
