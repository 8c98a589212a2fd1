"""The hotline's Stasis application: event dispatch, reconnection, reconciliation."""
from __future__ import annotations

import asyncio
import logging
import random
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from hotline.domain.flows import engine as fe
from hotline.domain.flows.model import TicketStatusNode
from hotline.domain.vocabulary import Disposition

from .call import Call, CallerHungUp
from .client import AriClient, AriError
from .reconcile import Reconciler
from .services import CallServices

log = logging.getLogger("ari_app")


class HotlineApp:
    """Owns the live calls of this Asterisk node; one instance per process."""

    def __init__(self, services: CallServices, reconciler: Reconciler) -> None:
        self.s = services
        self.ari: AriClient = services.ari
        self.reconciler = reconciler
        self.calls: dict[str, Call] = {}          # caller channel id -> call
        self.by_channel: dict[str, Call] = {}     # caller and desk channel ids -> call
        self.tasks: set[asyncio.Task[None]] = set()
        self.connected = asyncio.Event()

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Connect, serve, and reconnect with capped exponential backoff until ``stop`` is set."""
        delay = 0.5
        await self.ari.open()
        while not stop.is_set():
            try:
                await self._serve(stop)
                delay = 0.5
            except (TimeoutError, aiohttp.ClientError, OSError, AriError) as exc:
                log.warning("ARI unavailable (%s); retrying in %.1f s", exc, delay)
            self.connected.clear()
            if stop.is_set():
                break
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
            except TimeoutError:
                pass
            delay = min(delay * 2, 10.0) * (0.8 + 0.4 * random.random())
        await self.ari.close()

    async def _serve(self, stop: asyncio.Event) -> None:
        async with self.ari.websocket() as ws:
            log.info("connected to ARI as app %r", self.ari.app)
            self.connected.set()
            closer = asyncio.ensure_future(self._close_on(stop, ws))
            try:
                await self.reconcile()
                async for event in self.ari.events(ws):
                    self.handle(event)
            finally:
                closer.cancel()
        if not stop.is_set():
            log.warning("ARI WebSocket closed")

    @staticmethod
    async def _close_on(stop: asyncio.Event, ws: Any) -> None:
        await stop.wait()
        await ws.close()

    # -- dispatch ---------------------------------------------------------------
    def handle(self, event: dict[str, Any]) -> None:
        kind = event.get("type", "")
        handler = getattr(self, f"on_{kind}", None)
        if handler is not None:
            handler(event)

    def on_StasisStart(self, event: dict[str, Any]) -> None:
        channel, args = event["channel"], event.get("args") or []
        if args and args[0] == "desk":
            call = self.calls.get(args[1]) if len(args) > 1 else None
            if call is None:
                self._spawn(self._hangup_stray(channel["id"]))
                return
            self.by_channel[channel["id"]] = call
            self._spawn(call.desk_answered(channel["id"]))
            return
        if args and args[0] == "queue-return":
            self._queue_return(event, args)
            return
        if args and args[0] == "ticket-status-return":
            self.ticket_status_return(channel, args)
            return
        if channel["id"] in self.calls:
            return
        rec_file = Path(args[0]) if args else None
        if rec_file is None:
            log.warning("channel %s entered Stasis without a recording path; hanging up", channel["id"])
            self._spawn(self._hangup_stray(channel["id"]))
            return
        dialled = args[2] if len(args) > 2 else channel.get("dialplan", {}).get("exten", "")
        self.start_call(channel, rec_file, dialled, self.s.event_time(event))

    def start_call(self, channel: dict[str, Any], rec_file: Path, dialled: str, answered: datetime | None,
                   resume: tuple[str, str] | None = None) -> Call:
        call_id = channel["id"]
        caller = channel.get("caller", {}).get("number", "")
        call = Call(self.s, call_id=call_id, channel_id=call_id, caller=caller, rec_file=rec_file)
        self.calls[call_id] = call
        self.by_channel[call_id] = call
        if resume is None:
            first = self.s.engine.start()
            created = channel.get("creationtime")
            started = self.s.from_real(datetime.fromisoformat(created).timestamp()) if created else None
            answered = answered or self.s.now()
            self.s.log.start_call(call_id, channel_id=call_id, caller=caller, dialled=dialled,
                                  started_at=started or answered, answered_at=answered,
                                  recording_file=str(rec_file))
        else:
            first = self.s.engine.resume(*resume)
        task = self._spawn(call.run(first))
        task.add_done_callback(lambda _t: self._forget(call))
        return call

    def _queue_return(self, event: dict[str, Any], args: list[str]) -> None:
        channel = event["channel"]
        status, operator = (args[1] if len(args) > 1 else ""), (args[2] if len(args) > 2 else "")
        call = self.calls.get(channel["id"])
        if call is None:       # the app restarted while the caller was in the queue
            call = self.adopt_in_queue(channel)
        log.info("call=%s back from the queue: %s %s", channel["id"], status or "?", operator)
        call.queue_returned(status, operator)

    def adopt_in_queue(self, channel: dict[str, Any], rec_file: Path | None = None) -> Call:
        """A caller this process did not send to the queue (restart): follow them from the queue node."""
        queue_node = next((n for n, node in self.s.engine.flow.nodes.items() if type(node).__name__ == "QueueNode"),
                          self.s.engine.flow.start)
        state = fe.CallState(node=queue_node, phase="queue", disposition=Disposition.TO_QUEUE)
        rec = rec_file or Path(self.s.recordings_root / "unknown.wav")
        call = Call(self.s, call_id=channel["id"], channel_id=channel["id"],
                    caller=channel.get("caller", {}).get("number", ""), rec_file=rec, state=state)
        call.in_dialplan = True
        self.calls[call.channel_id] = call
        self.by_channel[call.channel_id] = call
        task = self._spawn(call.run(None))
        task.add_done_callback(lambda _t: self._forget(call))
        return call

    def ticket_status_return(self, channel: dict[str, Any], args: list[str]) -> None:
        """Back from [hotline-ticket-status]: args outcome, the codes keyed (a-b-c), node, recording."""
        outcome, keys, node, rec = (args[1:] + ["", "", "", ""])[:4]
        call = self.calls.get(channel["id"])
        if call is None:       # the app restarted while the caller was in the lookup
            call = self.adopt_in_ticket_status(channel, node, Path(rec) if rec else None)
        log.info("call=%s back from the ticket lookup: %s", channel["id"], outcome or "?")
        call.ticket_status_returned(outcome, tuple(keys.split(fe.TICKET_KEYS_SEPARATOR)) if keys else ())

    def adopt_in_ticket_status(self, channel: dict[str, Any], node: str = "", rec_file: Path | None = None,
                               disposition: str = Disposition.ABANDONED_IVR) -> Call:
        """A caller this process did not send to the ticket lookup (restart): follow them from that node."""
        nodes = self.s.engine.flow.nodes
        if not isinstance(nodes.get(node), TicketStatusNode):
            node = next((n for n, v in nodes.items() if isinstance(v, TicketStatusNode)), self.s.engine.flow.start)
        state = fe.CallState(node=node, phase="ticket_status", disposition=disposition)
        call = Call(self.s, call_id=channel["id"], channel_id=channel["id"],
                    caller=channel.get("caller", {}).get("number", ""),
                    rec_file=rec_file or Path(self.s.recordings_root / "unknown.wav"), state=state)
        call.in_dialplan = True
        self.calls[call.channel_id] = call
        self.by_channel[call.channel_id] = call
        task = self._spawn(call.run(None))
        task.add_done_callback(lambda _t: self._forget(call))
        return call

    def on_ChannelDtmfReceived(self, event: dict[str, Any]) -> None:
        call = self.calls.get(event["channel"]["id"])
        if call is not None:
            call.dtmf(event["digit"])

    def on_PlaybackFinished(self, event: dict[str, Any]) -> None:
        playback = event["playback"]
        channel_id = playback.get("target_uri", "").removeprefix("channel:")
        call = self.calls.get(channel_id)
        if call is not None:
            call.playback_finished(playback["id"])

    def on_RecordingFinished(self, event: dict[str, Any], failed: bool = False) -> None:
        rec = event["recording"]
        call = self.calls.get(rec.get("target_uri", "").removeprefix("channel:"))
        if call is not None:
            call.recording_finished(rec["name"], rec.get("duration"), failed)

    def on_RecordingFailed(self, event: dict[str, Any]) -> None:
        self.on_RecordingFinished(event, failed=True)

    def on_StasisEnd(self, event: dict[str, Any]) -> None:
        call = self.calls.get(event["channel"]["id"])
        if call is not None and call.in_dialplan:
            return      # left for the queue on purpose; ChannelDestroyed tells a hangup there
        self._gone(event, None)

    def on_ChannelDestroyed(self, event: dict[str, Any]) -> None:
        self._gone(event, event.get("cause"))

    def _gone(self, event: dict[str, Any], cause: int | None) -> None:
        channel_id = event["channel"]["id"]
        call = self.by_channel.get(channel_id)
        if call is None and "-desk" in channel_id:    # a desk leg that never answered
            call = self.calls.get(channel_id.rsplit("-desk", 1)[0])
        if call is None:
            return
        if channel_id == call.channel_id:
            call.post(CallerHungUp(self.s.event_time(event)))
        else:
            self.by_channel.pop(channel_id, None)
            call.desk_gone(channel_id, cause)

    # -- helpers ------------------------------------------------------------------
    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def _forget(self, call: Call) -> None:
        for key in [k for k, v in self.by_channel.items() if v is call]:
            del self.by_channel[key]
        self.calls.pop(call.channel_id, None)

    async def _hangup_stray(self, channel_id: str) -> None:
        try:
            await self.ari.hangup(channel_id)
        except AriError:
            pass

    async def reconcile(self) -> None:
        """After (re)connecting: adopt calls still in the app, close calls that ended meanwhile."""
        try:
            await self.reconciler.run(self)
        except Exception:
            log.exception("reconciliation failed; will retry at the next connection")
