"""What the dialplan asks the AGI server: logging calls taken by the dialplan fallback."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from ari_app import audio
from hotline.adapters.db.repository import CallRepository
from hotline.adapters.disk import message_space_problem
from hotline.domain.vocabulary import Disposition
from hotline.intake.voice import MessageIntake
from hotline.services.alerts import note_lost_message

from .server import Handler

log = logging.getLogger("agi.handlers")

#: Record()'s RECORD_STATUS when it could not write the message (the file could not be made or written).
RECORD_FAILED = "ERROR"


class FallbackHandlers:
    """The dialplan's fallback path (the ARI app is down) logs its calls through these. ``state_dir``: where
    a message Asterisk could not record is noted for ``hotline watch``'s alert."""

    def __init__(self, repo: CallRepository, recordings_root: Path, now: Callable[[], datetime],
                 messages: MessageIntake, state_dir: Path, file_wait: float = 30.0, min_free_mb: int = 0) -> None:
        self.repo = repo
        self.state_dir = state_dir
        self.min_free_mb = min_free_mb      # below this, no message is offered (MESSAGE_OK=0)
        self.messages = messages            # a message is a ticket at once, as in the ARI app
        self.root = recordings_root
        self.now = now
        self.file_wait = file_wait

    def routes(self) -> dict[str, Handler]:
        return {"fallback_start": self.fallback_start, "fallback_end": self.fallback_end}

    def fallback_start(self, agi: Any, args: list[str]) -> None:
        call_id = args[0]
        problem = message_space_problem(self.root, self.min_free_mb)
        agi.set_variable("MESSAGE_OK", "0" if problem else "1")     # first: the database may be away
        if problem:
            log.error("call=%s fallback: no message can be taken: %s", call_id, problem)
        epoch = float(args[1]) if len(args) > 1 and args[1] else self.now().timestamp()
        started = datetime.fromtimestamp(epoch, self.now().tzinfo)
        caller = agi.env.get("agi_callerid", "")
        rec_file = self._call_file(started, call_id)
        self.repo.start_call(call_id, channel_id=agi.env.get("agi_uniqueid", call_id), caller=caller,
                             dialled=args[2] if len(args) > 2 else "", started_at=started, answered_at=started,
                             disposition=Disposition.APP_FALLBACK, recording_file=str(rec_file))
        log.info("call=%s fallback: ARI app unavailable, taking a message", call_id)

    def fallback_end(self, agi: Any, args: list[str]) -> None:
        """At the hangup: args are the call's id, Record()'s RECORDED_FILE and its RECORD_STATUS."""
        call_id = args[0]
        if len(args) > 2 and args[2] == RECORD_FAILED:     # noted first: the database may be away too
            log.error("call=%s fallback: Asterisk could not record the message", call_id)
            note_lost_message(self.state_dir, call_id,
                              "Asterisk could not record the fallback's message (disk full or not writable?)")
        row = self.repo.get(call_id)
        if row is None:
            log.warning("call=%s fallback end without a start; the app's sweep will log it", call_id)
            return
        # A caller who reached the fallback on a return into the app (from the queue, the ticket lookup)
        # keeps what they had: answered by an operator, or sent to a desk.
        kept = row["disposition"] in (Disposition.ANSWERED, Disposition.TRANSFERRED)
        self.repo.end_call(call_id, ended_at=self.now(),
                           disposition=row["disposition"] if kept else Disposition.APP_FALLBACK)
        message = _wav(args[1]) if len(args) > 1 and args[1] else None
        rec_file = Path(row["recording_file"])
        # The channel is hanging up: its files close after this AGI returns, so wait elsewhere.
        threading.Thread(target=self._log_files, args=(call_id, rec_file, message), daemon=True).start()

    def _log_files(self, call_id: str, rec_file: Path, message: Path | None) -> None:
        if message is not None and audio.wait_complete(message, self.file_wait):
            saved = self.messages.take(call_id, audio.audio_facts(message, self.root), ended_by="fallback")
            log.info("call=%s fallback message %s", call_id,
                     f"is ticket {saved.ticket_code}" if saved.ticket else "is too short for a ticket")
        if audio.wait_complete(rec_file, self.file_wait):
            self.repo.add_recording(call_id, audio.audio_facts(rec_file, self.root), self.now())
            log.info("call=%s fallback recording logged", call_id)

    def _call_file(self, started: datetime, call_id: str) -> Path:
        return self.root / f"{started:%Y/%m/%d}" / f"{call_id}.wav"


def _wav(recorded_file: str) -> Path:
    """Record() sets RECORDED_FILE without its extension."""
    return Path(recorded_file if recorded_file.endswith(".wav") else recorded_file + ".wav")
