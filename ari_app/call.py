"""One object per call: runs the flow engine for one caller channel.

Events from the app's dispatcher land in this call's queue; one task consumes
them in order, asks the pure engine what to do and performs the actions over
ARI. Every transition is logged as ``call=<id> main:input --dtmf 3--> department:prompt``.
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from hotline.domain.flows import engine as fe
from hotline.domain.redact import masked_number
from hotline.domain.vocabulary import Context, Disposition
from hotline.services.alerts import note_lost_message

from . import audio
from .client import AriClient, AriError
from .services import CallServices

log = logging.getLogger("ari_app.call")


@dataclass(frozen=True)
class CallerHungUp:
    at: datetime | None = None     # when Asterisk saw the hangup, on the hotline clock


@dataclass(frozen=True)
class _Timer:
    event: fe.Event
    generation: int


class Call:
    """A live call: its channel, its flow state, its timers and its desk leg."""

    def __init__(self, services: CallServices, *, call_id: str, channel_id: str, caller: str,
                 rec_file: Path, state: fe.CallState | None = None) -> None:
        self.s = services
        self.ari: AriClient = services.ari
        self.call_id = call_id
        self.channel_id = channel_id
        self.caller = caller
        self.rec_file = rec_file
        self.state = state
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.playback_id: str | None = None
        self.recording_name: str | None = None
        self.voicemail_max: float = 0.0
        self.voicemail_ended_by = "hangup"
        self.voicemail_saved = False
        self.message: fe.VoicemailDone | None = None    # how the message ended, once it is settled
        self._recording_reported = asyncio.Event()      # Asterisk said the recording ended
        self._saving: asyncio.Task[None] | None = None
        self.desk_channel: str | None = None
        self.bridge_id: str | None = None
        self.transfer_key: str | None = None    # the desk attempt's name in the call log (no DB round-trip)
        self._seq = itertools.count(1)
        self._generation = 0
        self._timer: asyncio.TimerHandle | None = None
        self.done = asyncio.Event()
        self.ended_at: datetime | None = None
        self.in_dialplan = False      # in app_queue or the ticket lookup: a StasisEnd is not a hangup
        self._saving_watch: asyncio.Future[None] | None = None
        self._lost_note: asyncio.Future[None] | None = None

    # -- inbound (from the dispatcher) ----------------------------------------
    def post(self, item: Any) -> None:
        self.queue.put_nowait(item)

    def dtmf(self, key: str) -> None:
        if key == "#" and self.recording_name and self.voicemail_ended_by == "hangup":
            self.voicemail_ended_by = "pound"       # '#' is what ends a message; seen before RecordingFinished
        self.post(fe.Digit(key))

    def playback_finished(self, playback_id: str) -> None:
        if playback_id == self.playback_id:
            self.playback_id = None
            self.post(fe.PromptsDone())

    # -- main loop --------------------------------------------------------------
    async def run(self, first: fe.Step, why: str = "start") -> None:
        """Run the flow from ``first``: the engine's start, or its adoption of a call already under way."""
        try:
            await self._apply(None, first, why)
            if self.in_dialplan:        # adopted in app_queue or the ticket lookup: hear of a hangup there
                await self._perform_subscribe()
            while self.state is not None and self.state.phase != "done":
                item = await self.queue.get()
                if isinstance(item, CallerHungUp):
                    self.ended_at = item.at
                    break
                if isinstance(item, _Timer):
                    if item.generation != self._generation:
                        continue
                    item = item.event
                step = self.s.engine.handle(self.state, item)
                await self._apply(self.state, step, _describe(item))
        except asyncio.CancelledError:
            # The app is stopping: the caller stays where they are in Asterisk, and the next start adopts
            # them. Finishing here would hang up every caller at each restart of the app.
            log.info("call=%s left as it is for the next start of the app", self.call_id)
            raise
        except Exception:
            log.exception("call=%s flow failed; hanging up", self.call_id)
        await self._finish()

    async def _apply(self, before: fe.CallState | None, step: fe.Step, why: str) -> None:
        state, actions = step
        if before is None or state != before or actions:
            log.info("call=%s %s --%s--> %s", self.call_id, before.label if before else "answer", why, state.label)
        # What the step records goes to the call log first, in its order: the keys pressed before the node
        # they lead to. Written after an ARI request (a StopPlayback), a restart in between (the node written,
        # the keys not yet) lost the keys from the call's path: the restarted app resumes at the new node.
        for action in actions:
            if isinstance(action, fe.Note):
                self._note(action, state)
        changed: dict[str, Any] = {}
        if before is None or state.disposition != before.disposition:
            changed["disposition"] = state.disposition
        if before is None or state.node != before.node:
            changed["node"] = state.node      # where a restarted app resumes the call
        if changed:
            self.s.log.update(self.call_id, **changed)
        self.state = state
        self._cancel_timer()
        for action in actions:
            if not isinstance(action, fe.Note):
                await self._perform(action)

    async def _perform_subscribe(self) -> None:
        try:
            await self.ari.subscribe(f"channel:{self.channel_id}")
        except AriError:        # gone since Asterisk listed it: the reconciler closes its row
            log.info("call=%s gone before it could be followed", self.call_id)
            self.post(CallerHungUp(None))

    async def _perform(self, action: fe.Action) -> None:
        try:
            await self._dispatch(action)
        except AriError as exc:
            # The channel went away meanwhile (subscribing to it then says its event source is gone):
            # the hangup event follows.
            if exc.status == 404 or (exc.status == 422 and "Event source does not exist" in str(exc)):
                log.info("call=%s %s skipped: channel gone", self.call_id, type(action).__name__)
                return
            raise

    async def _dispatch(self, action: fe.Action) -> None:
        if isinstance(action, fe.Play):
            self.playback_id = f"{self.channel_id}:p{next(self._seq)}"
            media = [f"sound:{self.s.prompt_path(p)}" for p in action.prompts]
            await self.ari.play(self.channel_id, media, self.playback_id)
        elif isinstance(action, fe.StopPlayback):
            await self._stop_playback()
        elif isinstance(action, fe.WaitForInput):
            self._start_timer(action.timeout, fe.InputTimeout())
        elif isinstance(action, fe.Transfer):
            await self._transfer(action.agency)
        elif isinstance(action, fe.EnterQueue):
            await self._enter_queue(action.max_wait)
        elif isinstance(action, fe.EnterTicketStatus):
            await self._enter_ticket_status(action.node)
        elif isinstance(action, fe.RecordVoicemail):
            await self._record_voicemail(action.max_seconds)
        elif isinstance(action, fe.KeepCallback):
            await self._keep_callback(action.number, action.position)
        elif isinstance(action, fe.Hangup):
            await self.ari.hangup(self.channel_id)

    def _note(self, note: fe.Note, state: fe.CallState) -> None:
        """Log what ``note`` records; ``state``: the state its step leads to."""
        if note.keys is not None:
            self.s.log.add_step(self.call_id, note.node, note.keys)
            if note.node != state.node:                                   # add_step set the node keyed at
                self.s.log.update(self.call_id, node=state.node)          # where a restart resumes: here
        if note.fields:
            fields = {k: v for k, v in note.fields.items() if k != "invalid"}
            if fields:
                self.s.log.update(self.call_id, **fields)

    # -- timers -----------------------------------------------------------------
    def _start_timer(self, seconds: float, event: fe.Event) -> None:
        self._cancel_timer()
        gen = self._generation
        self._timer = asyncio.get_running_loop().call_later(seconds, self.post, _Timer(event, gen))

    def _cancel_timer(self) -> None:
        self._generation += 1
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- the operator queue (app_queue, in the dialplan) ------------------------------
    async def _enter_queue(self, max_wait: float | None) -> None:
        """Hand the caller to app_queue; the dialplan sends them back with the outcome."""
        max_wait = max_wait or self.s.settings.queue.max_wait
        await self.ari.subscribe(f"channel:{self.channel_id}")   # still hear of the hangup while away
        await self.ari.set_variable(self.channel_id, "QUEUE_MAX_WAIT", str(int(max_wait)))
        self.in_dialplan = True
        self.s.log.update(self.call_id, queued_at=self.s.now())
        await self._written()
        await self.ari.continue_in_dialplan(self.channel_id, Context.QUEUE)

    def queue_returned(self, status: str, operator: str, position: int = 0) -> None:
        self.in_dialplan = False
        self.post(fe.QueueReturned(status, operator, caller=self.caller, position=position))

    # -- call-back instead of waiting (key 2 in the queue) -------------------------------
    async def _keep_callback(self, number: str, position: int) -> None:
        """The call-back a waiting caller confirmed: its row, then its placeholder in the queue at the caller's
        place (a Local channel: its second half waits in app_queue with the citizen's number as caller ID; when an
        operator answers it, its first half runs [hotline-callback-connect], which calls the citizen through the
        outbound route). Either failing: the flow hears CallbackKept(False) and nothing is promised."""
        place = f"{self.channel_id}-cb"
        callback_id: int | None = None
        placed = False
        if not self.s.settings.callback.dial:   # no outbound route: nobody could ever be called back
            log.warning("call=%s call-back asked but [callback] dial is not set: not kept", self.call_id)
            self.post(fe.CallbackKept(False))
            return
        try:
            await self._written()               # the call's row first: the call-back belongs to it
            callback_id = await asyncio.to_thread(self.s.callbacks.request, self.call_id, number, position,
                                                    place)
            await self.ari.originate_to_dialplan(
                f"Local/s@{Context.CALLBACK_PLACE}/n", channel_id=place, context=Context.CALLBACK_CONNECT,
                caller_id=f'"Gọi lại" <{number}>',
                variables={"CALLBACK_ID": str(callback_id), "CALLBACK_NUMBER": number,
                           "CALLBACK_POSITION": str(position or ""), "__CALLBACK_OF": self.call_id})
            placed = True
            await asyncio.to_thread(self.s.callbacks.placed, callback_id, place)
        except Exception as exc:
            log.warning("call=%s call-back to %s not kept: %s", self.call_id, masked_number(number), exc)
            if placed:          # the placeholder waits but nothing follows it: it must not ring an operator
                with contextlib.suppress(AriError):
                    await self.ari.hangup(place)
            if callback_id is not None:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self.s.callbacks.failed, callback_id, "not_placed")
            self.post(fe.CallbackKept(False))
            return
        log.info("call=%s call-back %s to %s waits in the queue at position %s as %s", self.call_id, callback_id,
                 masked_number(number), position or "last", place)
        self.post(fe.CallbackKept(True))

    # -- ticket status by phone (the AGI server, in the dialplan) ------------------------
    async def _enter_ticket_status(self, node: str) -> None:
        """Hand the caller to [hotline-ticket-status]; the dialplan sends them back with the outcome."""
        await self.ari.subscribe(f"channel:{self.channel_id}")   # still hear of the hangup while away
        await self.ari.set_variable(self.channel_id, "TICKET_NODE", node)
        self.in_dialplan = True
        await self._written()
        await self.ari.continue_in_dialplan(self.channel_id, Context.TICKET_STATUS)

    async def _written(self) -> None:
        """Until what the call did so far (its keys, its steps) is in the database or the durable spool: an app
        killed while the caller is in the dialplan must find it after its restart (a write only queued in
        memory dies with it; seen in CI: the key that led to the ticket lookup was lost)."""
        await self.s.log.flush()

    def ticket_status_returned(self, outcome: str, keys: tuple[str, ...]) -> None:
        self.in_dialplan = False
        self.post(fe.TicketStatusReturned(outcome, keys))

    # -- playback / voicemail -------------------------------------------------------
    async def _stop_playback(self) -> None:
        if self.playback_id is None:
            return
        playback, self.playback_id = self.playback_id, None
        with contextlib.suppress(AriError):
            await self.ari.stop_playback(playback)

    async def _record_voicemail(self, max_seconds: float | None) -> None:
        seconds = max_seconds or self.s.settings.voicemail.max_seconds
        self.recording_name = self.s.voicemail_name(self.rec_file)
        self.voicemail_max = seconds
        try:
            await self.ari.record(self.channel_id, self.recording_name, max_seconds=seconds, beep=True)
        except AriError:
            self.recording_name = None      # the caller left first: no recording, nothing to wait for
            raise

    def adopt_message(self, max_seconds: float) -> None:
        """Adopted while recording a message (an app restart): the recording goes on in Asterisk. Its
        file says whether it has ended meanwhile (a closed WAV) or is still being written; a report
        that never comes is settled from the disk after the longest message."""
        self.recording_name = self.s.voicemail_name(self.rec_file)
        self.voicemail_max = max_seconds
        self._saving_watch = asyncio.ensure_future(self._watch_adopted_message())

    async def _watch_adopted_message(self) -> None:
        name = self.recording_name or ""
        path = self.s.voicemail_path(name)
        if await asyncio.to_thread(audio.wav_complete, path, allow_empty=True):
            # Ended while no app listened, the caller still on the line: as if they pressed '#'.
            self.voicemail_ended_by = "pound"
            self.recording_finished(name, await asyncio.to_thread(audio.wav_duration, path), failed=False)
            return
        log.info("call=%s adopted while recording a message: recording goes on", self.call_id)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._recording_reported.wait(), self.voicemail_max + 5)
        if not self._recording_reported.is_set():     # no word from Asterisk: the file will say
            self._recording_reported.set()
            self._saving = asyncio.create_task(self._save_message(self.voicemail_ended_by, on_disk=None))

    def recording_finished(self, name: str, duration: float | None, failed: bool) -> None:
        if name != self.recording_name or self._recording_reported.is_set():
            return
        self._recording_reported.set()
        if failed:
            ended_by = "failed"
            log.error("call=%s Asterisk could not record the message %s", self.call_id, name)
            lost = asyncio.to_thread(note_lost_message, self.s.settings.paths.state_dir, self.call_id,
                                     "Asterisk could not record the message (disk full or not writable?)")
            self._lost_note = asyncio.ensure_future(lost)       # the watch e-mails the supervisors
        elif self.voicemail_ended_by == "pound":
            ended_by = "pound"
        elif duration is not None and duration >= self.voicemail_max - 1:
            ended_by = "max_duration"
        else:
            ended_by = "hangup"
        self.voicemail_ended_by = ended_by
        # Asterisk gives a duration only once it has opened the message file: none, and the caller
        # left during the beep (no file will ever come); one, and the file is already closed.
        self._saving = asyncio.create_task(self._save_message(ended_by, on_disk=duration is not None),
                                           name=f"save-{self.call_id}")

    async def _save_message(self, ended_by: str, on_disk: bool | None) -> None:
        """Log the message (a ticket at once), then tell the flow: the code to read back to a caller
        still on the line, or that there was no message at all. ``on_disk`` None: not reported by
        Asterisk, wait for the file to be closed."""
        saved, recorded = None, on_disk is not False
        if recorded:
            try:
                saved = await self.s.save_voicemail(self.call_id, self.recording_name or "", ended_by,
                                                    closed=on_disk is True, node=self._message_node())
                recorded = saved is not None
            except Exception:
                log.exception("call=%s message not saved yet; it is saved again at hangup", self.call_id)
        else:
            log.info("call=%s no message: the caller left before the beep ended", self.call_id)
        self.voicemail_saved = saved is not None
        self.message = fe.VoicemailDone(ended_by, ticket_code=(saved.ticket_code or "") if saved else "",
                                        recorded=recorded)
        self.post(self.message)

    def _message_node(self) -> str:
        """The flow's message node the caller is recording at (or was, when it ended): it says what the ticket is."""
        return self.state.node if self.state is not None else ""

    async def _settle_message(self, state: fe.CallState | None) -> fe.CallState | None:
        """At the end of a call that recorded a message: save it if not yet done and, if the caller left
        before the flow heard how it ended, let the engine say what the call became."""
        if not self.recording_name:
            return state
        if not self._recording_reported.is_set():   # the hangup came first: the report follows at once
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._recording_reported.wait(), self.s.recording_report_wait)
        if self._saving is None:    # never reported (a message recorded before a restart): the disk says
            self._saving = asyncio.create_task(self._save_message(self.voicemail_ended_by, on_disk=None))
        await self._saving
        if self.message is not None and self.message.recorded and not self.voicemail_saved:
            try:
                self.voicemail_saved = await self.s.save_voicemail(
                    self.call_id, self.recording_name, self.voicemail_ended_by, node=self._message_node()) is not None
            except Exception:    # the call is closed all the same; the file stays on disk
                log.exception("call=%s message not saved", self.call_id)
        if state is not None and state.phase == "voicemail" and self.message is not None:
            state, _ = self.s.engine.handle(state, self.message)
        return state

    # -- transfer ---------------------------------------------------------------------
    async def _transfer(self, agency: Any) -> None:
        self.desk_channel = f"{self.channel_id}-desk{next(self._seq)}"
        log.info("call=%s dialling %s %s (%s) via %s", self.call_id, agency.kind, agency.code, agency.name,
                 agency.desk.dial)
        with contextlib.suppress(AriError):
            await self.ari.ring(self.channel_id)
        # Logged before dialling, and awaited (in the database, or in the durable spool when it is away):
        # a busy desk answers within milliseconds, and an app killed while the desk rings must find the
        # attempt after its restart (a write only queued in memory died with it).
        self.transfer_key = uuid.uuid4().hex
        await self.s.log.call("start_transfer", self.call_id, key=self.transfer_key, kind="ivr",
                              target=f"{agency.kind}:{agency.code}", started_at=self.s.now())
        try:
            await self.ari.originate(agency.desk.dial, channel_id=self.desk_channel,
                                     app_args=f"desk,{self.channel_id}",
                                     timeout=self.s.settings.ivr.transfer_ring_seconds,
                                     caller_id=self.caller or "1022", originator=self.channel_id)
        except AriError as exc:
            log.warning("call=%s cannot dial %s: %s", self.call_id, agency.desk.dial, exc)
            self.desk_channel = None
            self._transfer_log(outcome="failed", ended_at=self.s.now())
            self.post(fe.TransferResult(False, "failed"))
            return
        self._start_timer(self.s.settings.ivr.transfer_ring_seconds + 5, fe.TransferResult(False, "noanswer"))

    def _transfer_log(self, **fields: Any) -> None:
        if self.transfer_key is not None:
            self.s.log.finish_transfer(self.call_id, self.transfer_key, **fields)

    async def desk_answered(self, channel_id: str) -> None:
        if channel_id != self.desk_channel or self.state is None or self.state.phase != "transfer":
            with contextlib.suppress(AriError):
                await self.ari.hangup(channel_id)
            return
        self.bridge_id = f"bridge-{self.channel_id}"
        with contextlib.suppress(AriError):
            await self.ari.ring_stop(self.channel_id)
        await self.ari.create_bridge(self.bridge_id, f"1022 {self.call_id}")
        await self.ari.add_to_bridge(self.bridge_id, [self.channel_id, channel_id])
        self._transfer_log(outcome="answered", answered_at=self.s.now())
        self.post(fe.TransferResult(True))

    async def resume_transfer(self, channel_id: str, answered: bool) -> None:
        """Adopted while its desk's leg ``channel_id`` rang (an app restart): bridge it if it has answered
        meanwhile, else wait for its answer as the first process would have."""
        if answered:
            await self.desk_answered(channel_id)
        else:
            self._start_timer(self.s.settings.ivr.transfer_ring_seconds + 5, fe.TransferResult(False, "noanswer"))

    def desk_gone(self, channel_id: str, cause: int | None) -> None:
        if channel_id != self.desk_channel:
            return
        self.desk_channel = None
        if self.state is not None and self.state.phase == "bridged":
            self._transfer_log(ended_at=self.s.now())
            self.post(fe.BridgeEnded())
        else:
            reason = {17: "busy", 18: "noanswer", 19: "noanswer", 21: "rejected"}.get(cause or 0, "failed")
            self._transfer_log(outcome=reason, ended_at=self.s.now())
            self.post(fe.TransferResult(False, reason))

    # -- the end ------------------------------------------------------------------------
    async def _finish(self) -> None:
        self._cancel_timer()
        if self._saving_watch is not None:
            self._saving_watch.cancel()
        if self.desk_channel:
            if self.state is not None and self.state.phase == "transfer":   # the caller left while it rang
                self._transfer_log(outcome="abandoned", ended_at=self.s.now())
            elif self.state is not None and self.state.phase == "bridged":
                self._transfer_log(ended_at=self.s.now())
            with contextlib.suppress(AriError):
                await self.ari.hangup(self.desk_channel)
        if self.bridge_id:
            with contextlib.suppress(AriError):
                await self.ari.destroy_bridge(self.bridge_id)
        if not self.in_dialplan or self.ended_at is None:
            with contextlib.suppress(AriError):
                await self.ari.hangup(self.channel_id)
        self._take_hangup_time()
        state = await self._settle_message(self.state)
        disposition = state.disposition if state else Disposition.ABANDONED_IVR
        await self.s.end_call(self.call_id, disposition, self.rec_file, self.ended_at)
        log.info("call=%s ended: %s", self.call_id, disposition)
        self.done.set()

    def _take_hangup_time(self) -> None:
        """The flow ended by itself (it hung up): the caller's hangup, if already queued, says when."""
        while self.ended_at is None and not self.queue.empty():
            item = self.queue.get_nowait()
            if isinstance(item, CallerHungUp):
                self.ended_at = item.at


def _describe(item: Any) -> str:
    if isinstance(item, fe.Digit):
        return f"dtmf {item.key}"
    if isinstance(item, fe.TransferResult):
        return "desk answered" if item.answered else f"desk {item.reason}"
    if isinstance(item, fe.VoicemailDone):
        return f"message ended ({item.ended_by})"
    if isinstance(item, fe.TicketStatusReturned):
        return f"ticket lookup {item.outcome or '?'}"
    return type(item).__name__
