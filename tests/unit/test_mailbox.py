"""The hotline's mailbox (hotline.intake.mailbox): an e-mail to it becomes a ticket, its receipt and the agency's
answer go back by e-mail on the citizen's thread, a reply joins the ticket; legacy charsets, HTML-only mail and
photos are read as the citizen meant them; the same mail read twice is one ticket; a server that goes away or a
wrong password is tried again and loses nothing; the hotline's own mail and bounces are never answered.

A real Dovecot (tests/support/dovecot.py; a test "sends" mail by IMAP APPEND), the real SMTP sink, the reader in
a thread, on SQLite and PostgreSQL (the ``database_url`` fixture). No Asterisk.
"""
from __future__ import annotations

import dataclasses
import io
import logging
import threading
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from hotline.adapters.db import open_database
from hotline.adapters.db.models import IntakeMessage, Ticket
from hotline.adapters.mail import Mailer
from hotline.config.schema import MailboxSettings
from hotline.context import Context, load_context
from hotline.intake import Intake, outbox
from hotline.intake.mailbox import MailboxReader, read_status, reader, status_file
from hotline.services.health import check_mailbox
from tests.support.dovecot import Dovecot, dovecot
from tests.support.smtp import SmtpSink, smtp_sink
from tests.support.stack import wait_for

HOTLINE = "tiepnhan@1022.example.gov.vn"
CITIZEN = "lan.nguyen@example.vn"
DEADLINE = 30.0
TONES = "\u0300\u0301\u0303\u0309\u0323"


@pytest.fixture
def server() -> Iterator[Dovecot]:
    with dovecot() as running:
        yield running


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with smtp_sink() as running:
        yield running


@pytest.fixture
def ctx(tmp_path: Path, database_url: str, server: Dovecot, sink: SmtpSink) -> Context:
    loaded = load_context(env={"HOTLINE_STATE_DIR": str(tmp_path / "state"), "HOTLINE_DATABASE_URL": database_url})
    s = loaded.settings
    settings = s.model_copy(update={
        "mailbox": MailboxSettings(enabled=True, host="127.0.0.1", port=server.port, tls=False, user=server.user,
                                   address=HOTLINE, poll_seconds=2.0),
        "notifications": s.notifications.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": sink.port})})
    loaded.secrets.set_channel_secret("mailbox_password", server.password)
    return dataclasses.replace(loaded, settings=settings)


@pytest.fixture
def intake(ctx: Context) -> Intake:
    return ctx.intake(open_database(ctx.settings.database.url))


@contextmanager
def running(mail_reader: MailboxReader) -> Iterator[threading.Event]:
    """The reader in a thread for the block (as `hotline mailbox` runs it), stopped after."""
    stop = threading.Event()
    thread = threading.Thread(target=mail_reader.run, args=(stop,), name="mailbox", daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(15)
        assert not thread.is_alive(), "the reader did not stop"


def mail(body: str = "Đèn đường trước số 12 Lê Lợi tắt đã một tuần.", *, subject: str = "Đèn đường hỏng",
         sender: str = f"Nguyễn Thị Lan <{CITIZEN}>", **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, HOTLINE, subject
    msg["Message-ID"] = make_msgid(domain="example.vn")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def tickets(intake: Intake) -> list[Ticket]:
    with intake.sessions() as s:
        return list(s.scalars(select(Ticket).order_by(Ticket.id)).all())


def ticket_count(intake: Intake) -> int:
    with intake.sessions() as s:
        return s.scalar(select(func.count()).select_from(Ticket)) or 0


def ticket_of(intake: Intake, message_id: str) -> dict[str, Any] | None:
    with intake.sessions() as s:
        ticket_id = s.scalar(select(IntakeMessage.ticket_id).where(IntakeMessage.external_id == message_id))
    return intake.tickets.by_id(ticket_id) if ticket_id is not None else None


def send_waiting(ctx: Context, intake: Intake) -> None:
    """What the worker does with the messages waiting to go out."""
    senders = outbox.senders(ctx.settings, ctx.secrets, Mailer(ctx.settings.notifications))
    for message_id in outbox.due(intake.sessions, intake.tickets.now()):
        assert outbox.send(intake.sessions, message_id, senders, intake.tickets.now) == "sent"


def seen(server: Dovecot) -> list[bool]:
    return [b"\\Seen" in flags for flags in server.flags()]


def cp1258(text: str) -> bytes:
    """``text`` as windows-1258 writes Vietnamese: the base letter, then the tone mark as a character of its own."""
    out = []
    for ch in text:
        decomposed = unicodedata.normalize("NFD", ch)
        base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in TONES))
        out.append((base + "".join(c for c in decomposed if c in TONES)).encode("cp1258"))
    return b"".join(out)


def test_an_email_is_a_ticket_its_receipt_and_answer_go_back_on_the_thread_and_a_reply_joins_it(
        ctx: Context, intake: Intake, server: Dovecot, sink: SmtpSink) -> None:
    first = mail()
    server.deliver(first.as_bytes())
    with running(reader(ctx, intake)):
        ticket = wait_for(lambda: ticket_of(intake, first["Message-ID"]), DEADLINE, "the mail's ticket")
        assert (ticket["channel"], ticket["contact_email"], ticket["contact_name"]) == ("email", CITIZEN,
                                                                                       "Nguyễn Thị Lan")
        assert ticket["content"] == "Đèn đường hỏng\n\nĐèn đường trước số 12 Lê Lợi tắt đã một tuần."
        wait_for(lambda: seen(server) == [True], DEADLINE, "the mail marked seen")
        send_waiting(ctx, intake)
        [receipt] = sink.about(ticket["code"])
        assert receipt.rcpt_tos == [CITIZEN] and receipt.mail_from == HOTLINE
        assert receipt.message["In-Reply-To"] == first["Message-ID"]
        assert f"Mã phiếu: {ticket['code']}" in receipt.message.get_content()

        again = mail("Bổ sung: đèn số 14 cũng tắt.\n\nVào ngày 1/12, 1022 đã viết:\n> Mã phiếu ...",
                     subject=f"Re: {receipt.message['Subject']}", In_Reply_To=receipt.message["Message-ID"],
                     References=f"{first['Message-ID']} {receipt.message['Message-ID']}")
        server.deliver(again.as_bytes())
        joined = wait_for(lambda: ticket_of(intake, again["Message-ID"]), DEADLINE, "the reply on the ticket")
        assert joined["code"] == ticket["code"] and ticket_count(intake) == 1
        assert [m["body"] for m in joined["messages"] if m["direction"] == "in"][-1] == "Bổ sung: đèn số 14 cũng tắt."

    intake.tickets.answer(ticket["code"], "Điện lực đã thay bóng đèn ngày 2/12.", actor="op-hoa")
    assert intake.answer_back(ticket["code"], actor="worker") is not None
    send_waiting(ctx, intake)
    answer = [r for r in sink.about(ticket["code"]) if r.message["Subject"].startswith("Trả lời")]
    assert len(answer) == 1 and answer[0].rcpt_tos == [CITIZEN]
    assert answer[0].message["In-Reply-To"] == first["Message-ID"]
    assert "Điện lực đã thay bóng đèn ngày 2/12." in answer[0].message.get_content()
    assert read_status(status_file(ctx.settings.paths.state_dir)) is not None
    assert check_mailbox(ctx.settings.mailbox, read_status(status_file(ctx.settings.paths.state_dir)),
                         time.time()).ok


@pytest.mark.parametrize("charset", ["windows-1258", "iso-8859-1", "utf-8"])
def test_a_mail_in_a_legacy_charset_is_read_as_written(ctx: Context, intake: Intake, server: Dovecot,
                                                       charset: str) -> None:
    text = {"windows-1258": "Nước sinh hoạt ở ấp Mỹ Phú bị đục, có mùi lạ.",
            "iso-8859-1": "Cà phê, bánh tét: giá cao.",      # what of Vietnamese Latin-1 has
            "utf-8": "Đường ngập nước ở ấp 3 \ufffd byte hỏng."}[charset]
    data = (cp1258(text) if charset == "windows-1258" else text.encode("latin-1") if charset == "iso-8859-1"
            else "Đường ngập nước ở ấp 3 ".encode() + b"\xff byte h\xe1\xbb\x8fng.")     # one byte broken
    raw = (f"From: {CITIZEN}\r\nTo: {HOTLINE}\r\nSubject: =?utf-8?b?UGjhuqNuIMOhbmg=?=\r\n"
           f"Message-ID: <{charset}@example.vn>\r\nMIME-Version: 1.0\r\n"
           f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n").encode() + data
    server.deliver(raw)
    with running(reader(ctx, intake)):
        ticket = wait_for(lambda: ticket_of(intake, f"<{charset}@example.vn>"), DEADLINE, "the mail's ticket")
    assert ticket["content"] == f"Phản ánh\n\n{text}"


def test_an_html_only_mail_is_its_text_without_the_script_and_an_unknown_charset_does_not_stop_it(
        ctx: Context, intake: Intake, server: Dovecot) -> None:
    html = ("<html><head><style>p{color:red}</style><title>Thư</title></head><body><p>Cống thoát nước ở "
            "<a href='https://maps.example/x'>đường Nguyễn Huệ</a> bị tắc.</p><script>fetch('/steal')</script>"
            "<div>Xin cảm ơn.</div></body></html>")
    raw = (f"From: {CITIZEN}\r\nSubject: Cống tắc\r\nMessage-ID: <html@example.vn>\r\nMIME-Version: 1.0\r\n"
           "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n").encode() + html.encode()
    odd = (f"From: {CITIZEN}\r\nSubject: =?x-unknown?q?abc?=\r\nMessage-ID: <odd@example.vn>\r\n"
           "Content-Type: text/plain; charset=x-no-such-charset\r\n\r\n").encode() + cp1258("Hỏi thủ tục cấp điện.")
    server.deliver(raw)
    server.deliver(odd)
    with running(reader(ctx, intake)):
        ticket = wait_for(lambda: ticket_of(intake, "<html@example.vn>"), DEADLINE, "the HTML mail's ticket")
        other = wait_for(lambda: ticket_of(intake, "<odd@example.vn>"), DEADLINE, "the odd charset's ticket")
    assert ticket["content"] == "Cống tắc\n\nCống thoát nước ở đường Nguyễn Huệ bị tắc.\nXin cảm ơn."
    assert "fetch" not in ticket["content"] and "color" not in ticket["content"]
    assert "Hỏi thủ tục cấp điện." in other["content"]


def test_a_photo_is_kept_and_a_file_the_hotline_does_not_take_is_named(ctx: Context, intake: Intake,
                                                                       server: Dovecot) -> None:
    photo = io.BytesIO()
    Image.new("RGB", (800, 600), (10, 120, 200)).save(photo, "JPEG")
    msg = mail("Ổ gà lớn giữa đường, ảnh kèm theo.")
    msg.add_attachment(photo.getvalue(), maintype="image", subtype="jpeg", filename="o-ga.jpg")
    msg.add_attachment(b"MZ\x90\x00", maintype="application", subtype="x-msdownload", filename="xem.exe")
    server.deliver(msg.as_bytes())
    with running(reader(ctx, intake)):
        ticket = wait_for(lambda: ticket_of(intake, msg["Message-ID"]), DEADLINE, "the mail's ticket")
    assert [(a["filename"], a["media_type"]) for a in ticket["attachments"]] == [("o-ga.jpg", "image/jpeg")]
    assert "(Tệp «xem.exe» không được nhận" in ticket["content"]


def test_the_same_mail_read_twice_is_one_ticket_and_the_hotlines_own_mail_and_bounces_are_not_answered(
        ctx: Context, intake: Intake, server: Dovecot, sink: SmtpSink) -> None:
    first = mail()
    server.deliver(first.as_bytes())
    server.deliver(mail("Tự động: tôi đang nghỉ phép.", Auto_Submitted="auto-replied").as_bytes())
    server.deliver(mail("Mail delivery failed", sender="Mail Delivery System <MAILER-DAEMON@mx.example.vn>")
                   .as_bytes())
    server.deliver(mail("Đã tiếp nhận", sender=HOTLINE).as_bytes())
    with running(reader(ctx, intake)):
        wait_for(lambda: all(seen(server)), DEADLINE, "every mail looked at")
        assert ticket_count(intake) == 1
        server.mark_unseen()
        wait_for(lambda: all(seen(server)), DEADLINE, "every mail looked at again")
    assert ticket_count(intake) == 1
    send_waiting(ctx, intake)
    assert len(sink.messages) == 1       # one receipt, to the citizen


def test_a_refused_mail_is_flagged_and_left_in_the_mailbox(ctx: Context, intake: Intake, server: Dovecot) -> None:
    server.deliver(mail(" ", subject="").as_bytes())
    with running(reader(ctx, intake)):
        wait_for(lambda: [{b"\\Seen", b"\\Flagged"} <= f for f in server.flags()] == [True], DEADLINE,
                 "the mail flagged")
    assert ticket_count(intake) == 0


def test_dovecot_gone_is_tried_again_and_its_mail_read_when_it_is_back(
        ctx: Context, intake: Intake, server: Dovecot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "hotline.intake.mailbox")
    with running(reader(ctx, intake)):
        wait_for(lambda: "mailbox open" in caplog.text, DEADLINE, "the mailbox open")
        server.stop()
        wait_for(lambda: caplog.text.count("mailbox not read") >= 2, DEADLINE, "two failed tries")
        status = read_status(status_file(ctx.settings.paths.state_dir))
        assert status is not None and not status["ok"] and status["failing_since"] is not None
        server.start()
        later = mail("Cây đổ chắn ngang đường sau bão.")
        server.deliver(later.as_bytes())
        wait_for(lambda: ticket_of(intake, later["Message-ID"]), DEADLINE, "the mail read once Dovecot is back")


def test_a_wrong_password_is_logged_and_tried_again_and_loses_nothing(
        ctx: Context, intake: Intake, server: Dovecot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "hotline.intake.mailbox")
    kept = mail()
    server.deliver(kept.as_bytes())
    ctx.secrets.set_channel_secret("mailbox_password", "not-the-password")
    with running(reader(ctx, intake)):
        wait_for(lambda: caplog.text.count("mailbox not read (LoginError") >= 2, DEADLINE, "two refused logins")
    assert ticket_count(intake) == 0 and seen(server) == [False]
    ctx.secrets.set_channel_secret("mailbox_password", server.password)
    with running(reader(ctx, intake)):
        wait_for(lambda: ticket_of(intake, kept["Message-ID"]), DEADLINE, "the mail read with the right password")
