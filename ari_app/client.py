"""The one module that speaks ARI: REST calls with aiohttp and the event WebSocket."""
from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

log = logging.getLogger("ari_app.client")

#: Seconds between the WebSocket's pings; with no pong within half of it the connection is closed, so a
#: silently dropped WebSocket is noticed within 1.5 times this (7.5 s) and the app reconnects.
WS_HEARTBEAT = 5.0


class AriError(Exception):
    """An ARI request failed; ``status`` is the HTTP status (404: the channel is gone)."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(f"ARI {status}: {message}")


class AriClient:
    """Thin asyncio ARI client. One instance per process; one HTTP session."""

    def __init__(self, base_url: str, user: str, password: str, app: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.app = app
        self._auth = aiohttp.BasicAuth(user, password)
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=10)
            self._session = aiohttp.ClientSession(auth=self._auth, timeout=timeout,
                                                  connector=aiohttp.TCPConnector(limit=64))

    async def reset(self) -> None:
        """A new HTTP session: after a lost WebSocket, never send a request down a pooled connection that
        may have gone silent with it (it would wait the whole request timeout)."""
        await self.close()
        await self.open()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                      body: Any = None) -> Any:
        assert self._session is not None, "AriClient.open() first"
        clean = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        async with self._session.request(method, f"{self.base_url}/ari{path}", params=clean,
                                         json=body) as resp:
            text = await resp.text()
            if resp.status >= 400:
                raise AriError(resp.status, text.strip() or resp.reason or "")
            return json.loads(text) if text else None

    def websocket(self) -> Any:
        """The event WebSocket of our app (an async context manager; iterate it for events)."""
        assert self._session is not None, "AriClient.open() first"
        url = self.base_url.replace("http", "ws", 1) + "/ari/events"
        return self._session.ws_connect(url, params={"app": self.app}, heartbeat=WS_HEARTBEAT,
                                        timeout=aiohttp.ClientWSTimeout(ws_close=5))

    @staticmethod
    async def events(ws: Any) -> AsyncIterator[dict[str, Any]]:
        """Yield decoded events from an open WebSocket until it closes."""
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                yield json.loads(msg.data)
            elif msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                break

    # -- channels -------------------------------------------------------------
    async def play(self, channel_id: str, media: list[str], playback_id: str) -> Any:
        return await self.request("POST", f"/channels/{channel_id}/play/{playback_id}",
                                  params={"media": ",".join(media)})

    async def stop_playback(self, playback_id: str) -> None:
        await self.request("DELETE", f"/playbacks/{playback_id}")

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        await self.request("DELETE", f"/channels/{channel_id}", params={"reason": reason})

    async def ring(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{channel_id}/ring")

    async def ring_stop(self, channel_id: str) -> None:
        await self.request("DELETE", f"/channels/{channel_id}/ring")

    async def record(self, channel_id: str, name: str, *, max_seconds: float, beep: bool = True,
                     terminate_on: str = "#") -> Any:
        return await self.request("POST", f"/channels/{channel_id}/record", params={
            "name": name, "format": "wav", "maxDurationSeconds": int(max_seconds),
            "beep": beep, "terminateOn": terminate_on, "ifExists": "overwrite"})

    async def originate(self, endpoint: str, *, channel_id: str, app_args: str, timeout: float,
                        caller_id: str, originator: str | None = None) -> Any:
        return await self.request("POST", "/channels", params={
            "endpoint": endpoint, "app": self.app, "appArgs": app_args, "channelId": channel_id,
            "timeout": int(timeout), "callerId": caller_id, "originator": originator})

    async def originate_to_dialplan(self, endpoint: str, *, channel_id: str, context: str, caller_id: str,
                                    variables: dict[str, str], timeout: float = -1) -> Any:
        """A channel to ``endpoint`` that, once answered, runs ``context``,s,1 (not the app); -1: never times out."""
        return await self.request("POST", "/channels", params={
            "endpoint": endpoint, "context": context, "extension": "s", "priority": 1, "channelId": channel_id,
            "otherChannelId": f"{channel_id}-2", "timeout": int(timeout), "callerId": caller_id},
            body={"variables": variables})

    async def set_variable(self, channel_id: str, name: str, value: str) -> None:
        await self.request("POST", f"/channels/{channel_id}/variable", params={"variable": name, "value": value})

    async def continue_in_dialplan(self, channel_id: str, context: str, extension: str = "s",
                                   priority: int = 1) -> None:
        """Leave Stasis for the dialplan (the channel may come back with a new StasisStart)."""
        await self.request("POST", f"/channels/{channel_id}/continue",
                           params={"context": context, "extension": extension, "priority": priority})

    async def subscribe(self, event_source: str) -> None:
        """Keep receiving a resource's events while it is outside the app (e.g. in the dialplan)."""
        await self.request("POST", f"/applications/{self.app}/subscription", params={"eventSource": event_source})

    async def channels(self) -> list[dict[str, Any]]:
        return list(await self.request("GET", "/channels"))

    # -- bridges --------------------------------------------------------------
    async def create_bridge(self, bridge_id: str, name: str) -> Any:
        return await self.request("POST", f"/bridges/{bridge_id}", params={"type": "mixing", "name": name})

    async def add_to_bridge(self, bridge_id: str, channels: list[str]) -> None:
        await self.request("POST", f"/bridges/{bridge_id}/addChannel", params={"channel": ",".join(channels)})

    async def destroy_bridge(self, bridge_id: str) -> None:
        await self.request("DELETE", f"/bridges/{bridge_id}")

    async def bridges(self) -> list[dict[str, Any]]:
        return list(await self.request("GET", "/bridges"))


def _param(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
