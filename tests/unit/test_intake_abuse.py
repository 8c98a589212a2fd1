"""How the written doors hold when someone tries to misuse them (the security review of issue 15): a small file
that decodes to a huge image, a mail of a hundred thousand quoted lines, a stranger's mail naming another
citizen's thread, an auto-responder answering the hotline's receipt, a forged sender flooding a victim with
receipts, files of a refused request left on disk. On SQLite and PostgreSQL (``database_url``)."""
from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from PIL import Image

from hotline.adapters.db import open_database
from hotline.context import Context, load_context
from hotline.intake import FileRefused, Intake, Request, Upload
from hotline.intake.emails import trim_quotes
from hotline.intake.outbox import message_id


@pytest.fixture
def intake(tmp_path: Path, database_url: str) -> Intake:
    ctx: Context = load_context(env={"HOTLINE_STATE_DIR": str(tmp_path / "state"),
                                     "HOTLINE_DATABASE_URL": database_url})
    return ctx.intake(open_database(database_url))


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("1", (width, height)).save(out, "PNG", optimize=True)
    return out.getvalue()


def test_a_small_file_that_decodes_to_a_huge_image_is_refused_before_it_is_decoded(intake: Intake) -> None:
    bomb = png(6000, 6000)               # 36 Mpx, a few kB
    assert len(bomb) < 100_000
    started = time.monotonic()
    with pytest.raises(FileRefused):
        intake.receive(Request(channel="web", content="Ảnh kèm theo.", files=(Upload("a.png", "image/png", bomb),)))
    assert time.monotonic() - started < 2 and intake.tickets.list() == []


def test_the_web_form_takes_photos_only(intake: Intake) -> None:
    pdf = Upload("don.pdf", "application/pdf", b"%PDF-1.4 /JavaScript (app.alert(1))")
    with pytest.raises(FileRefused) as refused:
        intake.receive(Request(channel="web", content="Đơn kèm theo.", files=(pdf,)))
    assert "không phải là ảnh" in (refused.value.vi or "")
    got = intake.receive(Request(channel="email", content="Đơn kèm theo.", email="an@example.vn",
                                 reply_to="an@example.vn", external_id="<p1@example.vn>", files=(pdf,)))
    assert [a["media_type"] for a in intake.tickets.get(got.code)["attachments"]] == ["application/pdf"]


def test_a_refused_request_leaves_no_file_on_disk(intake: Intake) -> None:
    good = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(good, "JPEG")
    with pytest.raises(FileRefused):
        intake.receive(Request(channel="web", content="Hai ảnh.", files=(
            Upload("tot.jpg", "image/jpeg", good.getvalue()), Upload("hong.jpg", "image/jpeg", b"not a photo"))))
    assert not [p for p in intake.attachments.rglob("*") if p.is_file()]


def test_a_mail_of_a_hundred_thousand_quoted_lines_is_trimmed_at_once() -> None:
    text = "Cảm ơn, tôi bổ sung thông tin.\n" + "\n".join(
        f"Vào ngày {i}, Tổng đài 1022 đã viết:\n> dòng trích dẫn {i}" for i in range(50_000))
    started = time.monotonic()
    assert trim_quotes(text) == "Cảm ơn, tôi bổ sung thông tin."
    assert time.monotonic() - started < 1
    assert trim_quotes("Trả lời ở trên\n> trích\nVẫn viết tiếp\n\nOn Mon, An wrote:\n> cũ") == \
        "Trả lời ở trên\nVẫn viết tiếp"


def test_a_stranger_naming_a_citizen_s_thread_makes_a_request_of_their_own(intake: Intake) -> None:
    mine = intake.receive(Request(channel="email", content="Đường ngập.", email="an@example.vn",
                                  reply_to="an@example.vn", external_id="<a1@example.vn>"))
    other = intake.receive(Request(channel="email", content="Rút lại phản ánh.", email="evil@attacker.test",
                                   reply_to="evil@attacker.test", external_id="<e1@attacker.test>",
                                   thread=("<a1@example.vn>",)))
    assert other.new and other.code != mine.code
    assert [m["body"] for m in intake.tickets.get(mine.code)["messages"] if m["direction"] == "in"] == ["Đường ngập."]


def test_a_reply_to_the_hotline_s_own_mail_joins_its_ticket_and_is_not_answered_again(intake: Intake) -> None:
    first = intake.receive(Request(channel="email", content="Đèn tắt.", email="an@example.vn",
                                   reply_to="an@example.vn", external_id="<a1@example.vn>"))
    ours = message_id(first.code, "tiepnhan@1022.gov.vn")        # what the receipt was sent as
    auto = intake.receive(Request(channel="email", content="Tôi đang đi vắng.", email="an@example.vn",
                                  reply_to="an@example.vn", external_id="<auto1@example.vn>", thread=(ours,)))
    assert auto.joined and auto.code == first.code
    outs = [m for m in intake.tickets.get(first.code)["messages"] if m["direction"] == "out"]
    assert len(outs) == 1                                       # the first receipt only: no loop


def test_a_forged_sender_gets_one_receipt_a_day_whatever_is_sent_in_their_name(intake: Intake) -> None:
    for i in range(5):
        intake.receive(Request(channel="email", content=f"Thư giả mạo {i}.", email="victim@example.vn",
                               reply_to="victim@example.vn", external_id=f"<f{i}@attacker.test>"))
    with intake.sessions() as s:
        from sqlalchemy import func, select

        from hotline.adapters.db.models import IntakeMessage
        receipts = s.scalar(select(func.count()).select_from(IntakeMessage).where(
            IntakeMessage.direction == "out", IntakeMessage.address == "victim@example.vn"))
    assert receipts == 1 and len(intake.tickets.list()) == 5     # every request kept, one mail sent


def test_a_file_no_ticket_holds_is_deleted_by_the_retention_sweep_a_day_later(intake: Intake) -> None:
    """A request that died between its files and its ticket leaves a file no row holds: gone a day later."""
    import os

    from hotline.services.retention import purge_orphan_attachments
    photo = io.BytesIO()
    Image.new("RGB", (32, 32), (9, 9, 9)).save(photo, "JPEG")
    kept = intake.receive(Request(channel="web", content="Ảnh.", files=(Upload("a.jpg", "image/jpeg",
                                                                               photo.getvalue()),)))
    orphan = intake.attachments / "ab" / ("ab" * 32 + ".jpg")
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"left by a crash")
    now = intake.tickets.now()
    assert purge_orphan_attachments(intake.sessions, intake.attachments, now) == []      # too fresh: may be in use
    os.utime(orphan, (now.timestamp() - 2 * 86400,) * 2)
    assert purge_orphan_attachments(intake.sessions, intake.attachments, now) == [orphan]
    with intake.sessions() as s:
        from sqlalchemy import select

        from hotline.adapters.db.models import Attachment
        [held] = s.scalars(select(Attachment.path)).all()
    assert (intake.attachments / held).exists() and intake.tickets.get(kept.code)["attachments"]
