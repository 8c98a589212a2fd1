"""A fake ARI client for unit tests of the ARI app: it records what was asked and answers from a script.

It has the methods ari_app.call.Call, ari_app.app.HotlineApp and ari_app.reconcile.Reconciler use;
``channels`` and ``bridges`` are what Asterisk lists (set them before a reconciliation).
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from ari_app.client import AriError


@dataclass(frozen=True)
class Request:
    """One ARI request the app made: the method's name and its arguments."""

    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)


class FakeAri:
    """Stands in for ari_app.client.AriClient: records each request; ``gone`` channels answer 404."""

    def __init__(self, app: str = "hotline") -> None:
        self.app = app
        self.requests: list[Request] = []
        self.listed_channels: list[dict[str, Any]] = []
        self.listed_bridges: list[dict[str, Any]] = []
        self.gone: set[str] = set()
        self.refuse_originate = False       # originate_to_dialplan fails (Asterisk refuses the channel)
        self.stop_playback_held: asyncio.Event | None = None   # set: stop_playback answers only once it is set

    def _ask(self, name: str, channel: str | None, *args: Any, **kwargs: Any) -> None:
        self.requests.append(Request(name, (channel, *args) if channel is not None else args, kwargs))
        if channel is not None and channel in self.gone:
            raise AriError(404, f"Channel not found: {channel}")

    def asked(self, name: str) -> list[Request]:
        """The requests of one kind (``play``, ``record``, ``hangup``…), in order."""
        return [r for r in self.requests if r.name == name]

    def names(self) -> list[str]:
        return [r.name for r in self.requests]

    async def play(self, channel_id: str, media: list[str], playback_id: str) -> Any:
        self._ask("play", channel_id, media, playback_id)
        return {"id": playback_id}

    async def stop_playback(self, playback_id: str) -> None:
        self._ask("stop_playback", None, playback_id)
        if self.stop_playback_held is not None:     # Asterisk slow to answer (a loaded machine)
            await self.stop_playback_held.wait()

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self._ask("hangup", channel_id)

    async def ring(self, channel_id: str) -> None:
        self._ask("ring", channel_id)

    async def ring_stop(self, channel_id: str) -> None:
        self._ask("ring_stop", channel_id)

    async def record(self, channel_id: str, name: str, *, max_seconds: float, beep: bool = True,
                     **kwargs: Any) -> Any:
        self._ask("record", channel_id, name, max_seconds=max_seconds, beep=beep)
        return {"name": name}

    async def originate(self, endpoint: str, *, channel_id: str, app_args: str, timeout: float,
                        **kwargs: Any) -> Any:
        self._ask("originate", None, endpoint, channel_id=channel_id, app_args=app_args)
        return {"id": channel_id}

    async def originate_to_dialplan(self, endpoint: str, *, channel_id: str, context: str, caller_id: str,
                                    variables: dict[str, str], timeout: float = -1) -> Any:
        self._ask("originate_to_dialplan", None, endpoint, channel_id=channel_id, context=context,
                  caller_id=caller_id, variables=variables)
        if self.refuse_originate:
            raise AriError(500, "Allocation failed")
        return {"id": channel_id}

    async def set_variable(self, channel_id: str, name: str, value: str) -> None:
        self._ask("set_variable", channel_id, name, value)

    async def continue_in_dialplan(self, channel_id: str, context: str, extension: str = "s",
                                   priority: int = 1) -> None:
        self._ask("continue_in_dialplan", channel_id, context)

    async def subscribe(self, event_source: str) -> None:
        self._ask("subscribe", None, event_source)

    async def channels(self) -> list[dict[str, Any]]:
        self._ask("channels", None)
        return list(self.listed_channels)

    async def bridges(self) -> list[dict[str, Any]]:
        self._ask("bridges", None)
        return list(self.listed_bridges)

    async def create_bridge(self, bridge_id: str, name: str) -> Any:
        self._ask("create_bridge", None, bridge_id)
        return {"id": bridge_id}

    async def add_to_bridge(self, bridge_id: str, channels: list[str]) -> None:
        self._ask("add_to_bridge", None, bridge_id, channels)

    async def destroy_bridge(self, bridge_id: str) -> None:
        self._ask("destroy_bridge", None, bridge_id)


def stasis_channel(channel_id: str, rec_file: str, caller: str = "0912345678", app: str = "hotline",
                   dialled: str = "1022") -> dict[str, Any]:
    """A caller's channel as ARI lists it while it is in the hotline's Stasis app (extensions.conf.j2:
    Stasis(app,${REC_FILE},${CALL_EPOCH},${DIALLED}))."""
    return {"id": channel_id, "caller": {"number": caller}, "state": "Up",
            "dialplan": {"context": "hotline-in", "exten": dialled, "app_name": "Stasis",
                         "app_data": f"{app},{rec_file},1764900000,{dialled}"}}


def dialplan_channel(channel_id: str, context: str, caller: str = "0912345678") -> dict[str, Any]:
    """A caller's channel as ARI lists it while it runs in the dialplan (app_queue, the ticket lookup)."""
    return {"id": channel_id, "caller": {"number": caller}, "state": "Up",
            "dialplan": {"context": context, "exten": "s", "app_name": "AGI", "app_data": ""}}
