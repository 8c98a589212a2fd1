"""AMI actions and their answers: ``AmiClient`` (asyncio) and ``SyncAmi`` (blocking callers).

``AmiClient`` sends actions and waits for their answers: the operator queue's members
(QueueAdd, QueueRemove, QueuePause, QueueStatus), CLI commands (``module reload res_pjsip.so``),
channel lists, Asterisk's uptime, transfers and Originate. ``SyncAmi.run`` runs one conversation (connect, act,
close) for the command line and the console.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from panoramisk import Manager
from panoramisk.message import Message

from hotline.domain.errors import HotlineError

from .accounts import ami_user
from .messages import QueueMember, events_named, field, is_endpoint_channel, startup_epoch_function, uptime_seconds

log = logging.getLogger("hotline.adapters.ami")
T = TypeVar("T")
_NEVER = 10 ** 9    # panoramisk reconnects by itself after this many seconds: a client here reconnects itself

_ASTERISK_DOWN_VI = ("Không liên lạc được với tổng đài (Asterisk); hãy thử lại, "
                     "nếu vẫn không được, báo bộ phận kỹ thuật.")


class AmiError(HotlineError):
    """AMI unreachable, login refused, or an action answered with an error."""


class AmiUnavailable(AmiError):
    """Nothing answers on the AMI port (Asterisk is not running)."""


class AmiClient:
    """An AMI connection: ``await connect()``, actions, ``close()``; also an async context manager.

    Args:
        events: receive events too (the monitor); action clients leave it off.
        timeout: seconds to wait for the connection, the login and each answer.
    """

    def __init__(self, host: str, port: int, user: str, secret: str, *, events: bool = False,
                 timeout: float = 5.0) -> None:
        self.host, self.port, self.user = host, port, user
        self._secret = secret
        self.events = events
        self.timeout = timeout
        self.manager: Manager | None = None

    async def connect(self) -> AmiClient:
        """Connect and log in; AmiError says why not (refused, timed out, bad credentials)."""
        loop = asyncio.get_running_loop()
        manager = Manager(loop=loop, host=self.host, port=self.port, username=self.user, secret=self._secret,
                          events="on" if self.events else "off", ping_delay=3600, reconnect_timeout=_NEVER,
                          log=logging.getLogger("hotline.adapters.ami.panoramisk"))
        where = f"AMI at {self.host}:{self.port}"
        try:
            await asyncio.wait_for(manager.connect(), self.timeout)
        except (TimeoutError, OSError) as exc:
            self._silence(manager)
            raise AmiUnavailable(f"cannot reach {where} ({exc or 'timed out'}): is Asterisk running "
                                 "(`hotline up`), and is [asterisk] ami_port right?", vi=_ASTERISK_DOWN_VI) from None
        try:
            login = await asyncio.wait_for(self._login_future(manager), self.timeout)
        except TimeoutError:
            self._silence(manager)
            raise AmiError(f"{where} did not answer the login within {self.timeout:.0f} s",
                           vi=_ASTERISK_DOWN_VI) from None
        if not login.success:
            self._silence(manager)
            raise AmiError(f"{where} refused the login of {self.user!r} ({login.message or login}); "
                           "the password is in <state_dir>/secrets.toml and manager.conf is rendered from it",
                           vi="Tổng đài từ chối kết nối của bảng điều khiển; báo bộ phận kỹ thuật "
                              "(mật khẩu AMI trong secrets.toml).")
        self.manager = manager
        return self

    async def close(self) -> None:
        if self.manager is not None:
            self._silence(self.manager)
            self.manager = None

    async def __aenter__(self) -> AmiClient:
        return await self.connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- actions ----------------------------------------------------------------------
    async def action(self, name: str, **fields: Any) -> Message:
        """Send one action; return its response, AmiError on an error response."""
        response = await self._send({"Action": name, **fields}, as_list=False)
        if not response.success:
            output = response.get("Output")
            detail = " ".join(output) if isinstance(output, list) else output or response.message or response
            raise AmiError(f"AMI {name} failed: {detail}",
                           vi=f"Tổng đài không thực hiện được lệnh {name} ({detail}); hãy thử lại.")
        return response

    async def queue_add(self, queue: str, interface: str, member_name: str, state_interface: str,
                        penalty: int = 0, paused: bool = False) -> None:
        await self.action("QueueAdd", Queue=queue, Interface=interface, MemberName=member_name,
                          StateInterface=state_interface, Penalty=penalty, Paused="true" if paused else "false")

    async def queue_remove(self, queue: str, interface: str) -> None:
        await self.action("QueueRemove", Queue=queue, Interface=interface)

    async def queue_pause(self, queue: str, interface: str, paused: bool, reason: str | None = None) -> None:
        fields: dict[str, Any] = {"Queue": queue, "Interface": interface, "Paused": "true" if paused else "false"}
        if reason:
            fields["Reason"] = reason
        await self.action("QueuePause", **fields)

    async def queue_status(self, queue: str) -> list[QueueMember]:
        """The queue's members (empty when the queue has none, or does not exist)."""
        responses = await self._send({"Action": "QueueStatus", "Queue": queue}, as_list=True)
        items = responses if isinstance(responses, list) else [responses]
        if items and not items[0].success:
            raise AmiError(f"AMI QueueStatus failed: {items[0].message or items[0]}",
                           vi="Tổng đài không trả lời lệnh QueueStatus; hãy thử lại.")
        return [QueueMember.from_event(m) for m in events_named(items, "QueueMember")]

    async def command(self, cli: str) -> str:
        """Run an Asterisk CLI command (``module reload res_pjsip.so``); return its output."""
        response = await self.action("Command", Command=cli)
        output = response.get("Output", "")
        lines = output if isinstance(output, list) else [output]
        return "\n".join(str(line) for line in lines if line) or str(response.content or "")

    async def uptime(self, status: Mapping[str, Any]) -> int | None:
        """Seconds since Asterisk started, as ``core show uptime seconds`` counts them, without the ``command``
        class: CoreStatus (``status``) gives the start in the local time of Asterisk's host, which Asterisk itself
        turns back into a Unix time (Getvar of STRPTIME, in its own zone) to subtract from its ``EPOCH`` (Getvar:
        ``reporting``). None when the start cannot be read."""
        function = startup_epoch_function(status)
        if function is None:
            return None
        started = await self.action("Getvar", Variable=function)
        now = await self.action("Getvar", Variable="EPOCH")
        return uptime_seconds(field(started, "Value"), field(now, "Value"))

    async def originate(self, channel: str, context: str, exten: str = "s", priority: int = 1,
                        variables: Mapping[str, str] | None = None, caller_id: str | None = None,
                        channel_id: str | None = None, timeout_ms: int | None = None,
                        other_channel_id: str | None = None) -> None:
        """Start a call (asynchronously: the answer says it was queued, not that it was answered); ``channel_id``:
        the new channel's unique id (its call id; ``other_channel_id``: a Local channel's second half's),
        ``timeout_ms``: how long ``channel`` rings."""
        fields: dict[str, Any] = {"Channel": channel, "Context": context, "Exten": exten, "Priority": priority,
                                  "Async": "true"}
        if channel_id:
            fields["ChannelId"] = channel_id
        if other_channel_id:
            fields["OtherChannelId"] = other_channel_id
        if timeout_ms:
            fields["Timeout"] = timeout_ms
        if caller_id:
            fields["CallerID"] = caller_id
        if variables:
            fields["Variable"] = [f"{k}={v}" for k, v in variables.items()]
        await self.action("Originate", **fields)

    async def channels(self) -> list[dict[str, str]]:
        """Every live channel (CoreShowChannels): Channel, Uniqueid, BridgeId, Application..."""
        responses = await self._send({"Action": "CoreShowChannels"}, as_list=True)
        items = responses if isinstance(responses, list) else [responses]
        if items and not items[0].success:
            raise AmiError(f"AMI CoreShowChannels failed: {items[0].message or items[0]}",
                           vi="Tổng đài không trả lời lệnh CoreShowChannels; hãy thử lại.")
        return [{str(k): str(v) for k, v in m.items()} for m in events_named(items, "CoreShowChannel")]

    async def set_var(self, channel: str, name: str, value: str) -> None:
        await self.action("Setvar", Channel=channel, Variable=name, Value=value)

    async def blind_transfer(self, channel: str, context: str, exten: str) -> None:
        """Send ``channel``'s bridge peer to ``exten@context`` (``channel`` is the transferer)."""
        await self.action("BlindTransfer", Channel=channel, Context=context, Exten=exten)

    async def attended_transfer(self, channel: str, context: str, exten: str) -> None:
        """Start a consultation call from ``channel`` to ``exten@context`` (the bridge's atxfer feature)."""
        await self.action("Atxfer", Channel=channel, Context=context, Exten=exten)

    async def cancel_attended_transfer(self, channel: str) -> None:
        """End the consultation ``channel`` started (features.conf atxferabort): back to the caller."""
        await self.action("CancelAtxfer", Channel=channel)

    # -- internals ----------------------------------------------------------------------
    async def _send(self, action: dict[str, Any], as_list: bool) -> Any:
        if self.manager is None:
            raise AmiError("AMI client used before connect()", vi=_ASTERISK_DOWN_VI)
        future = self.manager.send_action(action, as_list=as_list)
        try:
            return await asyncio.wait_for(future, self.timeout)
        except TimeoutError:
            raise AmiError(f"AMI {action['Action']} got no answer within {self.timeout:.0f} s",
                           vi=_ASTERISK_DOWN_VI) from None

    @staticmethod
    async def _login_future(manager: Manager) -> Message:
        while manager.authenticated_future is None and not manager.authenticated:
            await asyncio.sleep(0.01)   # the connection callback runs on the next loop turn
        future = manager.authenticated_future
        if future is None:
            return Message({"Response": "Success"})
        return await asyncio.shield(future)

    @staticmethod
    def _silence(manager: Manager) -> None:
        """Close for good: panoramisk would otherwise reconnect after the connection is lost."""
        manager.connection_lost = lambda _exc: None
        manager.connection_made = lambda _f: None
        manager.close()


def ami_client(settings: Any, secrets: Any, events: bool = False, timeout: float = 5.0) -> AmiClient:
    """The hotline's AMI client from its settings and generated secrets (not yet connected), logging in with
    the process's own account (``secrets.ami_account``, hotline.adapters.ami.accounts)."""
    a = settings.asterisk
    user, secret = ami_login(settings, secrets)
    return AmiClient(a.ami_bind, a.ami_port, user, secret, events=events, timeout=timeout)


def node_ami(settings: Any, secrets: Any, host: str) -> Callable[[], AmiClient]:
    """AMI clients of another node of a cluster (README: Scaling out): its address, this node's port and
    account (every node has one secrets.toml)."""
    other = settings.model_copy(update={"asterisk": settings.asterisk.model_copy(update={"ami_bind": host})})
    return lambda: ami_client(other, secrets)


def node_amis(settings: Any, secrets: Any) -> dict[str, SyncAmi]:
    """Every node's AMI by node name, this node's first; one entry without a cluster."""
    found = {settings.cluster.node: SyncAmi(lambda: ami_client(settings, secrets))}
    for peer in settings.cluster.peer_nodes:
        found[peer.name] = SyncAmi(node_ami(settings, secrets, peer.host))
    return found


def endpoint_channel_on(amis: Mapping[str, Any], endpoint: str) -> tuple[str, str] | None:
    """(node, channel name) of PJSIP ``endpoint``'s first channel on the nodes of ``amis`` (as ``node_amis`` gives
    them; its own: ``op-lan`` never matches ``op-lan-2``'s); nodes that do not answer are passed over; None if no
    node has one."""
    async def names(client: AmiClient) -> list[str]:
        return [str(row.get("Channel", "")) for row in await client.channels()]
    for node, ami in amis.items():
        try:
            channel = next((name for name in ami.run(names) if is_endpoint_channel(name, endpoint)), None)
        except HotlineError as exc:
            log.info("node %s did not list its channels: %s", node, exc)
            continue
        if channel is not None:
            return node, channel
    return None


def ami_login(settings: Any, secrets: Any) -> tuple[str, str]:
    """(user, secret) of the process's AMI account."""
    return ami_user(settings.asterisk.ami_user, secrets.ami_account), secrets.own_ami_password


class SyncAmi:
    """Blocking calls for the command line: each one connects, acts and closes."""

    def __init__(self, factory: Callable[[], AmiClient]) -> None:
        self.factory = factory

    def run(self, work: Callable[[AmiClient], Awaitable[T]]) -> T:
        async def once() -> T:
            async with self.factory() as client:
                return await work(client)
        return asyncio.run(once())
