"""Put the call log right after the app (re)connects: Asterisk keeps no missed ARI events.

* calls still in the Stasis app are adopted (bridged ones stay bridged, others resume
  at the node they had reached, a message being recorded keeps recording); callers in the
  ticket lookup (the AGI server, in the dialplan) are followed until they come back or hang up;
* calls the log thinks open whose channel is gone are closed;
* recordings and messages whose rows are missing are logged (also files of calls
  taken by the dialplan fallback while neither the app nor the AGI server ran).
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hotline.domain.flows import engine as fe
from hotline.domain.flows.model import VoicemailNode
from hotline.domain.vocabulary import Context, Disposition

from . import audio
from .client import AriError
from .services import CallServices

if TYPE_CHECKING:
    from .app import HotlineApp

log = logging.getLogger("ari_app.reconcile")


class Reconciler:
    def __init__(self, services: CallServices, sweep_days: int = 2) -> None:
        self.s = services
        self.repo = services.log.repo
        self.sweep_days = sweep_days

    async def run(self, app: HotlineApp) -> None:
        channels = await self.s.ari.channels()
        bridges = await self.s.ari.bridges()
        in_bridge = {ch: b for b in bridges for ch in b.get("channels", [])}
        live = {c["id"] for c in channels}
        for channel in channels:
            if channel["id"] in app.calls:
                continue
            if (channel.get("dialplan") or {}).get("context") == Context.TICKET_STATUS:
                await self._adopt_in_ticket_status(app, channel)
                continue
            args = _stasis_args(channel, self.s.ari.app)
            if args is None or args[:1] == ["desk"] or not args:
                continue
            if args[0] == "ticket-status-return":   # came back while no app listened: carry on from there
                app.ticket_status_return(channel, args)
                continue
            await self._adopt(app, channel, args, in_bridge.get(channel["id"]))
        for call_id in await asyncio.to_thread(self.repo.open_call_ids):
            if call_id not in live and call_id not in app.calls:
                await self._close_missed(call_id)
        await self.sweep_files()

    async def _adopt(self, app: HotlineApp, channel: dict[str, Any], args: list[str],
                     bridge: dict[str, Any] | None) -> None:
        row = await asyncio.to_thread(self.repo.get, channel["id"])
        node = (row or {}).get("node") or self.s.engine.flow.start
        disposition = (row or {}).get("disposition") or Disposition.ABANDONED_IVR
        if disposition == Disposition.IN_PROGRESS:
            disposition = Disposition.ABANDONED_IVR
        if row is None:
            dialled = args[2] if len(args) > 2 else ""
            call = app.start_call(channel, Path(args[0]), dialled, None)
            log.info("call=%s adopted (not in the log): flow restarted", channel["id"])
            return
        if bridge is not None:
            call = app.start_call(channel, Path(args[0]), "", None, resume=(node, disposition))
            others = [c for c in bridge["channels"] if c != channel["id"]]
            call.bridge_id, call.desk_channel = bridge["id"], (others[0] if others else None)
            if call.desk_channel:
                app.by_channel[call.desk_channel] = call
            call.state = fe.CallState(node=node, phase="bridged", disposition=Disposition.TRANSFERRED)
            log.info("call=%s adopted: still bridged to %s", call.call_id, call.desk_channel)
            return
        flow_node = self.s.engine.flow.nodes.get(node)
        call = app.start_call(channel, Path(args[0]), "", None, resume=(node, disposition))
        if isinstance(flow_node, VoicemailNode):
            call.recording_name = self.s.voicemail_name(Path(args[0]))
            call.voicemail_max = flow_node.max_seconds or self.s.settings.voicemail.max_seconds
            call.state = replace(fe.CallState(node=node), phase="voicemail", disposition=disposition)
        log.info("call=%s adopted at node %s", call.call_id, node)

    async def _adopt_in_ticket_status(self, app: HotlineApp, channel: dict[str, Any]) -> None:
        """A caller keying a ticket code in the AGI server: hear of their hangup, wait for their return."""
        row = await asyncio.to_thread(self.repo.get, channel["id"])
        if row is None:
            return          # not a call of this hotline's log (nothing to close)
        try:
            await self.s.ari.subscribe(f"channel:{channel['id']}")
        except AriError:    # gone since the listing
            await self._close_missed(channel["id"])
            return
        disposition = row.get("disposition") or Disposition.ABANDONED_IVR
        if disposition == Disposition.IN_PROGRESS:
            disposition = Disposition.ABANDONED_IVR
        rec = Path(row["recording_file"]) if row.get("recording_file") else None
        app.adopt_in_ticket_status(channel, row.get("node") or "", rec, disposition)
        log.info("call=%s adopted in the ticket lookup", channel["id"])

    async def _close_missed(self, call_id: str) -> None:
        row = await asyncio.to_thread(self.repo.get, call_id)
        if row is None:
            return
        disposition = row["disposition"]
        if disposition == Disposition.IN_PROGRESS:
            disposition = Disposition.ABANDONED_IVR
        rec_file = Path(row["recording_file"]) if row.get("recording_file") else None
        ended = self.s.now()
        if rec_file is not None and rec_file.exists():
            ended = self.s.from_real(rec_file.stat().st_mtime)
        vm_name = self.s.voicemail_name(rec_file) if rec_file else None
        if vm_name and self.s.voicemail_path(vm_name).exists():
            await self.s.save_voicemail(call_id, vm_name, "hangup")
            disposition = Disposition.VOICEMAIL
        await asyncio.to_thread(self.repo.end_call, call_id, ended_at=ended, disposition=disposition)
        log.info("call=%s ended while the app was away: %s", call_id, disposition)

    async def sweep_files(self) -> None:
        """Log finished files that have no row yet; never deletes anything."""
        for call_id, rec in await asyncio.to_thread(self.repo.ended_without_recording):
            if rec:
                await self.s.finish_recording(call_id, Path(rec))
        # Listing a day's recordings touches the disk: done off the event loop.
        for path in await asyncio.to_thread(self._unlogged_files):
            await self._log_orphan(path)

    def _unlogged_files(self) -> list[Path]:
        """Closed call recordings of the last days with no call row (blocking: run in a thread)."""
        today = self.s.now().date()
        found: list[Path] = []
        for back in range(self.sweep_days):
            day_dir = self.s.recordings_root / f"{today - timedelta(days=back):%Y/%m/%d}"
            files = [p for p in day_dir.glob("*.wav") if not p.name.endswith(".voicemail.wav")]
            known = self.repo.known_call_ids([p.stem for p in files]) if files else set()
            found += [p for p in files if p.stem not in known and audio.wav_complete(p)]
        return found

    async def _log_orphan(self, path: Path) -> None:
        """A call taken by the dialplan fallback that nobody logged: log it from its files."""
        facts = await asyncio.to_thread(audio.audio_facts, path, self.s.recordings_root)
        ended = self.s.from_real((await asyncio.to_thread(path.stat)).st_mtime)
        started = ended - timedelta(seconds=facts.duration)
        call_id = path.stem
        await asyncio.to_thread(self.repo.start_call, call_id, channel_id=call_id, caller="", dialled="",
                                started_at=started, answered_at=started, recording_file=str(path),
                                disposition=Disposition.APP_FALLBACK)
        await asyncio.to_thread(self.repo.end_call, call_id, ended_at=ended, disposition=Disposition.APP_FALLBACK)
        await asyncio.to_thread(self.repo.add_recording, call_id, facts, self.s.now())
        vm = path.with_name(f"{call_id}.voicemail.wav")
        if vm.exists() and audio.wav_complete(vm):
            vm_facts = await asyncio.to_thread(audio.audio_facts, vm, self.s.recordings_root)
            await self.s.keep_message(call_id, vm_facts, "unknown")
        log.info("call=%s logged from its files (dialplan fallback)", call_id)


def _stasis_args(channel: dict[str, Any], app: str) -> list[str] | None:
    plan = channel.get("dialplan") or {}
    if plan.get("app_name") != "Stasis":
        return None
    data = plan.get("app_data") or ""
    parts = data.split(",")
    if parts[0] != app:
        return None
    return parts[1:]
