"""Tickets near each other in the database: a caller's open tickets, a new ticket flagged as a probable duplicate
of an open one, a duplicate merged into the ticket kept, and the hotspots of the last days. The rules are
hotline.domain.tickets.nearby's; this module reads and writes the rows, inside the caller's transaction (the
ticket service's: hotline.services.tickets).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from hotline.adapters.db.models import Attachment, Ticket, TicketStatus
from hotline.domain.tickets.nearby import (
    NEAR_METRES,
    SIMILAR_TEXT,
    Hotspot,
    Match,
    Nearby,
    phone_forms,
    phone_key,
    place_of,
    probable_duplicate,
)
from hotline.domain.tickets.nearby import hotspots as find_hotspots

log = logging.getLogger("hotline.services.nearby")

CANDIDATES = 500          # open tickets of the window a new one's text is compared with (the newest)
#: what writes a ticket's timeline line: (session, ticket, actor, action, detail)
Event = Callable[[Session, Ticket, str, str, dict[str, Any]], None]


@dataclass(frozen=True)
class NearbyRules:
    """[tickets]' settings of duplicates and hotspots, and the communes and districts a text may name (folded,
    as hotline.domain.tickets.nearby.place_names gives them)."""

    duplicate_days: int = 14
    similar_text: float = SIMILAR_TEXT
    near_metres: float = NEAR_METRES
    hotspot_min: int = 3
    hotspot_days: int = 7
    place_names: tuple[tuple[str, str], ...] = ()


def as_nearby(t: Ticket, rules: NearbyRules) -> Nearby:
    text = t.content or ""
    if t.voicemail is not None and t.voicemail.transcript and t.voicemail.transcript not in text:
        text = f"{text} {t.voicemail.transcript}"
    return Nearby(id=t.id, code=t.code, received_at=t.received_at, text=text, phone=phone_key(t.caller),
                  email=(t.contact_email or "").strip().lower() or None,
                  place=place_of(t.address, t.latitude, t.longitude, text, rules.place_names), category=t.category)


def flag(s: Session, ticket: Ticket, rules: NearbyRules, event: Event) -> Match | None:
    """Flag ``ticket`` as a probable duplicate of an older open ticket of the window, if it is one and is not
    flagged yet (a transcript that came later may flag it; a flag, once there, stays until a merge)."""
    if rules.duplicate_days <= 0 or ticket.status not in TicketStatus.OPEN or ticket.duplicate_of_id is not None:
        return None
    s.flush()
    window = (Ticket.status.in_(TicketStatus.OPEN), Ticket.id < ticket.id,
              Ticket.received_at >= ticket.received_at - timedelta(days=rules.duplicate_days))
    same: list[Any] = []
    if forms := phone_forms(ticket.caller):
        same.append(Ticket.caller.in_(forms))
    if ticket.contact_email:
        same.append(func.lower(Ticket.contact_email) == ticket.contact_email.strip().lower())
    newest = select(Ticket).where(*window).order_by(Ticket.id.desc()).options(selectinload(Ticket.voicemail))
    found = list(s.scalars(newest.where(or_(*same)).limit(20))) if same else []
    if not found:
        found = list(s.scalars(newest.limit(CANDIDATES)))
    match = probable_duplicate(as_nearby(ticket, rules), [as_nearby(t, rules) for t in found],
                               similar=rules.similar_text, near=rules.near_metres)
    if match is None:
        return None
    ticket.duplicate_of_id, ticket.duplicate_reason, ticket.duplicate_score = match.ticket.id, match.reason, match.score
    event(s, ticket, "system", "duplicate_flagged",
          {"of": match.ticket.code, "reason": match.reason, "score": match.score})
    log.info("ticket=%s probable duplicate of %s (%s, %.2f)", ticket.code, match.ticket.code, match.reason,
             match.score)
    return match


def open_of_caller(s: Session, number: str, leave_out: str | None = None, limit: int = 10) -> list[Ticket]:
    """A number's open tickets (whatever way each stored it), newest first; ``leave_out``: a code not listed."""
    forms = phone_forms(number)
    if not forms:
        return []
    q = (select(Ticket).where(Ticket.caller.in_(forms), Ticket.status.in_(TicketStatus.OPEN))
         .order_by(Ticket.received_at.desc(), Ticket.id.desc()).limit(limit))
    if leave_out:
        q = q.where(Ticket.code != leave_out)
    return list(s.scalars(q))


def related(s: Session, ticket: Ticket) -> dict[str, list[Ticket]]:
    """The tickets flagged as probable duplicates of ``ticket`` (still open), and those merged into it."""
    flagged = s.scalars(select(Ticket).where(Ticket.duplicate_of_id == ticket.id, Ticket.merged_into_id.is_(None),
                                             Ticket.status.in_(TicketStatus.OPEN)).order_by(Ticket.id))
    merged = s.scalars(select(Ticket).where(Ticket.merged_into_id == ticket.id).order_by(Ticket.id))
    return {"flagged": list(flagged), "merged": list(merged)}


def merge(s: Session, duplicate: Ticket, kept: Ticket, now: datetime, actor: str, event: Event) -> None:
    """Join ``duplicate`` onto ``kept``'s timeline (its text, citizen, place and events, its files too) and mark
    it merged; the caller moves it to ``duplicate`` (closed). Nothing is sent to anybody: ``kept``'s answer
    reaches every citizen of both once (hotline.intake.service.Intake.answer_back)."""
    copies = [Attachment(ticket=kept, filename=a.filename, media_type=a.media_type, size=a.size, sha256=a.sha256,
                         path=a.path, at=a.at)
              for a in duplicate.attachments if not any(k.sha256 == a.sha256 for k in kept.attachments)]
    s.add_all(copies)
    s.flush()
    event(s, kept, actor, "merged", {
        "from": duplicate.code, "channel": duplicate.channel, "received_at": duplicate.received_at.isoformat(),
        "content": duplicate.content, "address": duplicate.address,
        "files": len(duplicate.attachments), "file_ids": [a.id for a in copies],
        "events": [{"at": e.at.isoformat(), "actor": e.actor, "action": e.action} for e in duplicate.events]})
    duplicate.merged_into_id = kept.id
    duplicate.closed_at = now
    if kept.duplicate_of_id == duplicate.id:
        kept.duplicate_of_id = kept.duplicate_reason = kept.duplicate_score = None
    for other in s.scalars(select(Ticket).where(Ticket.duplicate_of_id == duplicate.id, Ticket.id != kept.id)):
        other.duplicate_of_id = kept.id       # flagged against the duplicate: now against the ticket kept
    for earlier in s.scalars(select(Ticket).where(Ticket.merged_into_id == duplicate.id, Ticket.id != kept.id)):
        earlier.merged_into_id = kept.id      # merged into the duplicate before: its citizen hears kept's answer


def forget_merged(s: Session, ticket: Ticket, marker: str) -> list[str]:
    """A merged duplicate's citizen erased (or its content expired): what its merge put on the kept ticket goes
    too: the timeline line's text and address become ``marker``, and its files' copies are removed (their paths
    returned: the caller deletes a file no ticket holds any more)."""
    kept = ticket.merged_into
    if kept is None:
        return []
    gone: list[str] = []
    for e in kept.events:
        if e.action == "merged" and e.detail.get("from") == ticket.code:
            ids = set(e.detail.get("file_ids") or ())
            for a in [a for a in kept.attachments if a.id in ids]:
                gone.append(a.path)
                s.delete(a)
            e.detail = {**e.detail, "content": marker, "address": marker if e.detail.get("address") else None,
                        "file_ids": []}
    return gone


def hotspots(s: Session, rules: NearbyRules, until: datetime, categories: Sequence[str] = ()) -> list[Hotspot]:
    """The hotspots of the ``hotspot_days`` up to ``until``: every ticket received then counts (duplicates too:
    ten reports of one pothole are its signal), except those out of the hotline's scope."""
    q = (select(Ticket).where(Ticket.received_at > until - timedelta(days=rules.hotspot_days),
                              Ticket.received_at <= until, Ticket.status != TicketStatus.OUT_OF_SCOPE)
         .order_by(Ticket.id.desc()).limit(20000).options(selectinload(Ticket.voicemail)))
    if categories:
        q = q.where(Ticket.category.in_(categories))
    return find_hotspots([as_nearby(t, rules) for t in s.scalars(q)], rules.hotspot_min, rules.near_metres)
