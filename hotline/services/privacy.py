"""A citizen's data rights (Law 91/2025/QH15): everything kept about a number, given or erased.

``export`` puts in one zip archive the citizen's calls, recordings, messages, transcripts, call-backs and
tickets, with an index in Vietnamese (``muc_luc.json`` and ``muc_luc.csv``). ``erase`` deletes the
recordings' and messages' files and the transcripts, takes the number and the personal content out
of the call and ticket rows (hotline.services.retention.scrub_ticket) and keeps what the reports
count, so their figures do not change; it refuses while one of the citizen's tickets is open unless
forced. Both are AccessLog rows with who asked (and, for an erasure, why); neither row holds the
number itself: after an erasure nothing in the database does.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from hotline.adapters.db.models import AccessLog, Call, CallbackRequest, IntakeMessage, Ticket, TicketStatus
from hotline.domain.errors import HotlineError
from hotline.domain.labels import label
from hotline.domain.sheets import safe_row
from hotline.domain.vocabulary import AccessAction, CallbackStatus
from hotline.services.access_log import add_access, masked_text
from hotline.services.callbacks import NOT_REACHED
from hotline.services.retention import compact_search_index, delete_file, scrub_ticket, scrub_transcript

log = logging.getLogger("hotline.services.privacy")

#: what a ticket's content and answer become when the citizen had their data erased
ERASED = "[Nội dung đã xoá theo yêu cầu của công dân]"


class PrivacyError(HotlineError):
    """A request that cannot be served as asked (no number, an open ticket without --force)."""


def identity_forms(who: str) -> tuple[list[str], list[str]]:
    """(the number's forms, the e-mail addresses) a citizen is known by: a request may name either (a citizen
    who wrote by e-mail has no number)."""
    if "@" in who:
        return [], [who.strip().lower()]
    return number_forms(who), []


def number_forms(number: str) -> list[str]:
    """The ways a Vietnamese number may be stored: 0912345678, 84912345678, +84912345678."""
    digits = "".join(ch for ch in number if ch.isdigit())
    if len(digits) < 3:
        raise PrivacyError(f"{number!r} is not a phone number", vi=f"«{number}» không phải là số điện thoại.")
    national = digits[2:] if digits.startswith("84") and len(digits) > 9 else digits.lstrip("0")
    return sorted({number.strip(), digits, "0" + national, "84" + national, "+84" + national})


@dataclass
class Found:
    """The rows kept about one number."""

    calls: list[Call] = field(default_factory=list)
    tickets: list[Ticket] = field(default_factory=list)
    callbacks: list[CallbackRequest] = field(default_factory=list)   # asked from those calls, or to that number

    @property
    def open_tickets(self) -> list[str]:
        return [t.code for t in self.tickets if t.status in TicketStatus.OPEN]

    def files(self) -> list[tuple[str, str]]:
        """(kind, path under the recordings root) of every file still on disk by the rows."""
        out = [("recording", c.recording.path) for c in self.calls if c.recording and c.recording.deleted_at is None]
        return out + [("message", vm.path) for c in self.calls for vm in c.voicemails if vm.deleted_at is None]

    def attachments(self) -> list[tuple[str, str]]:
        """(name in the archive, path under the attachments folder) of every photo and file the citizen sent."""
        return [(f"tep_dinh_kem/{t.code}-{a.id}-{a.filename}", a.path) for t in self.tickets for a in t.attachments]

    def summary(self) -> dict[str, Any]:
        """What the AccessLog keeps of a request: ids and codes, never the number."""
        return {"calls": [c.call_id for c in self.calls], "tickets": [t.code for t in self.tickets],
                "callbacks": [cb.id for cb in self.callbacks], "files": len(self.files()) + len(self.attachments())}


class PrivacyService:
    """A citizen's export and erasure; ``root``: the recordings root, ``attachments``: the folder of the files
    citizens sent (settings.paths.attachments)."""

    def __init__(self, sessions: sessionmaker[Session], root: Path, now: Callable[[], datetime],
                 attachments: Path | None = None) -> None:
        self.sessions = sessions
        self.root = root
        self.now = now
        self.attachments = attachments

    def find(self, s: Session, who: str) -> Found:
        """The rows kept about a number or an e-mail address (a ticket names them as its caller, its contact's
        e-mail, or the address of a message of its thread)."""
        forms, emails = identity_forms(who)
        calls = list(s.scalars(select(Call).where(Call.caller.in_(forms)).order_by(Call.started_at)
                               .options(selectinload(Call.recording), selectinload(Call.voicemails))))
        ids = [c.id for c in calls]
        threads = select(IntakeMessage.ticket_id).where(func.lower(IntakeMessage.address).in_([*forms, *emails]))
        tickets = list(s.scalars(select(Ticket).where(or_(
            Ticket.caller.in_(forms), Ticket.call_id.in_(ids), func.lower(Ticket.contact_email).in_(emails),
            Ticket.id.in_(threads))).order_by(Ticket.received_at).options(
            selectinload(Ticket.events), selectinload(Ticket.messages), selectinload(Ticket.attachments))))
        whose = ([CallbackRequest.number.in_(forms)] if forms else []) + (
            [CallbackRequest.call_id.in_(ids)] if ids else [])
        callbacks = list(s.scalars(select(CallbackRequest).where(or_(*whose)).order_by(CallbackRequest.requested_at)
                                   .options(selectinload(CallbackRequest.call)))) if whose else []
        return Found(calls, tickets, callbacks)

    def export(self, number: str, archive: Path, *, actor: str, remote_addr: str | None = None,
               served_by: str | None = None) -> dict[str, Any]:
        """Write everything kept about ``number`` to the zip ``archive``; logged (``actor`` the row's reader,
        ``served_by`` who serves the citizen's request, in its detail). Returns the summary."""
        with self.sessions.begin() as s:
            found = self.find(s, number)
            index = _index(found)
            # Only its owner may read it (a citizen's recordings and words), whatever the umask.
            with os.fdopen(os.open(archive, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as raw, \
                    zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr("muc_luc.json", json.dumps(index, ensure_ascii=False, indent=2))
                z.writestr("muc_luc.csv", _csv(index))
                for kind, rel in found.files():
                    path = self.root / rel
                    if path.is_file():
                        z.write(path, f"{'ghi_am' if kind == 'recording' else 'loi_nhan'}/{Path(rel).name}")
                for name, rel in found.attachments():
                    if self.attachments is not None and (self.attachments / rel).is_file():
                        z.write(self.attachments / rel, name)
            summary = {**found.summary(), "archive": archive.name}
            add_access(s, at=self.now(), username=actor, action=AccessAction.EXPORT, resource="privacy:export",
                       remote_addr=remote_addr, **summary, **_served(served_by))
        log.info("privacy export by %s: %d calls, %d tickets, %d files", actor, len(summary["calls"]),
                 len(summary["tickets"]), summary["files"])
        return summary

    def erase(self, number: str, *, actor: str, reason: str, force: bool = False, dry_run: bool = False,
              remote_addr: str | None = None, served_by: str | None = None) -> dict[str, Any]:
        """Erase what is kept about ``number`` (see the module); ``dry_run``: say what would go, change nothing."""
        if not reason.strip():
            raise PrivacyError("an erasure needs its reason", vi="Cần ghi lý do xoá dữ liệu.")
        forms, _emails = identity_forms(number)
        with self.sessions.begin() as s:
            found = self.find(s, number)
            summary = {**found.summary(), "open_tickets": found.open_tickets, "forced": force, "reason": reason}
            if found.open_tickets and not force:
                raise PrivacyError(f"tickets still open: {', '.join(found.open_tickets)}; answer or close them, "
                                   "or erase with --force", vi="Công dân còn phiếu đang xử lý ("
                                   + ", ".join(found.open_tickets) + "): hãy trả lời hoặc đóng phiếu trước, "
                                   "hoặc xoá với --force.")
            if dry_run:
                return {**summary, "dry_run": True}
            now = self.now()
            for _kind, rel in found.files():
                delete_file(self.root, rel)
            for call in found.calls:
                call.caller = ""
                if call.recording is not None and call.recording.deleted_at is None:
                    call.recording.deleted_at = now
                for vm in call.voicemails:
                    vm.deleted_at = vm.deleted_at or now
                    scrub_transcript(vm)
            for ticket in found.tickets:
                scrub_ticket(ticket, ERASED, self.attachments)
            # the call-backs asked from those calls or to that number: the number goes, and one still to be made
            # is ended (the worker's sweep never calls an erased citizen)
            for callback in found.callbacks:
                callback.number = ""
                if callback.status in (CallbackStatus.WAITING, CallbackStatus.CALLING):
                    callback.status, callback.outcome, callback.ended_at = CallbackStatus.FAILED, "erased", now
            if forms:
                _mask_in_access_log(s, forms)
            compact_search_index(s)
            add_access(s, at=now, username=actor, action=AccessAction.ERASE, resource="privacy:erase",
                       remote_addr=remote_addr, **summary, **_served(served_by))
        self._rewrite_sqlite_file()
        log.info("privacy erasure by %s (%s): %d calls, %d tickets, %d files", actor, masked_text(reason),
                 len(summary["calls"]), len(summary["tickets"]), summary["files"])
        return summary


    def _rewrite_sqlite_file(self) -> None:
        """SQLite keeps a changed row's old bytes in free pages and in its write-ahead log: rewrite the file
        (VACUUM) and empty the log, so the erased data is gone from the disk too. (PostgreSQL: the old row
        versions go at its next VACUUM; autovacuum runs it.)"""
        engine = self.sessions.kw["bind"]
        if engine.dialect.name != "sqlite":
            return
        try:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.exec_driver_sql("VACUUM")
                c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        except Exception as exc:   # another process held the database: the rows are erased, the file later
            log.warning("the SQLite file could not be rewritten now (%s); run VACUUM to drop the erased "
                        "bytes from its free pages", exc)


def _mask_in_access_log(s: Session, forms: list[str]) -> None:
    """Earlier AccessLog rows that name the number (a caller-history read, say) keep it masked."""
    digits = [f for f in forms if f.isdigit() or f.startswith("+")]
    for row in s.scalars(select(AccessLog).where(or_(*(AccessLog.resource.contains(f) for f in digits),
                                                     *(cast(AccessLog.detail, String).contains(f) for f in digits)))):
        text = json.dumps(row.detail, ensure_ascii=False)
        resource = row.resource
        for f in sorted(digits, key=len, reverse=True):
            masked = "*" * (len(f) - 3) + f[-3:]
            text, resource = text.replace(f, masked), resource.replace(f, masked)
        row.detail, row.resource = json.loads(text), resource


def _when(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def _index(found: Found) -> dict[str, Any]:
    """The archive's table of contents, in Vietnamese."""
    calls = [{"Mã cuộc gọi": c.call_id, "Số gọi": c.caller, "Số được gọi": c.dialled,
              "Bắt đầu": _when(c.started_at), "Kết thúc": _when(c.ended_at),
              "Kết quả": label("disposition", c.disposition), "Các phím đã bấm": c.ivr_path,
              "Chuyển đến": c.transfer_target or "", "Tổng đài viên": c.operator or "",
              "Ghi âm": f"ghi_am/{Path(c.recording.path).name}" if c.recording and c.recording.deleted_at is None
              else "", "Lời nhắn": [_message(vm) for vm in c.voicemails]} for c in found.calls]
    tickets = [{"Mã phiếu": t.code, "Kênh": label("channel", t.channel), "Số gọi": t.caller,
                "Lĩnh vực": t.category, "Nội dung": t.content, "Cơ quan": t.agency or "",
                "Trạng thái": label("ticket_status", t.status), "Tiếp nhận": _when(t.received_at),
                "Hạn trả lời": _when(t.due_at), "Trả lời": t.answer or "", "Ngày trả lời": _when(t.answered_at),
                "Họ tên": t.contact_name or "", "Thư điện tử": t.contact_email or "", "Địa chỉ": t.address or "",
                "Vị trí": f"{t.latitude}, {t.longitude}" if t.latitude is not None else "",
                "Tin nhắn": [{"Lúc": _when(m.at), "Chiều": "Người dân gửi" if m.direction == "in" else "Tổng đài gửi",
                              "Kênh": label("channel", m.channel), "Địa chỉ": m.address, "Tiêu đề": m.subject,
                              "Nội dung": m.body} for m in t.messages],
                "Tệp đính kèm": [f"tep_dinh_kem/{t.code}-{a.id}-{a.filename}" for a in t.attachments],
                "Lịch sử": [{"Lúc": _when(e.at), "Người": e.actor, "Việc": label("ticket_event", e.action)}
                            for e in t.events]}
               for t in found.tickets]
    callbacks = [{"Yêu cầu lúc": _when(cb.requested_at), "Từ cuộc gọi": cb.call.call_id if cb.call else "",
                  "Số xin gọi lại": cb.number, "Trạng thái": label("callback_status", cb.status),
                  "Các lần gọi lại": [{"Lúc": t.get("at", ""), "Kết quả": _try_said(t.get("outcome", ""))}
                                      for t in cb.tries or []],
                  "Cuộc gọi lại": cb.out_call or "", "Phiếu tạo ra": cb.ticket_code or "",
                  "Kết thúc": _when(cb.ended_at)} for cb in found.callbacks]
    return {"Cuộc gọi": calls, "Phiếu phản ánh, kiến nghị": tickets, "Yêu cầu gọi lại": callbacks}


def _try_said(outcome: str) -> str:
    """A call-back's try as the citizen reads it: "máy bận", "nghe máy"."""
    return "nghe máy" if outcome == "answer" else NOT_REACHED.get(outcome, outcome)


def _message(vm: Any) -> dict[str, Any]:
    return {"Tệp": f"loi_nhan/{Path(vm.path).name}" if vm.deleted_at is None else "",
            "Thời lượng (giây)": round(vm.duration, 1), "Ghi lúc": _when(vm.created_at),
            "Bản ghi lời nhắn": vm.transcript or ""}


def _csv(index: dict[str, Any]) -> str:
    """One line per thing kept: kind, id, when, file, content."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["Loại", "Mã", "Thời điểm", "Tệp", "Nội dung"])
    for c in index["Cuộc gọi"]:
        w.writerow(safe_row(["Cuộc gọi", c["Mã cuộc gọi"], c["Bắt đầu"], c["Ghi âm"], c["Kết quả"]]))
        for m in c["Lời nhắn"]:
            w.writerow(safe_row(["Lời nhắn", c["Mã cuộc gọi"], m["Ghi lúc"], m["Tệp"], m["Bản ghi lời nhắn"]]))
    for t in index["Phiếu phản ánh, kiến nghị"]:
        w.writerow(safe_row(["Phiếu", t["Mã phiếu"], t["Tiếp nhận"], "", t["Nội dung"]]))
    for cb in index["Yêu cầu gọi lại"]:
        w.writerow(safe_row(["Yêu cầu gọi lại", cb["Từ cuộc gọi"], cb["Yêu cầu lúc"], "",
                             f"{cb['Số xin gọi lại']}: {cb['Trạng thái']}"]))
    return "\ufeff" + out.getvalue()     # a BOM: spreadsheet programs then read the Vietnamese right


def _served(served_by: str | None) -> dict[str, str]:
    """The AccessLog detail naming who served the citizen's request, when another than the reader."""
    return {"served_by": served_by} if served_by else {}
