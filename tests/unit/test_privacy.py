"""A citizen's data rights (issue 13, item 8), through ``hotline privacy`` on SQLite and PostgreSQL, real
files and the real report queries: a caller with two calls (one answered, one a message) and their tickets
is exported into one archive that holds them all; erased (refused while a ticket is open, a dry run changes
nothing), after which no file and no row of any table holds the number or the words, the reports' figures
are unchanged, the other caller's data untouched, and the erasure is in the AccessLog with who and why."""
from __future__ import annotations

import csv
import io
import json
import os
import pwd
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect, select, text

from hotline.adapters.db.models import AccessLog, Attachment, Ticket, Voicemail
from hotline.adapters.db.repository import CallRepository
from hotline.cli.audit import who
from hotline.cli.main import main
from hotline.domain.clock import fake_clock_env
from hotline.services.privacy import ERASED, number_forms
from hotline.services.report_queries import ticket_figures_sql
from hotline.worker.runtime import Runtime
from tests.support.audio import write_wav

from .test_worker_paths import NOW, make_runtime, recorded_call, voicemail_of

CITIZEN = "0912345678"           # recorded_call's caller
OTHER = "0987654321"
WORDS = ("Nguyễn Huệ", "sổ đỏ", "Trần Văn Bảy")     # the citizen's words: in the ticket, the transcript, the answer
TRANSCRIPT = "Tôi là Trần Văn Bảy, muốn hỏi thủ tục cấp sổ đỏ"


def cli(tmp: Path, *args: str, code: int = 0) -> Any:
    env = {"HOTLINE_SETTINGS": str(tmp / "province.toml"), **fake_clock_env(NOW)}
    env.update({k: "" for k in os.environ if k.startswith("HOTLINE_") and k not in env})
    result = CliRunner().invoke(main, list(args), env=env)
    assert result.exit_code == code, result.output
    return json.loads(result.stdout) if "--json" in args and code == 0 else result


def citizen(rt: Runtime, tmp: Path) -> dict[str, Any]:
    """Two calls of the citizen's (answered with an operator's ticket; a night message, transcribed, its
    ticket), and one of another caller's."""
    files = recorded_call(rt, "hotline1-500", NOW - timedelta(days=3))
    files |= {f"message_{k}": v for k, v in recorded_call(rt, "hotline1-501", NOW - timedelta(days=2, hours=12),
                                                          voicemail=write_wav(tmp / "m.wav", 6.0)
                                                          .read_bytes()).items()}
    with rt.sessions.begin() as s:
        vm = s.get(Voicemail, voicemail_of(rt, "hotline1-501").id)
        assert vm is not None
        vm.status, vm.transcript, vm.transcript_raw = "transcribed", TRANSCRIPT, TRANSCRIPT.lower()
        vm.words = [{"word": w, "start": 0.0, "end": 0.5, "conf": 1.0} for w in TRANSCRIPT.split()]
    answered = rt.tickets.create(channel="phone", caller=CITIZEN, content="Đèn đường hẻm 12 Nguyễn Huệ không sáng",
                                 category="infrastructure", actor="op-lan", call_id="hotline1-500")
    message = rt.tickets.for_voicemail(voicemail_of(rt, "hotline1-501").id)
    assert message is not None and TRANSCRIPT in message["content"]
    repo = CallRepository(rt.sessions)
    at = NOW - timedelta(days=1)
    repo.start_call("hotline1-502", channel_id="hotline1-502", caller=OTHER, dialled="1022", started_at=at,
                    answered_at=at)
    repo.end_call("hotline1-502", ended_at=at + timedelta(seconds=30), disposition="answered")
    other = rt.tickets.create(channel="phone", caller=OTHER, content="Hỏi thủ tục cấp đổi bằng lái",
                              actor="op-lan", call_id="hotline1-502")
    return {"files": files, "tickets": [answered["code"], message["code"]], "other": other["code"]}


def figures(tmp: Path, rt: Runtime) -> dict[str, Any]:
    """What the reports say about the week: the call-centre figures (hotline report) and the tickets'."""
    first, last = (NOW - timedelta(days=6)).date(), NOW.date()
    report = cli(tmp, "report", "--from", first.isoformat(), "--to", last.isoformat(), "--json")
    report.pop("generated_at")
    return {"calls": report, "tickets": ticket_figures_sql(rt.sessions, first, last, rt.ctx.settings.tz, NOW)}


def every_row(rt: Runtime) -> str:
    """Every row of every table (SQLite: the full-text index's own tables too), as text."""
    out = []
    with rt.sessions() as s:
        bind = s.get_bind()
        if bind.dialect.name == "sqlite":
            tables = [r[0] for r in s.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))]
        else:
            tables = inspect(bind).get_table_names()
        for table in tables:
            for row in s.execute(text(f'SELECT * FROM "{table}"')):
                out.append(" ".join(v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in row))
    return "\n".join(out)


def every_file(root: Path, leave: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and leave not in p.parents}


def test_a_citizens_data_exported_then_erased(tmp_path: Path, database_url: str) -> None:
    rt = make_runtime(tmp_path, "redis://127.0.0.1:1/0", database_url=database_url)
    made = citizen(rt, tmp_path)
    answered, message = made["tickets"]
    rt.tickets.answer(answered, "Ông Trần Văn Bảy: đèn đã được sửa", actor="xd")
    with rt.sessions.begin() as s:           # a row naming the number, as written before the AccessLog masked them
        s.add(AccessLog(at=NOW, username="lan", action="caller_history", resource=f"history:{CITIZEN}",
                        remote_addr="10.0.0.5", detail={"number": f"+84{CITIZEN[1:]}"}))
    out = tmp_path / "handed_to_the_citizen"
    out.mkdir()

    # -- export: one archive with everything, its index in Vietnamese, logged ----------------------------
    got = cli(tmp_path, "privacy", "export", "--caller", "+84912345678", "--out", str(out / "a.zip"),
              "--by", "admin-an", "--json")
    assert got["calls"] == ["hotline1-500", "hotline1-501"] and sorted(got["tickets"]) == sorted(made["tickets"])
    assert (out / "a.zip").stat().st_mode & 0o777 == 0o600        # the citizen's data: its owner's alone
    with zipfile.ZipFile(out / "a.zip") as z:
        names = set(z.namelist())
        assert names == {"muc_luc.json", "muc_luc.csv", "ghi_am/hotline1-500.wav", "ghi_am/hotline1-501.wav",
                         "loi_nhan/hotline1-501.voicemail.wav"}
        assert z.read("ghi_am/hotline1-500.wav") == made["files"]["recording"].read_bytes()
        assert z.read("loi_nhan/hotline1-501.voicemail.wav") == made["files"]["message_voicemail"].read_bytes()
        index = json.loads(z.read("muc_luc.json"))
        table = list(csv.reader(io.StringIO(z.read("muc_luc.csv").decode("utf-8-sig"))))
    assert [c["Mã cuộc gọi"] for c in index["Cuộc gọi"]] == ["hotline1-500", "hotline1-501"]
    assert {c["Số gọi"] for c in index["Cuộc gọi"]} == {CITIZEN}
    [msg] = index["Cuộc gọi"][1]["Lời nhắn"]
    assert msg["Bản ghi lời nhắn"] == TRANSCRIPT and msg["Tệp"] == "loi_nhan/hotline1-501.voicemail.wav"
    tickets = {t["Mã phiếu"]: t for t in index["Phiếu phản ánh, kiến nghị"]}
    assert set(tickets) == set(made["tickets"]) and made["other"] not in tickets
    assert "Nguyễn Huệ" in tickets[answered]["Nội dung"] and tickets[answered]["Trạng thái"] == "Đã có kết quả trả lời"
    assert table[0] == ["Loại", "Mã", "Thời điểm", "Tệp", "Nội dung"]
    assert [r[0] for r in table[1:]] == ["Cuộc gọi", "Cuộc gọi", "Lời nhắn", "Phiếu", "Phiếu"]

    # -- erase: refused while a ticket is open; a dry run changes nothing ---------------------------------
    refused = cli(tmp_path, "privacy", "erase", "--caller", CITIZEN, "--reason", "Đơn yêu cầu số 12", code=2)
    assert message in refused.output and "--force" in refused.output
    dry = cli(tmp_path, "privacy", "erase", "--caller", CITIZEN, "--reason", "Đơn yêu cầu số 12", "--dry-run",
              "--force", "--json")
    assert dry["dry_run"] and dry["files"] == 3 and dry["open_tickets"] == [message]
    assert all(p.exists() for p in made["files"].values()) and CITIZEN in every_row(rt)
    rt.tickets.close(answered, actor="op-lan")
    rt.tickets.close(message, actor="op-lan", status="out_of_scope", note="Trần Văn Bảy hỏi việc của tỉnh khác")
    before = figures(tmp_path, rt)

    erased = cli(tmp_path, "privacy", "erase", "--caller", CITIZEN, "--reason", "Đơn yêu cầu số 12/2027",
                 "--by", "admin-an", "--json")
    assert erased["open_tickets"] == [] and erased["files"] == 3

    # -- nothing of the citizen's is left, anywhere; the reports' figures are those of before -------------
    assert not any(p.exists() for p in made["files"].values())
    rows = every_row(rt)
    national = number_forms(CITIZEN)[0].lstrip("+")[-9:]
    assert national == "912345678" and national not in rows
    for words in WORDS:
        assert words not in rows and words.lower() not in rows.lower(), words
    for path, data in every_file(tmp_path, out).items():
        assert national.encode() not in data and "sổ đỏ".encode() not in data, path
    assert OTHER in rows and "bằng lái" in rows                      # another caller's data is not touched
    assert figures(tmp_path, rt) == before
    shown = rt.tickets.get(answered)
    assert shown is not None and shown["content"] == ERASED and shown["answer"] == ERASED and shown["caller"] == ""
    assert shown["status"] == "closed" and shown["answered_at"] and shown["category"] == "infrastructure"

    # -- both requests in the AccessLog: who, why, which rows (never the number) --------------------------
    with rt.sessions() as s:
        log = [(a.username, a.action, a.detail) for a in s.scalars(select(AccessLog).order_by(AccessLog.id))]
    # the account that ran the command reads; who served the citizen (--by) is beside it, never instead
    me = who()
    assert [(who_, what) for who_, what, _ in log] == [("lan", "caller_history"), (me, "export"), (me, "erase")]
    assert me.startswith("cli:") and log[1][2]["served_by"] == log[2][2]["served_by"] == "admin-an"
    assert log[0][2] == {"number": "*********678"}          # the earlier read is still there, masked
    detail = log[2][2]
    assert detail["reason"] == "Đơn yêu cầu số 12/2027" and detail["calls"] == ["hotline1-500", "hotline1-501"]
    assert sorted(detail["tickets"]) == sorted(made["tickets"]) and detail["forced"] is False

    # -- asked again: nothing is left to give or erase ----------------------------------------------------
    again = cli(tmp_path, "privacy", "export", "--caller", CITIZEN, "--out", str(out / "b.zip"), "--json")
    assert again["calls"] == [] and again["tickets"] == [] and again["files"] == 0


def test_numbers_are_found_in_every_form_they_are_stored() -> None:
    assert set(number_forms("+84 912 345 678")) >= {"0912345678", "84912345678", "+84912345678"}
    assert set(number_forms("0912345678")) >= {"0912345678", "84912345678", "+84912345678"}
    assert "02773856123" in number_forms("+842773856123")


def test_the_account_in_the_access_log_is_the_login_s_not_what_the_environment_says(tmp_path: Path,
                                                                                    monkeypatch: pytest.MonkeyPatch
                                                                                    ) -> None:
    """Through sudo or su the kernel keeps the login's uid: SUDO_USER (any value root's shell sets) does not win."""
    from hotline.cli.audit import NO_LOGIN, account

    monkeypatch.setenv("SUDO_USER", "someone-else")
    loginuid = tmp_path / "loginuid"
    loginuid.write_text("0")
    assert account(loginuid) == "root"
    loginuid.write_text(str(NO_LOGIN))      # no login session (a service, a container's shell): sudo's word
    assert account(loginuid) == "someone-else"
    monkeypatch.delenv("SUDO_USER")
    assert account(loginuid) == account(tmp_path / "missing") == pwd.getpwuid(os.geteuid()).pw_name


def test_a_citizen_who_wrote_is_exported_and_erased_by_their_e_mail_address(tmp_path: Path,
                                                                               database_url: str) -> None:
    """Law 91 for the written channels: the contact, the place, the thread and the photos a citizen sent are in
    their export and gone after their erasure, found by the e-mail address they wrote from; a photo another
    citizen also sent stays for them."""
    from PIL import Image

    from hotline.intake import Request, Upload
    rt = make_runtime(tmp_path, "redis://127.0.0.1:1/0", database_url=database_url)
    door = rt.ctx.intake(rt.sessions)
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (200, 30, 30)).save(out, "JPEG")
    photo = Upload("o-ga.jpg", "image/jpeg", out.getvalue())
    mine = door.receive(Request(channel="email", content="Ổ gà sâu trước nhà số 7 Lý Thường Kiệt.",
                                email="Mai.Pham@Example.vn", reply_to="Mai.Pham@Example.vn", name="Phạm Thị Mai",
                                address="7 Lý Thường Kiệt", external_id="<m1@example.vn>", files=(photo,)))
    theirs = door.receive(Request(channel="web", content="Ổ gà ở ngã tư.", files=(photo,)))     # the same photo
    rt.tickets.close(mine.code, actor="op-lan", status="out_of_scope")
    with rt.sessions() as s:
        stored = door.attachments / s.scalars(select(Attachment.path)).first()
    got = cli(tmp_path, "privacy", "export", "--caller", "mai.pham@example.vn", "--out", str(tmp_path / "mai.zip"),
              "--json")
    assert got["tickets"] == [mine.code] and got["files"] == 1
    with zipfile.ZipFile(tmp_path / "mai.zip") as z:
        index = json.loads(z.read("muc_luc.json"))
        [ticket] = index["Phiếu phản ánh, kiến nghị"]
        assert ticket["Họ tên"] == "Phạm Thị Mai" and ticket["Địa chỉ"] == "7 Lý Thường Kiệt"
        assert [m["Chiều"] for m in ticket["Tin nhắn"]] == ["Người dân gửi", "Tổng đài gửi"]     # and the receipt
        [name] = ticket["Tệp đính kèm"]
        assert name.endswith("-o-ga.jpg") and z.read(name) == stored.read_bytes()
    cli(tmp_path, "privacy", "erase", "--caller", "mai.pham@example.vn", "--reason", "Đơn số 3", "--json")
    rows = every_row(rt)
    for words in ("Phạm Thị Mai", "mai.pham", "Lý Thường Kiệt", "Ổ gà sâu"):
        assert words.lower() not in rows.lower(), words
    assert "Ổ gà ở ngã tư" in rows                                       # another citizen's request stays
    kept = rt.tickets.get(theirs.code)
    assert kept is not None and len(kept["attachments"]) == 1           # ... with the photo they sent too
    assert stored.exists()
    erased = rt.tickets.get(mine.code)
    assert erased is not None and erased["attachments"] == [] and erased["contact_email"] is None
    only_mine = door.receive(Request(channel="email", content="Thêm ảnh.", email="mai.pham@example.vn",
                                     external_id="<m2@example.vn>",
                                     files=(Upload("khac.png", "image/png", _png()),)))
    with rt.sessions() as s:
        path = door.attachments / s.scalars(select(Attachment.path).join(Attachment.ticket).where(
            Ticket.code == only_mine.code)).one()
    cli(tmp_path, "privacy", "erase", "--caller", "mai.pham@example.vn", "--reason", "Đơn số 4", "--force")
    assert not path.exists() and only_mine.code                      # a photo no one else holds is deleted


def _png() -> bytes:
    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (0, 0, 255)).save(out, "PNG")
    return out.getvalue()


def test_an_erasure_takes_the_number_out_of_the_citizens_call_backs_and_ends_one_still_waiting(
        tmp_path: Path, database_url: str) -> None:
    """A call-back the citizen asked (key 2) still waiting, and one asked by another caller to the citizen's
    number: both lose the number, and the waiting one is ended, so the worker's sweep never calls them; another
    citizen's call-back is left as it is."""
    from hotline.services.callbacks import Callbacks
    rt = make_runtime(tmp_path, "redis://127.0.0.1:1/0", database_url=database_url)
    citizen(rt, tmp_path)
    callbacks = Callbacks(rt.sessions, rt.ctx.clock.now, attempts=3)
    own = callbacks.request("hotline1-500", CITIZEN, 2, "hotline1-500-cb")
    to_them = callbacks.request("hotline1-502", f"+84{CITIZEN[1:]}", 1, "hotline1-502-cb")
    others = callbacks.request("hotline1-502", OTHER, 3, "hotline1-502-cb2")
    assert callbacks.taken(own, "op-lan", "hotline1-500-cb")
    assert callbacks.ended(own, "BUSY", "out-1") == "waiting"        # a try: busy, to be tried again
    # The export lists them (Law 91/2025: everything kept about the citizen), and not the other citizen's.
    got = cli(tmp_path, "privacy", "export", "--caller", CITIZEN, "--out", str(tmp_path / "a.zip"), "--json")
    assert sorted(got["callbacks"]) == sorted([own, to_them])
    with zipfile.ZipFile(tmp_path / "a.zip") as z:
        listed = json.loads(z.read("muc_luc.json"))["Yêu cầu gọi lại"]
        table = list(csv.reader(io.StringIO(z.read("muc_luc.csv").decode("utf-8-sig"))))
    assert [(c["Từ cuộc gọi"], c["Số xin gọi lại"]) for c in listed] == [
        ("hotline1-500", CITIZEN), ("hotline1-502", f"+84{CITIZEN[1:]}")]
    assert [t["Kết quả"] for t in listed[0]["Các lần gọi lại"]] == ["máy bận"]
    assert listed[0]["Trạng thái"] == "Đang giữ lượt chờ gọi lại"
    assert OTHER not in json.dumps(listed) and [r[0] for r in table].count("Yêu cầu gọi lại") == 2
    cli(tmp_path, "privacy", "erase", "--caller", CITIZEN, "--reason", "Đơn yêu cầu số 13", "--force",
        "--by", "admin-an", "--json")
    for callback_id in (own, to_them):
        row = callbacks.get(callback_id)
        assert (row["number"], row["status"], row["outcome"]) == ("", "failed", "erased"), row
    row = callbacks.get(others)
    assert (row["number"], row["status"]) == (OTHER, "waiting")
    assert CITIZEN[1:] not in every_row(rt)
