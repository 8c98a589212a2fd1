"""What [hotline-outbound-call] tells the AGI server: a call out to a citizen started, answered, ended, or refused.

Each call out is a Call row with direction "out": the operator's endpoint, the citizen's number, its disposition
and, once the file is closed, its recording (from the citizen's answer to the hangup, both sides).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from ari_app import audio
from hotline.adapters.db.repository import CallRepository
from hotline.domain.redact import masked_number
from hotline.domain.vocabulary import Disposition

from .server import Handler

log = logging.getLogger("agi.outbound")

#: Dial()'s DIALSTATUS -> the call's disposition (CANCEL: the operator hung up while it rang).
DIAL_DISPOSITIONS = {"ANSWER": Disposition.OUT_ANSWERED, "NOANSWER": Disposition.OUT_NO_ANSWER,
                     "BUSY": Disposition.OUT_BUSY, "CANCEL": Disposition.OUT_CANCELLED}


def out_disposition(dial_status: str, answered: bool) -> str:
    """How a call out ended, from Dial's status (an answered call is answered whatever came after)."""
    if answered:
        return Disposition.OUT_ANSWERED
    return DIAL_DISPOSITIONS.get(dial_status, Disposition.OUT_CANCELLED if not dial_status else Disposition.OUT_FAILED)


class OutboundHandlers:
    """Writes the rows of calls out; every handler may run twice (idempotent)."""

    def __init__(self, repo: CallRepository, recordings_root: Path, now: Callable[[], datetime],
                 file_wait: float = 30.0) -> None:
        self.repo = repo
        self.root = recordings_root
        self.now = now
        self.file_wait = file_wait

    def routes(self) -> dict[str, Handler]:
        return {"outbound_start": self.outbound_start, "outbound_answered": self.outbound_answered,
                "outbound_end": self.outbound_end, "outbound_refused": self.outbound_refused}

    def _started(self, args: list[str]) -> datetime:
        epoch = float(args[1]) if len(args) > 1 and args[1] else self.now().timestamp()
        return datetime.fromtimestamp(epoch, self.now().tzinfo)

    def outbound_start(self, agi: Any, args: list[str]) -> None:
        """Args: call id, epoch (hotline clock), number, operator's endpoint, the recording's path."""
        call_id, _, number, operator, rec_file = (args + [""] * 5)[:5]
        self.repo.start_outbound(call_id, channel_id=agi.env.get("agi_uniqueid", call_id), number=number,
                                 operator=operator, started_at=self._started(args), recording_file=rec_file or None)
        log.info("call=%s out:start by %s --> ringing %s", call_id, operator or "?", masked_number(number))

    def outbound_answered(self, _agi: Any, args: list[str]) -> None:
        call_id = args[0] if args else ""
        row = self.repo.get(call_id)
        if row is None or row["answered_at"]:
            return
        self.repo.update(call_id, answered_at=self.now())
        log.info("call=%s out:ringing --answer--> talking", call_id)

    def outbound_end(self, _agi: Any, args: list[str]) -> None:
        """Args: call id, DIALSTATUS. Only an open row is closed; a second run changes nothing."""
        call_id, status = (args + ["", ""])[:2]
        row = self.repo.get(call_id)
        if row is None or row["ended_at"]:
            return
        ended = self.now()
        answered = row["answered_at"] is not None
        disposition = out_disposition(status, answered)
        if answered:
            talk = (ended - datetime.fromisoformat(row["answered_at"])).total_seconds()
            self.repo.update(call_id, talk_seconds=max(talk, 0.0))
        else:
            self.repo.update(call_id, recording_file=None)      # nothing was recorded: no file to wait for
        self.repo.end_call(call_id, ended_at=ended, disposition=disposition)
        log.info("call=%s out:%s --%s--> %s", call_id, "talking" if answered else "ringing", status or "hangup",
                 disposition)
        if answered and row["recording_file"]:
            # The citizen's channel closes the file after this hangup: wait for it elsewhere.
            threading.Thread(target=self._log_recording, args=(call_id, Path(row["recording_file"])),
                             daemon=True).start()

    def outbound_refused(self, _agi: Any, args: list[str]) -> None:
        """Args: call id, epoch, the number as dialled, the operator's endpoint, and ``busy`` when the number was
        refused for too many calls out at once ([callback] max_out_per_operator, max_out): a row of the attempt."""
        call_id, _, number, operator, why = (args + [""] * 5)[:5]
        started = self._started(args)
        self.repo.start_outbound(call_id, channel_id=call_id, number=number[:64], operator=operator,
                                 started_at=started, recording_file=None, disposition=Disposition.OUT_REFUSED,
                                 ended_at=started)
        if why == "busy":
            log.warning("call=%s out: %s refused, too many calls out at once (to %s)", call_id, operator or "?",
                        masked_number(number))
        else:
            log.warning("call=%s out: %s refused a number the hotline never calls: %s", call_id, operator or "?",
                        masked_number(number))

    def _log_recording(self, call_id: str, rec_file: Path) -> None:
        if audio.wait_complete(rec_file, self.file_wait):
            self.repo.add_recording(call_id, audio.audio_facts(rec_file, self.root), self.now())
            log.info("call=%s out: recording logged", call_id)
        else:
            log.warning("call=%s out: recording %s not closed in time; the app's sweep will log it", call_id, rec_file)
