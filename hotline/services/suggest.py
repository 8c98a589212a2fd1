"""Tickets that sort themselves: a suggested category and agency for a ticket, never applied by itself.

The model (hotline.domain.suggest) learns from the province's files (categories, directory) and from what
operators decided: every answered or closed ticket's final category and agency, and every suggestion an
operator confirmed. It is kept in ``<state dir>/models/suggest.joblib`` with its training date and sizes;
a process without one trains one at first use, a process whose file was replaced (the worker's nightly
``retrain_suggestions``) reads the new one at its next suggestion.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import joblib
from sqlalchemy import select

from hotline.adapters.db.models import Ticket, TicketEvent, TicketStatus
from hotline.domain.suggest import FORMAT, Example, Suggestion, SuggestModel, seed_examples, train
from hotline.services.tickets import FAILED_CONTENT, NO_SPEECH_CONTENT, WAITING_CONTENT, TicketError, TicketService

log = logging.getLogger("hotline.suggest")
FILE_NAME = "suggest.joblib"
CONFIRMED = "suggestion_confirmed"          # the TicketEvent of an operator's one click
_PLACEHOLDERS = (WAITING_CONTENT, NO_SPEECH_CONTENT, FAILED_CONTENT)


@dataclass
class SuggestService:
    """Suggestions for the tickets of ``tickets``; the model file in ``folder``."""

    tickets: TicketService
    folder: Path
    min_confidence: float = 0.3
    _model: SuggestModel | None = None
    _stamp: int | None = None                # the file's mtime when it was read or written
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def path(self) -> Path:
        return self.folder / FILE_NAME

    def examples(self) -> list[Example]:
        """The seeds from the files, every confirmed suggestion, and every answered or closed ticket (its final
        category and agency: an operator's correction after a confirmation wins)."""
        by_ticket: dict[int, Example] = {}
        with self.tickets.sessions() as s:
            confirmed = s.execute(select(TicketEvent.ticket_id, TicketEvent.detail, Ticket.content).join(Ticket)
                                  .where(TicketEvent.action == CONFIRMED).order_by(TicketEvent.id))
            for ticket_id, detail, content in confirmed:
                by_ticket[ticket_id] = Example(content, detail.get("category"), detail.get("agency"))
            done = s.execute(select(Ticket.id, Ticket.content, Ticket.category, Ticket.agency).where(
                Ticket.status.in_((TicketStatus.ANSWERED, TicketStatus.CLOSED))))
            for ticket_id, content, category, agency in done:
                by_ticket[ticket_id] = Example(content, category, agency)
        learned = [e for e in by_ticket.values() if e.text and e.text not in _PLACEHOLDERS]
        return seed_examples(self.tickets.categories, self.tickets.directory) + learned

    def train(self) -> SuggestModel:
        """Train both models now and keep them in the file (replaced at once: a reader never sees half)."""
        started = time.monotonic()
        model = train(self.examples(), self.tickets.now())
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(f".{os.getpid()}.tmp")
        joblib.dump(model, partial)
        os.replace(partial, self.path)
        with self._lock:
            self._model, self._stamp = model, self.path.stat().st_mtime_ns
        log.info("suggestions trained in %.1f s: %s", time.monotonic() - started, model.sizes)
        return model

    def model(self) -> SuggestModel:
        """The model in the file (read again when the file changed), trained now if there is none."""
        stamp = self.path.stat().st_mtime_ns if self.path.exists() else None
        with self._lock:
            if self._model is not None and stamp == self._stamp:
                return self._model
        loaded = self._load() if stamp is not None else None
        if loaded is None:
            return self.train()
        with self._lock:
            self._model, self._stamp = loaded, stamp
        return loaded

    def _load(self) -> SuggestModel | None:
        try:
            model = joblib.load(self.path)
        except Exception as exc:     # a broken or foreign file is trained again, never a failure of the page
            log.warning("suggestions: %s unreadable (%s); training a new model", self.path, exc)
            return None
        return model if isinstance(model, SuggestModel) and model.format == FORMAT else None

    def suggest(self, text: str) -> Suggestion | None:
        return self.model().suggest(text, self.min_confidence)

    def for_ticket(self, ticket: dict[str, Any]) -> Suggestion | None:
        """The suggestion an operator is shown on an open ticket not yet confirmed, unless it is already
        what the ticket says."""
        if ticket["status"] not in (TicketStatus.NEW, TicketStatus.ASSIGNED) or ticket["content"] in _PLACEHOLDERS:
            return None
        if any(e["action"] == CONFIRMED for e in ticket.get("events", ())):
            return None
        found = self.suggest(ticket["content"] or "")
        if found is None:
            return None
        same_cat = found.category is None or found.category.label == ticket["category"]
        same_agency = found.agency is None or found.agency.label == ticket["agency"]
        return None if same_cat and same_agency else found

    def confirm(self, code: str, *, category: str | None, agency: str | None, actor: str) -> dict[str, Any]:
        """The operator's one click: set the suggested category, forward to the suggested agency, and keep
        what was suggested with the model's confidence (the training signal)."""
        ticket = self.tickets.get(code)
        if ticket is None:
            raise TicketError(f"no ticket {code!r}", vi=f"Không có phiếu mã {code}.")
        if category and category not in self.tickets.categories:
            raise TicketError(f"no category {category!r}", vi="Lĩnh vực gợi ý không còn trong danh mục.")
        if agency:
            self.tickets.agency(agency)
        if not (category or agency):
            raise TicketError("nothing to confirm", vi="Không có gợi ý nào để xác nhận.")
        model = self.model()
        text = ticket["content"] or ""
        detail: dict[str, Any] = {"category": category, "agency": agency,
                                  "category_confidence": round(model.category.confidence(text, category), 3)
                                  if category else None,
                                  "agency_confidence": round(model.agency.confidence(text, agency), 3)
                                  if agency else None,
                                  "model_trained_at": model.trained_at.isoformat()}
        if category and category != ticket["category"]:
            self.tickets.set_category(code, category, actor=actor)
        if agency and agency != ticket["agency"]:
            self.tickets.assign(code, agency, actor=actor, note="theo gợi ý")
        return self.tickets.record(ticket["id"], actor, CONFIRMED, detail)

    def due(self, now: datetime, tz: ZoneInfo, hour: int) -> bool:
        """Whether the nightly training is due: the model is older than the last ``hour`` o'clock (local)."""
        if not self.path.exists():
            return True
        local = now.astimezone(tz)
        last = local.replace(hour=hour, minute=0, second=0, microsecond=0)
        if last > local:
            last -= timedelta(days=1)
        return self.model().trained_at < last
