"""The one door of written requests (hotline.intake): a request becomes one ticket with its thread, files and
receipt; bad input is refused in Vietnamese and leaves nothing behind; the same message twice is one ticket; a
reply joins its ticket; the hotline's messages are sent once, and kept and tried again when the channel fails.

On SQLite and PostgreSQL (the ``database_url`` fixture), with the shipped settings and real files on disk.
"""
from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from hotline.adapters.db import open_database
from hotline.adapters.db.models import Attachment, IntakeMessage, Ticket
from hotline.context import Context, load_context
from hotline.domain.tickets import codes
from hotline.intake import FileRefused, Intake, IntakeError, Request, Upload, outbox
from hotline.intake.service import status_token

GPS = 0x8825    # the EXIF tag of a photo's GPS position


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Context:
    return load_context(env={"HOTLINE_STATE_DIR": str(tmp_path / "state"), "HOTLINE_DATABASE_URL": database_url})


@pytest.fixture
def intake(ctx: Context) -> Intake:
    door = ctx.intake(open_database(ctx.settings.database.url))
    door.public_url = "https://1022.example.gov.vn"
    return door


def tickets(intake: Intake) -> int:
    with intake.sessions() as s:
        return s.scalar(select(func.count()).select_from(Ticket)) or 0


def jpeg_with_gps(width: int = 4000, height: int = 3000) -> bytes:
    image = Image.new("RGB", (width, height), (200, 120, 40))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"                      # Make
    exif.get_ifd(GPS)[2] = (10.0, 27.0, 36.0)        # GPSLatitude: where the citizen stood
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_a_web_request_is_one_ticket_with_its_contact_place_photo_and_thread(intake: Intake) -> None:
    photo = jpeg_with_gps()
    assert Image.open(io.BytesIO(photo)).getexif().get_ifd(GPS)      # the upload carries a position
    got = intake.receive(Request(
        channel="web", content="  Đèn đường trước số 12 Lê Lợi tắt đã một tuần.  ", name="Nguyễn Thị Lan",
        phone="+84 912 345 678", email="lan@example.vn", address="12 Lê Lợi, phường 1", latitude=10.46,
        longitude=105.63, category="infrastructure", files=(Upload("IMG_0001.JPG", "image/jpeg", photo),)))
    assert got.new and not got.joined
    assert codes.is_valid(got.code, 7)
    key = status_token(intake.link_key, got.code)        # the link lets its holder read the answer
    assert len(key) == 12 and intake.link_key
    assert got.reply == (f"Đường dây nóng 1022 đã tiếp nhận phản ánh của bạn. Mã phiếu: {got.code}. "
                         f"Tra cứu: https://1022.example.gov.vn/tra-cuu/{got.code}?k={key}")
    ticket = intake.tickets.get(got.code)
    assert ticket is not None
    assert (ticket["channel"], ticket["caller"], ticket["content"], ticket["category"]) == (
        "web", "0912345678", "Đèn đường trước số 12 Lê Lợi tắt đã một tuần.", "infrastructure")
    assert (ticket["contact_name"], ticket["contact_email"], ticket["address"]) == (
        "Nguyễn Thị Lan", "lan@example.vn", "12 Lê Lợi, phường 1")
    assert (ticket["latitude"], ticket["longitude"]) == (10.46, 105.63)
    assert [e["action"] for e in ticket["events"]] == ["created"] and ticket["events"][0]["actor"] == "web"
    assert [(m["direction"], m["channel"]) for m in ticket["messages"]] == [("in", "web")]    # no reply by web
    [attachment] = ticket["attachments"]
    assert attachment["filename"] == "IMG_0001.JPG" and attachment["media_type"] == "image/jpeg"
    with intake.sessions() as s:
        row = s.scalar(select(Attachment))
        assert row is not None
        path = intake.attachments / row.path
    kept = Image.open(path)
    assert kept.format == "JPEG" and max(kept.size) == 2560       # re-encoded, at most [intake] photo_max_side
    assert not kept.getexif().get_ifd(GPS) and 0x010F not in kept.getexif()    # no position, no maker
    assert path.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize(("change", "said"), [
    ({"content": " \n\t "}, "Hãy viết nội dung"),
    ({"content": "x" * 20_000}, "dài quá 5000 ký tự"),
    ({"phone": "12345"}, "Số điện thoại không hợp lệ"),
    ({"email": "lan@@example"}, "thư điện tử không hợp lệ"),
    ({"category": "no-such"}, "Lĩnh vực không có"),
    ({"latitude": 95.0, "longitude": 105.0}, "Vị trí trên bản đồ"),
    ({"latitude": 10.0}, "Vị trí trên bản đồ"),
    ({"files": tuple(Upload(f"{i}.jpg", "image/jpeg", b"x") for i in range(4))}, "tối đa 3 tệp"),
])
def test_a_request_that_cannot_be_taken_is_refused_in_vietnamese_and_keeps_nothing(
        intake: Intake, change: dict[str, Any], said: str) -> None:
    base: dict[str, Any] = {"channel": "web", "content": "Hỏi thủ tục cấp đổi giấy phép lái xe."}
    with pytest.raises(IntakeError) as refused:
        intake.receive(Request(**{**base, **change}))
    assert refused.value.vi and said in refused.value.vi
    assert tickets(intake) == 0


@pytest.mark.parametrize(("upload", "said"), [
    (Upload("hoa-don.jpg", "image/jpeg", b"%PDF-1.4 not a photo at all"), "không phải là ảnh"),
    (Upload("lon.jpg", "image/jpeg", b"\xff\xd8" + b"0" * 50_000_000), "lớn quá 10 MB"),
    (Upload("trong.png", "image/png", b""), "trống"),
    (Upload("chay.exe", "application/x-msdownload", b"MZ\x90\x00"), "chỉ nhận ảnh, PDF"),
    (Upload("../../etc/passwd", "application/pdf", b"root:x:0:0"), "chỉ nhận ảnh, PDF"),
])
def test_a_file_that_is_not_taken_refuses_the_request_and_keeps_nothing(
        intake: Intake, upload: Upload, said: str) -> None:
    with pytest.raises(FileRefused) as refused:      # by e-mail, which takes PDF and text files besides photos
        intake.receive(Request(channel="email", content="Ảnh kèm theo.", files=(upload,)))
    assert refused.value.vi and said in refused.value.vi
    assert tickets(intake) == 0
    assert not list(intake.attachments.rglob("*.*"))


def test_the_same_message_delivered_twice_is_one_ticket(intake: Intake) -> None:
    req = Request(channel="sms", content="Hỏi lịch tiêm chủng tháng 12", phone="0912345678",
                  reply_to="0912345678", external_id="gw-8812")
    first, again = intake.receive(req), intake.receive(req)
    assert first.new and not again.new and not again.joined
    assert again.code == first.code and tickets(intake) == 1
    with intake.sessions() as s:
        outs = s.scalars(select(IntakeMessage).where(IntakeMessage.direction == "out")).all()
        assert [(m.address, m.body) for m in outs] == [("0912345678", first.reply)]    # one receipt


def test_a_reply_on_the_thread_joins_its_ticket(intake: Intake) -> None:
    first = intake.receive(Request(channel="email", content="Đường ngập nước ở ấp 3.", email="an@example.vn",
                                   reply_to="an@example.vn", external_id="<a1@example.vn>",
                                   subject="Ngập nước"))
    more = intake.receive(Request(channel="email", content="Bổ sung: nước vẫn chưa rút.",
                                  reply_to="an@example.vn", external_id="<a2@example.vn>",
                                  thread=("<x@example.vn>", "<a1@example.vn>"), subject="Re: Ngập nước",
                                  files=(Upload("anh.png", "image/png", _png()),)))
    assert more.joined and not more.new and more.code == first.code and tickets(intake) == 1
    ticket = intake.tickets.get(first.code)
    assert ticket is not None
    assert ticket["content"] == "Ngập nước\n\nĐường ngập nước ở ấp 3."
    ins = [m["body"] for m in ticket["messages"] if m["direction"] == "in"]
    assert ins == ["Đường ngập nước ở ấp 3.", "Bổ sung: nước vẫn chưa rút."]
    assert [e["action"] for e in ticket["events"]] == ["created", "message"]
    assert [a["media_type"] for a in ticket["attachments"]] == ["image/png"]


def test_messages_out_are_sent_once_kept_when_the_channel_fails_and_tried_again_later(intake: Intake) -> None:
    got = intake.receive(Request(channel="zalo", content="Xin hỏi giờ làm việc bộ phận một cửa.",
                                 reply_to="zalo-user-42", external_id="zmsg-1"))
    with intake.sessions() as s:
        [msg_id] = s.scalars(select(IntakeMessage.id).where(IntakeMessage.direction == "out")).all()
    sent: list[tuple[str, str]] = []
    broken = {"zalo": _failing}
    now = intake.tickets.now
    assert outbox.send(intake.sessions, msg_id, {}, now) == "waiting"          # channel not set up: kept
    assert outbox.send(intake.sessions, msg_id, broken, now) == "failed"
    assert outbox.due(intake.sessions, now()) == []                            # not at once again
    assert outbox.due(intake.sessions, now() + timedelta(minutes=2)) == [msg_id]
    working = {"zalo": lambda m, _first: sent.append((m.address, m.body)) or "zalo-out-1"}
    assert outbox.send(intake.sessions, msg_id, working, now) == "sent"
    assert outbox.send(intake.sessions, msg_id, working, now) == "done"
    assert sent == [("zalo-user-42", got.reply)]
    with intake.sessions() as s:
        msg = s.get(IntakeMessage, msg_id)
        assert msg is not None and msg.attempts == 2 and msg.error is None and msg.sent_at is not None
    assert outbox.due(intake.sessions, now() + timedelta(days=1)) == []


def test_the_answer_goes_back_once_through_the_channel_the_citizen_wrote_from(intake: Intake) -> None:
    got = intake.receive(Request(channel="sms", content="Hỏi thủ tục đăng ký khai sinh.", phone="0987654321",
                                 reply_to="0987654321", external_id="gw-1"))
    assert intake.answer_back(got.code, actor="worker") is None                 # no answer yet
    intake.tickets.answer(got.code, "Mang giấy chứng sinh và CCCD của cha mẹ đến UBND xã.", actor="op-hoa")
    out = intake.answer_back(got.code, actor="worker")
    assert out is not None and out["channel"] == "sms" and out["address"] == "0987654321"
    assert intake.answer_back(got.code, actor="worker") is None                 # once
    ticket = intake.tickets.get(got.code)
    assert ticket is not None
    answers = [m["body"] for m in ticket["messages"] if m["direction"] == "out"][1:]
    assert answers == [f"Trả lời phản ánh mã {got.code}:\nMang giấy chứng sinh và CCCD của cha mẹ đến UBND xã."]
    assert ticket["events"][-1]["action"] == "answer_sent"
    web = intake.receive(Request(channel="web", content="Câu hỏi trên cổng thông tin."))
    intake.tickets.answer(web.code, "Đã trả lời trên trang tra cứu.", actor="op-hoa")
    assert intake.answer_back(web.code, actor="worker") is None                 # the web: the status page


def _failing(_msg: Any, _first: str | None) -> str:
    raise outbox.SendError("Zalo error -216: access token invalid")


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(out, "PNG")
    return out.getvalue()


def test_a_voicemail_caller_s_mobile_is_texted_the_code_once_and_a_landline_never(intake: Intake) -> None:
    mobile = intake.tickets.create(channel="voicemail", caller="0912345678", content="(lời nhắn)")
    landline = intake.tickets.create(channel="voicemail", caller="02773851234", content="(lời nhắn)")
    assert intake.text_code(mobile["id"]) is None                     # [sms] voicemail_code off: nothing
    intake.sms_codes = True
    out = intake.text_code(mobile["id"])
    assert out is not None and (out["channel"], out["address"]) == ("sms", "0912345678")
    assert intake.text_code(mobile["id"]) is None                     # once
    assert intake.text_code(landline["id"]) is None                   # an SMS reaches no landline
    ticket = intake.tickets.get(mobile["code"])
    assert ticket is not None
    [text] = [m["body"] for m in ticket["messages"]]
    assert f"Mã phiếu: {mobile['code']}." in text and "https://1022.example.gov.vn/tra-cuu/" in text
    assert ticket["events"][-1]["action"] == "code_sent"


def test_a_phone_ticket_s_answer_is_announced_by_text_to_a_mobile_when_enabled(intake: Intake) -> None:
    phone = intake.tickets.create(channel="phone", caller="0987000111", content="Hỏi lịch tiếp công dân.")
    intake.tickets.answer(phone["code"], "Thứ Năm hằng tuần, tại trụ sở tiếp công dân tỉnh.", actor="op-hoa")
    assert intake.answer_back(phone["code"], actor="worker") is None          # [sms] answered_notice off
    intake.sms_notices = True
    out = intake.answer_back(phone["code"], actor="worker")
    assert out is not None and (out["channel"], out["address"]) == ("sms", "0987000111")
    ticket = intake.tickets.get(phone["code"])
    assert ticket is not None
    [text] = [m["body"] for m in ticket["messages"]]
    assert text.startswith(f"Phản ánh mã {phone['code']} đã có kết quả trả lời.") and "Thứ Năm" not in text
