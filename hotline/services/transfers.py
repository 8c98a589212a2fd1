"""Transfers by an operator during a call: blind or attended, to any directory entry.

The dialplan context [hotline-desk-transfer] rings the desk, logs the attempt through the
AGI server and sends the caller back to the queue (ahead of new callers) when the desk is
busy or does not answer. This service only finds the operator's channel of the call and
starts the transfer over AMI (the AMI adapter reads the channel lists); the pure parts
(extension numbers, which channel, outcome words) are apart and unit-tested.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hotline.adapters.ami import (
    AmiClient,
    bridge_id,
    channel_with_id,
    endpoint_channel,
    field,
    node_amis,
)
from hotline.adapters.db.models import Call
from hotline.domain.errors import HotlineError
from hotline.domain.vocabulary import Context

log = logging.getLogger("hotline.services.transfers")
T = TypeVar("T")

CONSULT_EXTEN = "0"     # an attended transfer's extension: goes on to XFER_EXTEN
KIND_DIGITS = {"department": "1", "district": "2", "provincial_office": "3", "postal_service": "4", "commune": "5"}
"""The first digit of a desk's extension in [hotline-desk-transfer]; digits only: Atxfer sends them as DTMF."""

#: Dial()'s DIALSTATUS -> the Transfer row's outcome.
DIAL_OUTCOMES = {"ANSWER": "answered", "BUSY": "busy", "NOANSWER": "noanswer", "CANCEL": "abandoned",
                 "": "abandoned"}


class TransferError(HotlineError):
    """The transfer cannot start: unknown desk, no such call, operator not on it."""


def transfer_exten(kind: str, code: str) -> str:
    """The extension of a directory entry in [hotline-desk-transfer]: '1' + '02' for department 02."""
    try:
        return KIND_DIGITS[kind] + code
    except KeyError:
        raise TransferError(f"unknown kind {kind!r}: write one of {', '.join(KIND_DIGITS)}",
                            vi=f"Không có loại đầu mối {kind!r}: chọn đầu mối trong danh sách.") from None


def dial_outcome(dial_status: str) -> str:
    """The outcome word for Dial()'s DIALSTATUS (CONGESTION, CHANUNAVAIL...: failed)."""
    return DIAL_OUTCOMES.get(dial_status.strip().upper(), "failed")


def operator_channel(channels: Iterable[Mapping[str, str]], call_id: str, operator: str) -> str:
    """The operator's channel bridged with the caller's channel ``call_id`` (CoreShowChannel rows)."""
    rows = list(channels)
    caller = channel_with_id(rows, call_id)
    if caller is None:
        raise TransferError(f"call {call_id} is not in progress (no channel with that id)",
                            vi="Cuộc gọi này đã kết thúc, không còn gì để chuyển.")
    bridge = bridge_id(caller)
    if not bridge:
        raise TransferError(f"call {call_id} is not talking to an operator (its channel is in no bridge)",
                            vi="Người gọi chưa được nối với tổng đài viên nào (đang ở lời chào hoặc đang chờ).")
    channel = endpoint_channel(rows, operator, bridge=bridge)
    if channel is not None:
        return channel
    raise TransferError(f"operator {operator} is not on call {call_id}",
                        vi="Bạn không đang nói chuyện trong cuộc gọi này, nên không chuyển được.")


def consulting_channel(channels: Iterable[Mapping[str, str]], call_id: str, operator: str) -> str:
    """The operator's channel of call ``call_id`` during a consultation (it has left the caller's bridge)."""
    channel = endpoint_channel(channels, operator, linkedid=call_id)
    if channel is not None:
        return channel
    raise TransferError(f"operator {operator} has no channel in call {call_id}",
                        vi="Không thấy máy của bạn trong cuộc gọi này; cuộc gọi có thể đã kết thúc.")


@dataclass(frozen=True)
class TransferRequest:
    """What `hotline transfer` (and later the console) asks for."""

    call_id: str
    kind: str          # directory kind: department, district, commune, provincial_office, postal_service
    code: str
    operator: str
    attended: bool = False

    @property
    def target(self) -> str:
        return f"{self.kind}:{self.code}"


Runner = Callable[[Callable[[AmiClient], Awaitable[Any]]], Any]


class TransferService:
    """Starts operators' transfers over AMI.

    Args:
        directory: the transfer directory (``find(kind, code)``).
        run: runs one AMI conversation (``SyncAmi.run`` or an async equivalent) on this node's Asterisk.
        nodes: on a cluster, the other nodes' runners by node name; a call is then transferred on the node its
            row says it is on (``node_of(call_id)``: ``calls.asterisk_node``, None when unknown: this node).
    """

    def __init__(self, directory: Any, run: Runner, nodes: Mapping[str, Runner] | None = None,
                 node_of: Callable[[str], str | None] | None = None) -> None:
        self.directory = directory
        self.run = run
        self.nodes = dict(nodes or {})
        self.node_of = node_of

    def _on_node_of(self, call_id: str) -> Runner:
        """The runner of the Asterisk the call is on."""
        node = self.node_of(call_id) if self.node_of is not None and self.nodes else None
        return self.nodes.get(node, self.run) if node else self.run

    def transfer(self, request: TransferRequest) -> str:
        """Start the transfer; return the operator's channel it was started from."""
        agency = self.directory.find(request.kind, request.code)
        if agency is None:
            raise TransferError(f"{request.target} is not in the transfer directory (`hotline directory`)",
                                vi=f"Không có đầu mối {request.target} trong danh bạ chuyển cuộc gọi.")
        exten = transfer_exten(request.kind, request.code)

        async def work(client: AmiClient) -> str:
            channel = operator_channel(await client.channels(), request.call_id, request.operator)
            await self._start(client, request, channel, exten)
            return channel
        channel: str = self._on_node_of(request.call_id)(work)
        log.info("call=%s %s transfer by %s to %s (%s) started", request.call_id,
                 "attended" if request.attended else "blind", request.operator, request.target, agency.name)
        return channel

    def back_to_caller(self, call_id: str, operator: str) -> str:
        """End the operator's consultation of an attended transfer; the caller is theirs again."""
        async def work(client: AmiClient) -> str:
            channel = consulting_channel(await client.channels(), call_id, operator)
            await client.cancel_attended_transfer(channel)
            return channel
        channel: str = self._on_node_of(call_id)(work)
        log.info("call=%s attended transfer by %s cancelled: back to the caller", call_id, operator)
        return channel

    @staticmethod
    async def _start(client: AmiClient, request: TransferRequest, channel: str, exten: str) -> None:
        kind = "attended" if request.attended else "blind"
        if request.attended:
            # The consultation is a new call from the operator's channel: '__' makes it inherit these.
            marks = {"__XFER_CALL_ID": request.call_id, "__XFER_KIND": kind, "__XFER_BY": request.operator,
                     "__XFER_EXTEN": exten}
            for name, value in marks.items():
                await client.set_var(channel, name, value)
            # Asterisk 22 keeps only the first DTMF digit Atxfer sends: one digit, then XFER_EXTEN.
            await client.attended_transfer(channel, Context.DESK_TRANSFER, CONSULT_EXTEN)
            return
        # Blind: the caller's own channel runs [hotline-desk-transfer] (and keeps CALL_ID).
        caller = await _caller_channel(client, request.call_id)
        for name, value in {"XFER_CALL_ID": request.call_id, "XFER_KIND": kind, "XFER_BY": request.operator}.items():
            await client.set_var(caller, name, value)
        await client.blind_transfer(channel, Context.DESK_TRANSFER, exten)


async def _caller_channel(client: AmiClient, call_id: str) -> str:
    row = channel_with_id(await client.channels(), call_id)
    if row is not None:
        return field(row, "Channel")
    raise TransferError(f"call {call_id} ended before the transfer",
                        vi="Người gọi đã gác máy trước khi kịp chuyển.")


def transfer_service(settings: Any, secrets: Any, directory: Any,
                     sessions: sessionmaker[Session] | None = None) -> TransferService:
    """The service wired to the hotline's AMI; on a cluster (``[cluster] peers``, with ``sessions``: the call
    log), to every node's, each call transferred where it is."""
    nodes = {name: ami.run for name, ami in node_amis(settings, secrets).items()}
    own = nodes[settings.cluster.node]
    if len(nodes) == 1 or sessions is None:
        return TransferService(directory, own)

    def node_of(call_id: str) -> str | None:
        with sessions() as s:
            return s.scalar(select(Call.asterisk_node).where(Call.call_id == call_id))
    return TransferService(directory, own, nodes, node_of)
