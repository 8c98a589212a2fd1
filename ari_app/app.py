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
from hotline.domain.vocabulary import Disposition
from hotline.heartbeat import LinkBeat

from .call import Call, CallerHungUp
from .client import AriClient, AriError
from .cluster import NodeWatch
from .reconcile import Reconciler, stasis_args
from .services import CallServices

log = logging.getLogger("ari_app")


class HotlineApp:
    """Owns the live calls of this Asterisk node; one instance per process."""

    def __init__(self, services: CallServices, reconciler: Reconciler, watch: NodeWatch | None = None,
                 link: LinkBeat | None = None) -> None:
        self.s = services
        self.ari: AriClient = services.ari
        self.reconciler = reconciler
        self.watch = watch      # this node's beat and its watch over the others, while connected
        self.link = link        # "connected" for the health checks, while connected (hotline/heartbeat.py's LinkBeat)
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
            await self.ari.reset()      # pooled connections may have died with the WebSocket's
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
            checker = asyncio.ensure_future(self._reconcile_every(self.s.settings.asterisk.reconcile_seconds))
            beat = asyncio.ensure_future(self.watch.run()) if self.watch is not None else None
            link = asyncio.ensure_future(self.link.run()) if self.link is not None else None
            try:
                await self.reconcile()
                async for event in self.ari.events(ws):
                    self.handle(event)
            finally:
                closer.cancel()
                checker.cancel()
                if beat is not None:
                    beat.cancel()
                if link is not None and self.link is not None:
                    link.cancel()
                    self.link.clear()      # at once: the health checks see a closed WebSocket without waiting
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
            self.queue_return(channel, args)
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

    def start_call(self, channel: dict[str, Any], rec_file: Path, dialled: str, answered: datetime | None) -> Call:
        """A new caller in the app: their call row, then the flow from its start."""
        call = self._new_call(channel, rec_file)
        started = self.s.asterisk_time(channel.get("creationtime"))
        answered = answered or self.s.now()
        self.s.log.start_call(call.call_id, channel_id=call.call_id, caller=call.caller, dialled=dialled,
                              started_at=started or answered, answered_at=answered, recording_file=str(rec_file))
        self._run(call, self.s.engine.start(), "start")
        return call

    def adopt(self, channel: dict[str, Any], rec_file: Path | None, node: str, disposition: str,
              where: str = fe.AT_NODE, bridge: dict[str, Any] | None = None, transfer_key: str | None = None,
              desk: dict[str, Any] | None = None) -> Call:
        """Carry on a call this process did not start (an app restart, a missed event), through the
        engine: ``where`` (engine.ADOPTION_PLACES) is where Asterisk shows the caller, ``node`` and
        ``disposition`` what the call log says (and, bridged or transferring, the desk attempt's key to
        close it with; transferring, ``desk`` is the desk's leg Asterisk lists). The one way a call is
        resumed."""
        call = self._new_call(channel, rec_file or self.s.recordings_root / "unknown.wav")
        step = self.s.engine.adopt(node, disposition, where)
        state = step[0]
        if state.phase == "bridged" and bridge is not None:
            others = [c for c in bridge.get("channels", []) if c != call.channel_id]
            call.bridge_id, call.desk_channel = bridge["id"], (others[0] if others else None)
            if call.desk_channel:
                self.by_channel[call.desk_channel] = call
            call.transfer_key = transfer_key
            if transfer_key is not None:    # its answer may have died with the process that made the bridge
                at = self.s.asterisk_time(bridge.get("creationtime")) or self.s.now()
                self.s.log.transfer_bridged(call.call_id, transfer_key, at)
        call.in_dialplan = state.phase in ("queue", "ticket_status")
        if state.phase == "voicemail":
            call.adopt_message(self._voicemail_seconds(state.node))
        self._run(call, step, f"adopted {where}")
        if desk is not None and state.phase == "transfer":
            call.desk_channel, call.transfer_key = desk["id"], transfer_key
            self.by_channel[desk["id"]] = call
            # After the run's first step (tasks start in order): it sets the state and clears the timers.
            answered = desk.get("state") == "Up" and (stasis_args(desk, self.s.ari.app) or [""])[0] == "desk"
            self._spawn(call.resume_transfer(desk["id"], answered))
        elif desk is not None:      # a desk leg the flow no longer wants (its node is no transfer now)
            self._spawn(self._hangup_stray(desk["id"]))
        return call

    def _voicemail_seconds(self, node: str) -> float:
        flow_node = self.s.engine.flow.nodes.get(node)
        return getattr(flow_node, "max_seconds", None) or self.s.settings.voicemail.max_seconds

    def _new_call(self, channel: dict[str, Any], rec_file: Path) -> Call:
        call_id = channel["id"]
        call = Call(self.s, call_id=call_id, channel_id=call_id, caller=channel.get("caller", {}).get("number", ""),
                    rec_file=rec_file)
        self.calls[call_id] = call
        self.by_channel[call_id] = call
        return call

    def _run(self, call: Call, first: fe.Step, why: str) -> None:
        task = self._spawn(call.run(first, why))
        task.add_done_callback(lambda _t: self._forget(call))

    def queue_return(self, channel: dict[str, Any], args: list[str]) -> None:
        """Back from app_queue: args status (QUEUESTATUS; CONTINUE after an operator hung up first;
        MESSAGE for key 1, CALLBACK for key 2), the operator, the call's recording and the caller's place in the
        queue when they left (QUEUEPOSITION)."""
        status, operator, rec, position = (args[1:] + ["", "", "", ""])[:4]
        call = self.calls.get(channel["id"])
        if call is None:       # the app restarted while the caller was in the queue
            call = self.adopt(channel, Path(rec) if rec else None, "", Disposition.TO_QUEUE, fe.IN_QUEUE)
        log.info("call=%s back from the queue: %s %s", channel["id"], status or "?", operator)
        call.queue_returned(status, operator, int(position) if position.isdigit() else 0)

    def ticket_status_return(self, channel: dict[str, Any], args: list[str]) -> None:
        """Back from [hotline-ticket-status]: args outcome, the codes keyed (a-b-c), node, recording."""
        outcome, keys, node, rec = (args[1:] + ["", "", "", ""])[:4]
        call = self.calls.get(channel["id"])
        if call is None:       # the app restarted while the caller was in the lookup
            call = self.adopt(channel, Path(rec) if rec else None, node, Disposition.ABANDONED_IVR,
                              fe.IN_TICKET_STATUS)
        log.info("call=%s back from the ticket lookup: %s", channel["id"], outcome or "?")
        call.ticket_status_returned(outcome, tuple(keys.split(fe.TICKET_KEYS_SEPARATOR)) if keys else ())

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
            log.exception("reconciliation failed; the periodic check and the next connection try again")

    async def _reconcile_every(self, seconds: float) -> None:
        """While connected: the calls held and the open rows checked against Asterisk's channels (a
        hangup or a return missed by the event stream), every ``seconds``."""
        while True:
            await asyncio.sleep(seconds)
            try:
                await self.reconciler.run(self, periodic=True)
            except Exception:
                log.exception("periodic reconciliation failed; trying again in %.0f s", seconds)
