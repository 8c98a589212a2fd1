"""The worker's RQ jobs: module-level functions that take ids, idempotent, each opening its own session.

Each also takes ``runtime``, what it uses (database, tickets, queue, mailer, speech engine): the
worker (HotlineWorker) passes its own; a job called without one builds one from the environment.

Run again after a crash, each still gives one result: one transcript and one ticket per
voicemail, one e-mail per forwarding, reminder and escalation (the ticket records each).
"""
from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from hotline.adapters.db.models import TicketStatus
from hotline.adapters.mail import Mail
from hotline.adapters.speech.engines import transcribe_file
from hotline.domain.vocabulary import AccessAction
from hotline.intake import outbox
from hotline.services.access_log import add_access
from hotline.worker.runtime import Runtime
from hotline.worker.voicemails import VoicemailStore

log = logging.getLogger("hotline.worker.jobs")

FLAGS = {"remind_50": "reminded_50_at", "remind_80": "reminded_80_at", "escalate": "escalated_at"}


def store(rt: Runtime) -> VoicemailStore:
    s = rt.ctx.settings
    return VoicemailStore(rt.sessions, rt.now, s.paths.recordings_root, s.transcription.lease_seconds)


def transcribe_voicemail(voicemail_id: int, runtime: Runtime | None = None) -> dict[str, Any]:
    """Transcribe one voicemail with the configured speech engine into its ticket.

    Args:
        voicemail_id: the Voicemail row's id.
        runtime: what the job uses (the worker's; default: built from the environment).
    """
    rt = runtime or Runtime.build()
    vms = store(rt)
    engine = rt.engine()
    if engine is None:
        why = rt.engine_error or "the speech engine is not loaded"
        vms.release(voicemail_id, why)
        log.warning("voicemail=%s waits: %s", voicemail_id, why)
        return {"status": "waiting_model"}
    claimed = vms.claim(voicemail_id)
    if claimed is None:
        log.info("voicemail=%s skipped: done already or held by another job", voicemail_id)
        return {"status": "skipped"}
    renew_every = rt.ctx.settings.transcription.lease_seconds / 3
    last = time.monotonic()

    def progress(_seconds: float) -> None:
        nonlocal last
        if time.monotonic() - last >= renew_every:
            vms.renew(voicemail_id)
            last = time.monotonic()

    started = time.monotonic()
    try:
        result = transcribe_file(engine, claimed.path, progress)
    except Exception as exc:
        attempts = _attempts(rt, voicemail_id)
        final = attempts >= rt.ctx.settings.transcription.max_attempts
        vms.release(voicemail_id, f"{type(exc).__name__}: {exc}", failed=final)
        log.exception("voicemail=%s transcription failed (attempt %d)%s", voicemail_id, attempts,
                      "; giving up, the audio stays on the ticket" if final else "")
        raise
    status, code = vms.finish(voicemail_id, result, engine.name)
    if code is not None and result.has_speech:     # its text came: a probable duplicate of an open ticket?
        rt.tickets.flag_duplicate(code)
    log.info("voicemail=%s ticket=%s %s by %s: %d words in %d pieces, confidence %s, %.1f s of audio in %.1f s",
             voicemail_id, code, status, engine.name, len(result.words), result.pieces, result.confidence,
             result.audio_seconds, time.monotonic() - started)
    return {"status": status, "ticket": code, "words": len(result.words), "seconds": result.audio_seconds}


def _attempts(rt: Runtime, voicemail_id: int) -> int:
    from hotline.adapters.db.models import Voicemail
    with rt.sessions() as s:
        vm = s.get(Voicemail, voicemail_id)
        return vm.attempts if vm is not None else 0


def notify_assigned(ticket_id: int, runtime: Runtime | None = None) -> str:
    """E-mail a forwarded ticket to the agency's focal points: its content and a link to its page in the
    console (where the agency plays the audio, each play in the AccessLog); never the recording itself.
    The e-mail is in the AccessLog (it carries the citizen's request).

    Args:
        ticket_id: the Ticket row's id.
        runtime: what the job uses (the worker's; default: built from the environment).
    """
    rt = runtime or Runtime.build()
    t = rt.tickets.by_id(ticket_id)
    if t is None or t["status"] != TicketStatus.ASSIGNED or t["notified_at"]:
        return "nothing to do"
    agency = rt.tickets.agency(t["agency"])
    to = tuple(f.email for f in agency.focal_points)
    due = _local(rt, t["due_at"])
    link = ticket_link(rt, t["code"])
    body = (f"Kính gửi {agency.name},\n\nTổng đài 1022 {rt.ctx.settings.province.name} chuyển đến quý cơ quan "
            f"phản ánh, kiến nghị số {t['code']} ({rt.ctx.categories.get(t['category']).name}).\n\n"
            f"Nội dung: {t['content']}\n\nĐề nghị quý cơ quan trả lời trước {due:%H:%M ngày %d/%m/%Y} "
            f"({t['deadline_hours']:g} giờ làm việc).\nXem phiếu, nghe ghi âm và trả lời tại: {link}\n")
    sent = rt.mailer.send(Mail(to, f"[1022] Phản ánh, kiến nghị số {t['code']} chuyển {agency.name}", body))
    now = rt.now()
    if sent:
        with rt.sessions.begin() as s:
            add_access(s, at=now, username="worker", action=AccessAction.EMAIL, resource=f"ticket:{t['code']}",
                       call_id=t["call_id"], to=list(to), link=link)
    rt.tickets.record(ticket_id, "worker", "notified", {"to": list(to), "sent": sent}, notified_at=now)
    return "sent" if sent else "not sent (notifications off or no focal point)"


def ticket_link(rt: Runtime, code: str) -> str:
    """The ticket's page in the console, as agencies reach it ([notifications] console_url)."""
    return f"{rt.ctx.settings.notifications.console_url.rstrip('/')}/tickets/{code}"


def milestone(ticket_id: int, name: str, runtime: Runtime | None = None) -> str:
    """A reminder at 50 % or 80 % of a ticket's deadline (name remind_50, remind_80), or its escalation.

    Args:
        ticket_id: the Ticket row's id.
        name: remind_50, remind_80 or escalate.
        runtime: what the job uses (the worker's; default: built from the environment).
    """
    rt = runtime or Runtime.build()
    t = rt.tickets.by_id(ticket_id)
    if t is None or t["status"] not in TicketStatus.OPEN or t[FLAGS[name]]:
        return "nothing to do"
    at = rt.tickets.deadlines.milestones(datetime.fromisoformat(t["received_at"]), t["deadline_hours"])[name]
    now = rt.now()
    if now < at:    # never before its instant; the sweep runs it once the time has come
        return f"not yet ({at.isoformat()}): too early, or the deadline changed"
    to, subject, body = _milestone_mail(rt, t, name)
    sent = rt.mailer.send(Mail(to, subject, body))
    rt.tickets.record(ticket_id, "worker", name, {"to": list(to), "sent": sent, "due_at": t["due_at"],
                                                  "planned_at": at.isoformat()}, **{FLAGS[name]: now})
    log.info("ticket=%s %s at %s (planned %s): mail to %s", t["code"], name, now.isoformat(), at.isoformat(), to)
    return "sent" if sent else "recorded (no mail)"


def _milestone_mail(rt: Runtime, t: dict[str, Any], name: str) -> tuple[tuple[str, ...], str, str]:
    supervisors = tuple(rt.ctx.settings.notifications.supervisors)
    agency = rt.tickets.agency(t["agency"]) if t["agency"] else None
    focal = tuple(f.email for f in agency.focal_points) if agency else ()
    due = _local(rt, t["due_at"])
    where = agency.name if agency else "Tổng đài 1022 (chưa chuyển cơ quan nào)"
    if name == "escalate":
        return (supervisors + focal, f"[1022] QUÁ HẠN: phản ánh, kiến nghị số {t['code']}",
                f"Phản ánh, kiến nghị số {t['code']} đã quá hạn trả lời ({due:%H:%M ngày %d/%m/%Y}).\n"
                f"Đơn vị đang xử lý: {where}. Trạng thái: {t['status_vi']}.\n\nNội dung: {t['content']}\n")
    share = name.removeprefix("remind_")
    return (focal or supervisors, f"[1022] Nhắc hạn ({share}%): phản ánh, kiến nghị số {t['code']}",
            f"Phản ánh, kiến nghị số {t['code']} đã dùng {share}% thời hạn trả lời; hạn cuối "
            f"{due:%H:%M ngày %d/%m/%Y}.\nĐơn vị đang xử lý: {where}.\n\nNội dung: {t['content']}\n")


def _local(rt: Runtime, iso: str) -> datetime:
    return datetime.fromisoformat(iso).astimezone(rt.ctx.settings.tz)


def send_message(message_id: int, runtime: Runtime | None = None) -> str:
    """Send one of the hotline's messages to a citizen (a receipt, an answer) through its channel; a failure is
    kept on its row and tried again by the sweep (hotline.intake.outbox)."""
    rt = runtime or Runtime.build()
    return outbox.send(rt.sessions, message_id, rt.senders, rt.now)


def answer_back(code: str, runtime: Runtime | None = None) -> str:
    """Queue an answered ticket's answer to the citizen through the channel they wrote from (once an answer)."""
    rt = runtime or Runtime.build()
    queued = rt.intake.answer_back(code, actor="worker")
    return "queued" if queued else "nothing to send"


def text_code(ticket_id: int, runtime: Runtime | None = None) -> str:
    """Text a voicemail caller with a mobile number their ticket's code, once ([sms] voicemail_code)."""
    rt = runtime or Runtime.build()
    return "queued" if rt.intake.text_code(ticket_id) else "nothing to send"


def retrain_suggestions(runtime: Runtime | None = None) -> dict[str, Any]:
    """Train the ticket suggestions again on everything operators decided (nightly, queued by the sweep).

    Args:
        runtime: what the job uses (the worker's; default: built from the environment).
    """
    rt = runtime or Runtime.build()
    model = rt.suggest.train()
    return {"trained_at": model.trained_at.isoformat(), **model.sizes}


#: The only functions the worker runs (hotline.worker.rqworker refuses any other a job names).
JOB_FUNCTIONS = (transcribe_voicemail, notify_assigned, milestone, send_message, answer_back, text_code,
                 retrain_suggestions)
