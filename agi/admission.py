"""What [hotline-busy] tells the AGI server: a caller turned away because every line was busy."""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from hotline.adapters.db.repository import CallRepository
from hotline.domain.vocabulary import Disposition

from .server import Handler

log = logging.getLogger("agi.admission")


class AdmissionHandlers:
    """One closed call row per caller turned away (disposition turned_away): the supervisor's count."""

    def __init__(self, repo: CallRepository, now: Callable[[], datetime]) -> None:
        self.repo = repo
        self.now = now

    def routes(self) -> dict[str, Handler]:
        return {"turned_away": self.turned_away}

    def turned_away(self, agi: Any, args: list[str]) -> None:
        """Args: call id, the hotline clock's epoch when the call came in, the number dialled.

        Run from the channel's ``h`` extension, once the busy message has played (or the caller hung
        up during it); the call was never answered. Idempotent: a retry finds the row.
        """
        call_id, epoch, dialled = (args + ["", "", ""])[:3]
        ended = self.now()
        started = datetime.fromtimestamp(float(epoch), ended.tzinfo) if epoch else ended
        self.repo.start_call(call_id, channel_id=agi.env.get("agi_uniqueid", call_id),
                             caller=agi.env.get("agi_callerid", ""), dialled=dialled, started_at=started,
                             disposition=Disposition.TURNED_AWAY)
        self.repo.end_call(call_id, ended_at=ended, disposition=Disposition.TURNED_AWAY)
        log.info("call=%s turned away: every line busy", call_id)
