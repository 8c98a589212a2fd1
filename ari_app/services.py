"""What a call needs besides ARI: the engine, prompt paths, the call log, finished files."""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from hotline.adapters.db.repository import AudioFacts
from hotline.adapters.jobqueue import JobQueue
from hotline.domain.flows.engine import FlowEngine
from hotline.domain.flows.model import VoicemailNode
from hotline.intake.voice import MessageIntake, SavedMessage
from hotline.services.callbacks import Callbacks
from hotline.services.tickets import TicketService

from . import audio
from .call_log import PENDING, CallLog
from .client import AriClient

log = logging.getLogger("ari_app.services")

CLOSED_FILE_WAIT = 1.0    # a file Asterisk said it closed: only its header's last write may lag
QUIET_FOR_REPAIR = 10.0   # seconds unwritten after which an unclosed recording of an ended call is its writer's no more


@dataclass
class CallServices:
    """Everything a Call uses, built once by the app's composition root."""

    settings: Any
    ari: AriClient
    engine: FlowEngine
    log: CallLog
    now: Callable[[], datetime]
    prompts_dir: Path
    tickets: TicketService
    jobs: JobQueue
    sounds_dir: Path | None = None     # app_queue's Vietnamese sounds: digits/0 … digits/9
    file_wait: float = 15.0            # for a file nobody said was closed (MixMonitor's, an adopted message)
    recording_report_wait: float = 2.0  # for Asterisk's word that a message ended, once the caller hung up
    messages: MessageIntake = field(init=False)    # the one intake path, on the call log, tickets and jobs
    callbacks: Callbacks = field(init=False)       # the call-backs' rows
    _background: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.messages = MessageIntake(self.log.repo, self.tickets, self.settings.voicemail.min_seconds,
                                      self.now, self.jobs)
        self.log.register("save_message", self.messages.save, after_replay=self._queue_work)
        self.callbacks = Callbacks.configured(self.tickets.sessions, self.now, self.settings.callback)

    def from_real(self, epoch: float) -> datetime:
        """A real-clock instant (a file's mtime) on the hotline's clock (HOTLINE_FAKE_NOW aware)."""
        now = self.now()
        return datetime.fromtimestamp(epoch + (now.timestamp() - time.time()), now.tzinfo)

    def event_time(self, event: dict[str, Any]) -> datetime:
        """When Asterisk says an event happened, on the hotline clock."""
        return self.asterisk_time(event.get("timestamp")) or self.now()

    def asterisk_time(self, stamp: str | None) -> datetime | None:
        """An instant Asterisk gives (an event's timestamp, a channel's or bridge's creationtime) on the
        hotline clock; None when it gives none."""
        return self.from_real(datetime.fromisoformat(stamp).timestamp()) if stamp else None

    @property
    def recordings_root(self) -> Path:
        return Path(self.settings.paths.recordings_root)

    def prompt_path(self, name: str) -> str:
        """A flow prompt's file, or one spoken digit for ``digit:N`` (a ticket code read back)."""
        if name.startswith("digit:") and self.sounds_dir is not None:
            return str(self.sounds_dir / "digits" / name.removeprefix("digit:"))
        return str(self.prompts_dir / name)

    def voicemail_name(self, rec_file: Path) -> str:
        """ARI stored-recording name of a call's message: beside the call's recording."""
        rel = rec_file.relative_to(self.recordings_root)
        return str(rel.with_suffix("")) + ".voicemail"

    def voicemail_path(self, name: str) -> Path:
        return self.recordings_root / f"{name}.wav"

    def message_route(self, node: str) -> dict[str, str]:
        """What the flow's message node ``node`` makes its messages' tickets: ``category`` and ``agency`` when it
        names them (key 6's: postal, the post office); nothing for the hotline's own voicemail."""
        found = self.engine.flow.nodes.get(node)
        if not isinstance(found, VoicemailNode):
            return {}
        return {k: v for k, v in (("category", found.category), ("agency", found.agency)) if v}

    async def save_voicemail(self, call_id: str, name: str, ended_by: str, *,
                             closed: bool = False, node: str = "") -> SavedMessage | None:
        """Log the message once its file is closed (the file is kept whatever it holds), make it a
        ticket at once, and queue its transcription. None when there is no file at all.

        Args:
            closed: Asterisk reported the recording finished, so the file is complete as it is
                (even with no audio in it): nothing to wait for.
            node: the flow's message node the caller was at (its category and agency: ``message_route``).
        """
        path = self.voicemail_path(name)
        if closed and not await asyncio.to_thread(path.exists):
            log.warning("call=%s no message file at %s", call_id, path)
            return None
        wait = CLOSED_FILE_WAIT if closed else self.file_wait
        if not await audio.until_complete(path, wait, allow_empty=closed):
            if not path.exists():
                log.warning("call=%s no message file at %s", call_id, path)
                return None
            repaired = await asyncio.to_thread(audio.repair_wav, path)     # Asterisk died or its disk filled
            log.warning("call=%s message file %s never closed by Asterisk: %s", call_id, path,
                        "its header repaired to the audio on disk" if repaired else "logged as it is")
        facts = await asyncio.to_thread(audio.audio_facts, path, self.recordings_root)
        return await self.keep_message(call_id, facts, ended_by, node=node)

    async def keep_message(self, call_id: str, facts: AudioFacts, ended_by: str, *, node: str = "") -> SavedMessage:
        """The message's rows and ticket, in the call log's order; its work queued in the background
        (a Redis outage must not delay the caller). Without the database, the message waits in the call
        log's spool: its rows, ticket and work come when the spool is replayed. ``node``: the flow's message
        node it was left at (its ticket's category and agency)."""
        saved = await self.log.call("save_message", call_id, facts, ended_by=ended_by, created_at=self.now(),
                                    **self.message_route(node))
        if saved is PENDING:
            log.warning("call=%s message %s kept in the call log's spool: ticket once the database is back",
                        call_id, facts.path)
            return SavedMessage(None, None)
        self._queue_work(saved)
        return saved

    def _queue_work(self, saved: SavedMessage) -> None:
        if saved.ticket is not None:
            task = asyncio.create_task(asyncio.to_thread(self.messages.queue_work, saved),
                                       name=f"queue-vm-{saved.voicemail_id}")
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def end_call(self, call_id: str, disposition: str, rec_file: Path, ended_at: datetime | None = None) -> None:
        await self.log.call("end_call", call_id, ended_at=ended_at or self.now(), disposition=disposition)
        await self.finish_recording(call_id, rec_file)

    async def finish_recording(self, call_id: str, rec_file: Path) -> bool:
        """Add the Recording row once MixMonitor has closed the call's file."""
        if not await audio.until_complete(rec_file, self.file_wait):
            # Nobody has written it for a while (a recording being made is written every 20 ms): its writer
            # died with Asterisk. Repaired now rather than at the sweep, minutes later.
            if not (await asyncio.to_thread(audio.abandoned, rec_file, QUIET_FOR_REPAIR)
                    and await asyncio.to_thread(audio.repair_wav, rec_file)):
                log.warning("call=%s recording %s not complete yet; the sweep will pick it up", call_id, rec_file)
                return False
            log.warning("call=%s recording %s never closed by Asterisk: its header repaired to the audio on disk",
                        call_id, rec_file)
        facts = await asyncio.to_thread(audio.audio_facts, rec_file, self.recordings_root)
        await self.log.call("add_recording", call_id, facts, self.now())
        log.info("call=%s recording %s: %.1f s sha256=%s", call_id, facts.path, facts.duration, facts.sha256[:12])
        return True
