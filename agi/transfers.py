"""What [hotline-desk-transfer] tells the AGI server: an operator's transfer started, answered, ended."""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from hotline.adapters.db.repository import CallRepository
from hotline.services.transfers import dial_outcome

from .server import Handler

log = logging.getLogger("agi.transfers")


class TransferHandlers:
    """Writes the Transfer rows of operators' transfers; every handler may run twice (idempotent)."""

    def __init__(self, repo: CallRepository, now: Callable[[], datetime]) -> None:
        self.repo = repo
        self.now = now

    def routes(self) -> dict[str, Handler]:
        return {"transfer_start": self.transfer_start, "transfer_answered": self.transfer_answered,
                "transfer_end": self.transfer_end}

    def transfer_start(self, _agi: Any, args: list[str]) -> None:
        """Args: call id, kind (blind|attended), target (department:02), operator."""
        call_id, kind, target, operator = (args + ["", "", "", ""])[:4]
        if self.repo.get(call_id) is None:
            log.warning("call=%s transfer to %s: no such call in the log", call_id, target)
            return
        open_id = self.repo.open_transfer(call_id)
        if open_id is not None:
            self.repo.finish_transfer(open_id, ended_at=self.now())   # a retry after a lost answer
        self.repo.start_transfer(call_id, kind=kind or "blind", target=target, started_at=self.now(),
                                 requested_by=operator or None)
        log.info("call=%s transfer:%s by %s --> %s ringing", call_id, kind, operator or "?", target)

    def transfer_answered(self, _agi: Any, args: list[str]) -> None:
        call_id = args[0] if args else ""
        transfer_id = self.repo.open_transfer(call_id)
        if transfer_id is None:
            return
        self.repo.finish_transfer(transfer_id, outcome="answered", answered_at=self.now())
        log.info("call=%s transfer --> desk answered", call_id)

    def transfer_end(self, _agi: Any, args: list[str]) -> None:
        """Args: call id, DIALSTATUS. Only the open attempt is closed; a second run changes nothing."""
        call_id, status = (args + ["", ""])[:2]
        transfer_id = self.repo.open_transfer(call_id)
        if transfer_id is None:
            return
        outcome = dial_outcome(status)
        self.repo.finish_transfer(transfer_id, outcome=outcome, ended_at=self.now())
        log.info("call=%s transfer --%s--> %s", call_id, status or "hangup", outcome)
