"""Put the call log right against what Asterisk shows: Asterisk keeps no missed ARI events.

Run after the app (re)connects and, more lightly, every ``[ari] reconcile_seconds``:

* calls still in the Stasis app are adopted through the engine (``HotlineApp.adopt``): bridged
  ones stay bridged, one whose desk is still ringing waits for it (answered meanwhile: bridged now),
  a message being recorded keeps recording, others resume at the node they had reached; callers in
  app_queue or the ticket lookup (the dialplan) are followed until they come back or hang up;
* calls held in memory whose channel is gone (a hangup missed while the WebSocket was down) end;
* calls the log thinks open whose channel is gone are closed (a periodic pass closes a row only
  when it saw it open and unheld twice: a call that just ended has its own write on the way);
* recordings and messages whose rows are missing are logged (also files of calls
  taken by the dialplan fallback while neither the app nor the AGI server ran).

Only this node's calls (``[cluster] node``; rows from before nodes were recorded count as its own): the
open rows of another node are never closed or adopted here, whatever Asterisk shows. The calls of a node
declared dead are closed through ``close_lost`` (``ari_app.cluster``), by the one node that declared it.
"""
from __future__ import annotations

import asyncio
import logging
import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hotline.domain.flows import engine as fe
from hotline.domain.flows.model import VoicemailNode
from hotline.domain.vocabulary import Context, Direction, Disposition

from . import audio
from .call import CallerHungUp
from .services import CallServices

if TYPE_CHECKING:
    from .app import HotlineApp

log = logging.getLogger("ari_app.reconcile")

#: Seconds without a write after which a WAV Asterisk never closed is taken as abandoned (a recording in
#: progress is written every 20 ms; a live channel's files are never touched whatever their age).
ABANDONED_AFTER = 60.0
#: The files are swept at every (re)connection and every this many periodic passes (30 s each: 5 minutes).
SWEEP_EVERY = 10

_PLACES = {fe.AT_NODE: "at its node", fe.BRIDGED: "still bridged", fe.TRANSFERRING: "while its desk is dialled",
           fe.RECORDING: "while recording a message",
           fe.IN_QUEUE: "in the queue", fe.IN_TICKET_STATUS: "in the ticket lookup"}

#: Where a caller outside Stasis is, by the dialplan context Asterisk lists for the channel.
IN_DIALPLAN = {Context.QUEUE: fe.IN_QUEUE, Context.TICKET_STATUS: fe.IN_TICKET_STATUS}

#: A desk's leg is named after its caller's channel (ari_app/call.py, Call._transfer).
DESK_LEG = re.compile(r"(?P<caller>.+)-desk\d+")


class Reconciler:
    def __init__(self, services: CallServices, sweep_days: int = 2) -> None:
        self.s = services
        self.repo = services.log.repo
        self.sweep_days = sweep_days
        self._unheld: set[str] = set()      # open rows seen with no channel by the last periodic pass
        self._passes = 0

    async def run(self, app: HotlineApp, periodic: bool = False) -> None:
        """After a (re)connection (``periodic`` False: every open row without a channel is closed and the
        files are swept) or as the periodic check."""
        held_before = set(app.calls)        # a call started after the listing is not in it
        channels = await self.s.ari.channels()
        bridges = await self.s.ari.bridges()
        in_bridge = {ch: b for b in bridges for ch in b.get("channels", [])}
        live = {c["id"] for c in channels}
        desks = {m["caller"]: c for c in channels if (m := DESK_LEG.fullmatch(c["id"])) and c["id"] not in in_bridge}
        for channel in channels:
            await self._follow(app, channel, in_bridge.get(channel["id"]), desks.get(channel["id"]))
        for call in [app.calls[c] for c in held_before if c in app.calls]:
            if call.channel_id not in live:
                log.info("call=%s channel gone while the app was not told: ending it", call.call_id)
                call.post(CallerHungUp(None))
        # A call with writes still on the way (in the call log's spool while the database was away): its
        # own end_call will close it, with its real disposition.
        waiting = self.s.log.pending_calls()
        unheld = {c for c in await asyncio.to_thread(self.repo.open_call_ids)
                  if c not in live and c not in app.calls and c not in waiting}
        # Side by side: each waits for its files (up to the services' file_wait), and a crash of Asterisk
        # leaves every live call here at once.
        await asyncio.gather(*(self._close_missed(call_id)
                               for call_id in sorted((unheld & self._unheld) if periodic else unheld)))
        self._unheld = unheld if periodic else set()
        self._passes = 0 if not periodic else self._passes + 1
        if not periodic or self._passes % SWEEP_EVERY == 0:
            await self.sweep_files(frozenset(live | set(app.calls) | waiting))

    async def _follow(self, app: HotlineApp, channel: dict[str, Any], bridge: dict[str, Any] | None,
                      desk: dict[str, Any] | None = None) -> None:
        """Adopt ``channel`` if it is a caller of this hotline that nobody follows (``desk``: its desk's
        leg, ringing or answered, not in a bridge)."""
        held = app.calls.get(channel["id"])
        args = stasis_args(channel, self.s.ari.app)
        if args is None:            # in the dialplan
            where = IN_DIALPLAN.get((channel.get("dialplan") or {}).get("context", ""))
            if held is None and where is not None:
                await self._adopt(app, channel, None, where)
            return
        if not args or args[0] == "desk":
            return
        if args[0] == "ticket-status-return":   # came back while no app listened: carry on from there
            if held is None or held.in_dialplan:
                app.ticket_status_return(channel, args)
            return
        if args[0] == "queue-return":
            if held is None or held.in_dialplan:
                app.queue_return(channel, args)
            return
        if held is None:
            where = fe.BRIDGED if bridge is not None else fe.TRANSFERRING if desk is not None else fe.AT_NODE
            await self._adopt(app, channel, Path(args[0]), where, bridge, dialled=args[2] if len(args) > 2 else "",
                              desk=desk)

    async def _adopt(self, app: HotlineApp, channel: dict[str, Any], rec_file: Path | None, where: str,
                     bridge: dict[str, Any] | None = None, dialled: str = "", desk: dict[str, Any] | None = None
                     ) -> None:
        row = await asyncio.to_thread(self.repo.get, channel["id"])
        if channel["id"] in app.calls:      # its StasisStart (or return) came meanwhile
            return
        if row is None:
            if rec_file is not None and where == fe.AT_NODE:     # in Stasis, never logged: a new call
                app.start_call(channel, rec_file, dialled, None)
                log.info("call=%s adopted (not in the log): flow restarted", channel["id"])
            return          # in the dialplan but not a call of this hotline's log: nothing to follow
        node = row.get("node") or ""
        if rec_file is None and row.get("recording_file"):
            rec_file = Path(row["recording_file"])
        if where == fe.AT_NODE and rec_file is not None and isinstance(self.s.engine.flow.nodes.get(node),
                                                                       VoicemailNode):
            message = self.s.voicemail_path(self.s.voicemail_name(rec_file))
            if await asyncio.to_thread(message.exists):      # no file: the beep at most, nothing recorded yet
                where = fe.RECORDING
            if channel["id"] in app.calls:
                return
        disposition = row.get("disposition") or Disposition.ABANDONED_IVR
        key = await asyncio.to_thread(self.repo.open_transfer_key, channel["id"]) \
            if where in (fe.BRIDGED, fe.TRANSFERRING) else None
        if channel["id"] in app.calls:
            return
        call = app.adopt(channel, rec_file, node, disposition, where, bridge, key, desk)
        log.info("call=%s adopted %s (node %s)%s", call.call_id, _PLACES[where], node or "?",
                 f": bridged to {call.desk_channel}" if call.desk_channel else "")

    async def close_lost(self, call_ids: list[str], disposition: str) -> None:
        """Close calls whose node died (``disposition`` for those still in progress), as a missed hangup is."""
        await asyncio.gather(*(self._close_missed(call_id, disposition) for call_id in sorted(call_ids)))

    async def _close_missed(self, call_id: str, unfinished: str = Disposition.ABANDONED_IVR) -> None:
        """Close an open row whose channel is gone: ``unfinished`` when it was in progress; a message on
        disk is kept (a ticket) and the recording finished."""
        row = await asyncio.to_thread(self.repo.get, call_id)
        if row is None or row.get("ended_at"):
            return
        disposition = row["disposition"]
        if disposition == Disposition.IN_PROGRESS:
            disposition = unfinished if row.get("direction") != Direction.OUT else (
                Disposition.OUT_ANSWERED if row.get("answered_at") else Disposition.OUT_FAILED)   # a call out
        rec_file = Path(row["recording_file"]) if row.get("recording_file") else None
        ended = self.s.now()
        if rec_file is not None and rec_file.exists():
            ended = self.s.from_real(rec_file.stat().st_mtime)
        vm_name = self.s.voicemail_name(rec_file) if rec_file else None
        if vm_name and self.s.voicemail_path(vm_name).exists():
            await self.s.save_voicemail(call_id, vm_name, "hangup", node=row.get("node") or "")
            disposition = Disposition.VOICEMAIL
        if not await asyncio.to_thread(self.repo.end_call, call_id, ended_at=ended, disposition=disposition):
            return      # closed meanwhile by its own writer
        log.info("call=%s ended while the app was away: %s", call_id, disposition)
        if rec_file is not None and await asyncio.to_thread(rec_file.exists):
            # Now, as for a call the app followed to its end: its writer gone (Asterisk died with it), the
            # file is repaired once quiet, rather than at a sweep minutes later.
            await self.s.finish_recording(call_id, rec_file)

    async def sweep_files(self, busy: frozenset[str] = frozenset()) -> None:
        """Log the files that have no row yet: call recordings, and messages (each becomes a row and a
        ticket). A file Asterisk never closed (it died, or its disk filled) and nobody has written to for
        ABANDONED_AFTER seconds has its header repaired first. ``busy``: call ids whose files are still
        someone's (live channels, calls held). Idempotent; never deletes anything."""
        for call_id, rec in await asyncio.to_thread(self.repo.ended_without_recording):
            if rec and call_id not in busy and await asyncio.to_thread(self._closed, Path(rec)):
                await self.s.finish_recording(call_id, Path(rec))
        # Listing a day's recordings touches the disk: done off the event loop.
        for path in await asyncio.to_thread(self._unlogged_files, busy):
            await self._log_orphan(path)
        for call_id, path in await asyncio.to_thread(self._unlogged_messages, busy):
            facts = await asyncio.to_thread(audio.audio_facts, path, self.s.recordings_root)
            row = await asyncio.to_thread(self.repo.get, call_id)     # its node: what the message's ticket is
            saved = await self.s.keep_message(call_id, facts, "unknown", node=(row or {}).get("node") or "")
            log.info("call=%s message %s had no row: kept (%.1f s), ticket %s", call_id, facts.path,
                     facts.duration, saved.ticket_code or "none")

    def _days(self) -> list[Path]:
        today = self.s.now().date()
        return [self.s.recordings_root / f"{today - timedelta(days=back):%Y/%m/%d}" for back in range(self.sweep_days)]

    def _closed(self, path: Path) -> bool:
        """Closed by its writer, or abandoned and now repaired (blocking)."""
        if audio.wav_complete(path):
            return True
        if audio.abandoned(path, ABANDONED_AFTER) and audio.repair_wav(path):
            log.warning("%s was never closed by Asterisk: header repaired to the audio on disk", path)
            return audio.wav_complete(path, allow_empty=True)
        return False

    def _unlogged_files(self, busy: frozenset[str] = frozenset()) -> list[Path]:
        """Closed files of the last days whose call has no row: the call's recording, or its message when
        the recording is missing (blocking: run in a thread)."""
        found: list[Path] = []
        for day_dir in self._days():
            files = {_call_of(p): p for p in sorted(day_dir.glob("*.wav"))}   # X.wav after X.voicemail.wav: it wins
            files = {c: p for c, p in files.items() if c not in busy}
            known = self.repo.known_call_ids(list(files)) if files else set()
            found += [p for c, p in files.items() if c not in known and self._closed(p)]
        return found

    def _unlogged_messages(self, busy: frozenset[str] = frozenset()) -> list[tuple[str, Path]]:
        """(call id, file) of the last days' messages with no Voicemail row whose call has a row (a call
        with no row is logged from its files first: ``_log_orphan``). Blocking: run in a thread."""
        found: list[tuple[str, Path]] = []
        root = self.s.recordings_root
        for day_dir in self._days():
            files = {p.name.removesuffix(".voicemail.wav"): p for p in day_dir.glob("*.voicemail.wav")}
            files = {c: p for c, p in files.items() if c not in busy}
            if not files:
                continue
            known = self.repo.known_message_paths([str(p.relative_to(root)) for p in files.values()])
            calls = self.repo.known_call_ids(list(files), mine=True)     # another node's: its own to log
            found += [(c, p) for c, p in files.items()
                      if c in calls and str(p.relative_to(root)) not in known and self._closed(p)]
        return found

    async def _log_orphan(self, path: Path) -> None:
        """A call taken by the dialplan fallback that nobody logged: log it from its files (its recording,
        or its message alone when the recording is missing)."""
        facts = await asyncio.to_thread(audio.audio_facts, path, self.s.recordings_root)
        ended = self.s.from_real((await asyncio.to_thread(path.stat)).st_mtime)
        started = ended - timedelta(seconds=facts.duration)
        call_id = _call_of(path)
        recording = path.with_name(f"{call_id}.wav")
        await asyncio.to_thread(self.repo.start_call, call_id, channel_id=call_id, caller="", dialled="",
                                started_at=started, answered_at=started, recording_file=str(recording),
                                disposition=Disposition.APP_FALLBACK)
        await asyncio.to_thread(self.repo.end_call, call_id, ended_at=ended, disposition=Disposition.APP_FALLBACK)
        if path == recording:
            await asyncio.to_thread(self.repo.add_recording, call_id, facts, self.s.now())
        vm = path.with_name(f"{call_id}.voicemail.wav")
        if vm.exists() and await asyncio.to_thread(self._closed, vm):
            vm_facts = await asyncio.to_thread(audio.audio_facts, vm, self.s.recordings_root)
            await self.s.keep_message(call_id, vm_facts, "unknown")
        log.info("call=%s logged from its files (dialplan fallback)", call_id)


def _call_of(path: Path) -> str:
    """The call id a recording or message file is named after."""
    return path.name.removesuffix(".voicemail.wav").removesuffix(".wav")


def stasis_args(channel: dict[str, Any], app: str) -> list[str] | None:
    plan = channel.get("dialplan") or {}
    if plan.get("app_name") != "Stasis":
        return None
    data = plan.get("app_data") or ""
    parts = data.split(",")
    if parts[0] != app:
        return None
    return parts[1:]
