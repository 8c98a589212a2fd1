"""Repeat callers, probable duplicates, merging and hotspots (hotline.domain.tickets.nearby, hotline.services.nearby):
a new ticket near an open one is flagged with a link to it, a merge keeps both contents and the citizen hears the
answer once, and clusters of one category at one place are listed. On SQLite and PostgreSQL (``database_url``),
with the shipped settings ([tickets] duplicate_days 14, hotspot_min 3) and the real intake.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from hotline.adapters.db import open_database
from hotline.adapters.db.models import IntakeMessage
from hotline.context import Context, load_context
from hotline.domain.tickets.nearby import Place, phone_forms, phone_key, place_names, place_of, same_place
from hotline.intake import Intake, Request
from hotline.services.tickets import Citizen, TicketError, TicketService

POTHOLE = "Đường Nguyễn Huệ trước nhà số 12 có ổ gà rất lớn, xe máy té ngã nhiều lần"
POTHOLE_AGAIN = "Ổ gà lớn trên đường Nguyễn Huệ gần nhà số 12, rất nguy hiểm cho xe máy"
STREET = "Số 12 đường Nguyễn Huệ, phường 1, thành phố Cao Lãnh"


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Context:
    return load_context(env={"HOTLINE_STATE_DIR": str(tmp_path / "state"), "HOTLINE_DATABASE_URL": database_url})


@pytest.fixture
def intake(ctx: Context) -> Intake:
    return ctx.intake(open_database(ctx.settings.database.url))


@pytest.fixture
def tickets(intake: Intake) -> TicketService:
    return intake.tickets


def days_ago(n: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=n)


# -- the pure rules ----------------------------------------------------------------

def test_a_number_is_one_caller_whatever_way_it_is_written() -> None:
    assert phone_key("+84 912 345 678") == phone_key("84912345678") == phone_key("0912345678") == "0912345678"
    assert "0912345678" in phone_forms("+84912345678") and "84912345678" in phone_forms("0912 345 678")
    assert phone_forms("") == phone_forms("anonymous") == phone_forms("1022") == []


def test_a_place_is_an_address_a_map_point_or_a_commune_named_in_the_text() -> None:
    near = Place("", "", 10.4600, 105.6300)
    assert same_place(near, Place("", "", 10.4605, 105.6304))            # about 70 m
    assert not same_place(near, Place("", "", 10.4800, 105.6300))        # about 2 km
    short = place_of("Số 12 Nguyễn Huệ, phường 1", None, None)
    assert same_place(short, place_of("số 12 nguyen hue phuong 1, TP Cao Lãnh", None, None))
    assert not same_place(short, place_of("Số 40 Lê Lợi, phường 2", None, None))
    names = place_names(["Huyện Lai Vung", "Thành phố Cao Lãnh", "Huyện Cao Lãnh"])
    said = place_of(None, None, None, "Cầu ở xã Tân Thành huyện Lai Vung bị sụt lún", names)
    assert said.label == "Huyện Lai Vung" and said.known
    assert not place_of(None, None, None, "Cầu bị sụt lún", names).known


# -- flagging --------------------------------------------------------------------------

def test_the_same_caller_s_new_ticket_is_flagged_with_a_link_to_the_open_one(tickets: TicketService) -> None:
    first = tickets.create(channel="phone", caller="0912345678", content="Hỏi thủ tục cấp giấy phép xây dựng nhà ở")
    second = tickets.create(channel="phone", caller="+84912345678", content="Hỏi tiếp về giấy phép xây dựng")
    assert first["duplicate_of"] is None
    assert (second["duplicate_of"], second["duplicate_reason"]) == (first["code"], "caller")
    shown = tickets.get(second["code"])
    assert shown is not None and shown["events"][-1]["action"] == "duplicate_flagged"
    assert shown["events"][-1]["detail"]["of"] == first["code"]
    assert [t["code"] for t in tickets.related(first["code"])["flagged"]] == [second["code"]]
    assert [t["code"] for t in tickets.open_of_caller("84 912 345 678")] == [second["code"], first["code"]]
    # the same e-mail address is the same citizen too
    a = tickets.create(channel="web", content="Xin hỏi lịch tiếp công dân", citizen=Citizen(email="An@Example.vn"))
    b = tickets.create(channel="email", content="Cho hỏi thêm", citizen=Citizen(email="an@example.vn"))
    assert (b["duplicate_of"], b["duplicate_reason"]) == (a["code"], "caller")


def test_a_like_text_about_the_same_place_is_flagged_and_another_place_is_not(tickets: TicketService) -> None:
    first = tickets.create(channel="web", caller="0911000111", content=POTHOLE, category="infrastructure",
                           citizen=Citizen(address=STREET))
    alike = tickets.create(channel="web", caller="0922000222", content=POTHOLE_AGAIN, category="infrastructure",
                           citizen=Citizen(address="số 12 Nguyễn Huệ, Phường 1"))
    assert (alike["duplicate_of"], alike["duplicate_reason"]) == (first["code"], "text_place")
    assert alike["duplicate_score"] >= 0.45
    elsewhere = tickets.create(channel="web", caller="0933000333", content=POTHOLE_AGAIN, category="infrastructure",
                               citizen=Citizen(address="Số 40 Lê Lợi, phường 2, thành phố Sa Đéc"))
    assert elsewhere["duplicate_of"] is None
    on_map = tickets.create(channel="web", caller="0944000444", content=POTHOLE, citizen=Citizen(
        latitude=10.4600, longitude=105.6300))
    near = tickets.create(channel="web", caller="0955000555", content=POTHOLE_AGAIN, citizen=Citizen(
        latitude=10.4605, longitude=105.6304))
    far = tickets.create(channel="web", caller="0966000666", content=POTHOLE_AGAIN, citizen=Citizen(
        latitude=10.4800, longitude=105.6300))
    assert near["duplicate_of"] == on_map["code"] and far["duplicate_of"] is None
    other_text = tickets.create(channel="web", caller="0977000777", citizen=Citizen(address=STREET),
                                content="Xin hỏi thủ tục đăng ký khai sinh cho con tại phường")
    assert other_text["duplicate_of"] is None


def test_an_open_ticket_older_than_duplicate_days_or_a_closed_one_is_no_match(ctx: Context,
                                                                               tickets: TicketService) -> None:
    assert ctx.settings.tickets.duplicate_days == 14
    old = tickets.create(channel="phone", caller="0912000111", content=POTHOLE, received_at=days_ago(15),
                         citizen=Citizen(address=STREET))
    new = tickets.create(channel="phone", caller="0912000111", content=POTHOLE_AGAIN, citizen=Citizen(address=STREET))
    assert tickets.get(old["code"])["status"] == "new" and new["duplicate_of"] is None      # type: ignore[index]
    recent = tickets.create(channel="phone", caller="0912000222", content=POTHOLE, received_at=days_ago(13))
    tickets.close(recent["code"], actor="op-lan", status="out_of_scope")
    again = tickets.create(channel="phone", caller="0912000222", content=POTHOLE)
    assert again["duplicate_of"] is None


def test_a_message_s_transcript_flags_its_ticket_when_it_comes(tickets: TicketService) -> None:
    first = tickets.create(channel="web", caller="0911000111", content=POTHOLE, citizen=Citizen(address=STREET))
    waiting = tickets.create(channel="voicemail", caller="", content="(Lời nhắn thoại đang chờ chuyển thành văn bản.)",
                             citizen=Citizen(address=STREET))
    assert waiting["duplicate_of"] is None
    tickets.record(waiting["id"], "worker", "transcribed", {}, content=POTHOLE_AGAIN)
    assert tickets.flag_duplicate(waiting["code"]) == {"of": first["code"], "reason": "text_place",
                                                      "score": pytest.approx(0.62, abs=0.1)}
    assert tickets.get(waiting["code"])["duplicate_of"] == first["code"]      # type: ignore[index]
    assert tickets.flag_duplicate(waiting["code"]) is None                     # flagged once


# -- merging ---------------------------------------------------------------------------

def test_a_merge_keeps_both_contents_and_the_citizen_hears_the_answer_once(intake: Intake,
                                                                          tickets: TicketService) -> None:
    kept = intake.receive(Request(channel="sms", content=POTHOLE, phone="0912345678", reply_to="0912345678",
                                  external_id="gw-1"))
    dup = intake.receive(Request(channel="sms", content=POTHOLE_AGAIN, phone="0912345678", reply_to="0912345678",
                                 external_id="gw-2"))
    assert tickets.get(dup.code)["duplicate_of"] == kept.code      # type: ignore[index]
    merged = tickets.merge(dup.code, kept.code, actor="sup-minh")
    assert (merged["status"], merged["merged_into"]) == ("duplicate", kept.code)
    shown = tickets.get(kept.code)
    assert shown is not None and shown["content"] == POTHOLE
    [line] = [e for e in shown["events"] if e["action"] == "merged"]
    assert line["actor"] == "sup-minh" and line["detail"]["from"] == dup.code
    assert line["detail"]["content"] == POTHOLE_AGAIN
    assert [e["action"] for e in line["detail"]["events"]] == ["created", "duplicate_flagged"]
    assert [t["code"] for t in tickets.related(kept.code)["merged"]] == [dup.code]
    with pytest.raises(TicketError):
        tickets.merge(dup.code, kept.code, actor="sup-minh")                  # a duplicate is closed
    tickets.assign(kept.code, "department:03", actor="op-lan")
    tickets.answer(kept.code, "Sở Xây dựng đã vá ổ gà ngày 8/12.", actor="sxd")
    assert intake.answer_back(kept.code, actor="worker") is not None
    assert intake.answer_back(kept.code, actor="worker") is None              # once per answer
    with intake.sessions() as s:
        answers = [(m.ticket.code, m.address) for m in s.scalars(select(IntakeMessage).where(
            IntakeMessage.direction == "out", IntakeMessage.external_id.like("answer:%")))]
    assert answers == [(kept.code, "0912345678")]                             # one answer, not two


def test_a_merge_brings_the_other_citizen_and_files_and_each_citizen_hears_once(intake: Intake,
                                                                               tickets: TicketService) -> None:
    kept = intake.receive(Request(channel="email", content=POTHOLE, email="an@example.vn", reply_to="an@example.vn",
                                  external_id="<k1@example.vn>", address=STREET, subject="Ổ gà"))
    dup = intake.receive(Request(channel="sms", content=POTHOLE_AGAIN, phone="0922000222", reply_to="0922000222",
                                 external_id="gw-9", address=STREET))
    assert tickets.get(dup.code)["duplicate_reason"] == "text_place"          # type: ignore[index]
    tickets.merge(dup.code, kept.code, actor="op-lan")
    tickets.assign(kept.code, "department:03", actor="op-lan")
    tickets.answer(kept.code, "Đã vá ổ gà.", actor="sxd")
    intake.answer_back(kept.code, actor="worker")
    intake.answer_back(kept.code, actor="worker")
    shown = tickets.get(kept.code)
    assert shown is not None
    sent = sorted((m["channel"], m["address"]) for m in shown["messages"]
                  if m["direction"] == "out" and m["body"].startswith(("Trả lời", "Phản ánh mã")))
    assert sent == [("email", "an@example.vn"), ("sms", "0922000222")]


def test_a_ticket_merged_into_one_merged_again_hears_the_last_one_s_answer(intake: Intake,
                                                                          tickets: TicketService) -> None:
    """A merged into B, then B merged into C: A's citizen hears C's answer (the merge follows the chain)."""
    a = intake.receive(Request(channel="sms", content=POTHOLE, phone="0912000111", reply_to="0912000111",
                               external_id="gw-a"))
    b = intake.receive(Request(channel="sms", content=POTHOLE_AGAIN, phone="0922000222", reply_to="0922000222",
                               external_id="gw-b"))
    c = intake.receive(Request(channel="sms", content=POTHOLE, phone="0933000333", reply_to="0933000333",
                               external_id="gw-c"))
    tickets.merge(a.code, b.code, actor="op-lan")
    tickets.merge(b.code, c.code, actor="op-lan")
    assert tickets.get(a.code)["merged_into"] == c.code      # type: ignore[index]
    tickets.assign(c.code, "department:03", actor="op-lan")
    tickets.answer(c.code, "Đã vá ổ gà.", actor="sxd")
    intake.answer_back(c.code, actor="worker")
    with intake.sessions() as s:
        told = sorted(m.address for m in s.scalars(select(IntakeMessage).where(
            IntakeMessage.direction == "out", IntakeMessage.external_id.like("answer:%"))))
    assert told == ["0912000111", "0922000222", "0933000333"]


def test_merging_into_itself_or_a_closed_ticket_is_refused_in_vietnamese(tickets: TicketService) -> None:
    a = tickets.create(channel="phone", caller="0912000111", content="Một")
    b = tickets.create(channel="phone", caller="0912000999", content="Hai")
    with pytest.raises(TicketError) as itself:
        tickets.merge(a["code"], a["code"], actor="op-lan")
    assert "chính nó" in str(itself.value.vi)
    tickets.close(b["code"], actor="op-lan", status="out_of_scope")
    with pytest.raises(TicketError) as closed:
        tickets.merge(a["code"], b["code"], actor="op-lan")
    assert "chỉ gộp vào phiếu đang xử lý" in str(closed.value.vi)


# -- hotspots --------------------------------------------------------------------------

def test_three_reports_of_one_category_at_one_place_in_seven_days_are_a_hotspot(ctx: Context,
                                                                                 tickets: TicketService) -> None:
    assert ctx.settings.tickets.hotspot_min == 3
    for i, (days, addr) in enumerate([(1, STREET), (2, "số 12 Nguyễn Huệ, phường 1"), (6, STREET), (9, STREET)]):
        tickets.create(channel="web", caller=f"09{i}0000111", content=f"Ổ gà số {i}", category="infrastructure",
                       received_at=days_ago(days), citizen=Citizen(address=addr))
    tickets.create(channel="web", caller="0988000111", content="Hỏi giấy phép", category="procedures",
                   citizen=Citizen(address=STREET))
    for i in range(2):      # two only: no hotspot
        tickets.create(channel="web", caller=f"097{i}000111", content="Rác", category="public_services",
                       citizen=Citizen(address="Chợ Sa Đéc"))
    [spot] = tickets.hotspots()
    assert (spot.category, spot.count) == ("infrastructure", 3)              # the one 9 days old is out
    assert spot.place == "Đường Nguyễn Huệ, Phường 1, Thành phố Cao Lãnh"    # no house number: not the address
    tickets.create(channel="voicemail", content="Cầu ở huyện Lai Vung bị sụt lún", category="infrastructure")
    tickets.create(channel="phone", content="Cầu sụt lún tại Lai Vung nguy hiểm", category="infrastructure")
    tickets.create(channel="phone", content="Lai Vung có cây cầu bị lún", category="infrastructure")
    places = {h.place: h.count for h in tickets.hotspots()}
    assert places["Huyện Lai Vung"] == 3
    for i in range(3):      # an address that names no street nor commune: the place is not shown
        tickets.create(channel="web", caller=f"096{i}000111", content="Lấn chiếm", category="violations",
                       citizen=Citizen(address="Nhà ông Ba, ấp 3"))
    assert {h.category: h.place for h in tickets.hotspots()}["violations"] == "(không rõ địa điểm)"


def test_erasing_a_merged_duplicate_s_citizen_takes_what_the_merge_copied_too(ctx: Context, intake: Intake,
                                                                              tickets: TicketService) -> None:
    import io

    from PIL import Image

    from hotline.intake import Upload
    from hotline.services.privacy import ERASED, PrivacyService
    photo = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(photo, "JPEG")
    kept = intake.receive(Request(channel="web", content=POTHOLE, phone="0933000111", address=STREET))
    dup = intake.receive(Request(channel="web", content=POTHOLE_AGAIN, phone="0944000222", address=STREET,
                                 files=(Upload("o-ga.jpg", "image/jpeg", photo.getvalue()),)))
    tickets.merge(dup.code, kept.code, actor="op-lan")
    shown = tickets.get(kept.code)
    assert shown is not None and [a["filename"] for a in shown["attachments"]] == ["o-ga.jpg"]
    [path] = [tickets.attachment(kept.code, a["id"])["path"] for a in shown["attachments"]]      # type: ignore[index]
    root = ctx.settings.paths.attachments
    assert (root / path).is_file()
    PrivacyService(intake.sessions, Path(ctx.settings.paths.recordings_root), tickets.now, root).erase(
        "0944000222", actor="an", reason="Công dân yêu cầu xoá")
    shown = tickets.get(kept.code)
    assert shown is not None and shown["attachments"] == [] and shown["content"] == POTHOLE
    [line] = [e for e in shown["events"] if e["action"] == "merged"]
    assert line["detail"]["content"] == ERASED and line["detail"]["address"] == ERASED
    assert not (root / path).exists()
