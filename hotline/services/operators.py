"""Operators (tổng đài viên): who they are (database), and their state in the queue (app_queue over AMI).

The database is the source of truth: every login, pause, resume and logout is an
``OperatorEvent``; Asterisk's queue is brought in line with it (``restore_logins`` at
start). Live states merge the last event with app_queue's QueueStatus. The command line
and the console's softphone page use this one service.
"""
from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hotline.adapters.ami import AmiClient, AmiError, AmiUnavailable, QueueMember, SyncAmi, ami_client, node_ami
from hotline.adapters.db.models import Operator, OperatorEvent
from hotline.domain.errors import HotlineError
from hotline.domain.vocabulary import QUEUE_NAME, DeviceState, OperatorState

log = logging.getLogger("hotline.services.operators")

PAUSE_REASONS = ("break", "training", "meeting", "other")
PHONES = ("desk", "web")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,62}$")
RESERVED = frozenset({"global", "anonymous", "transport-udp", "endpoint-common", "operator-common"})


class OperatorError(HotlineError):
    """An operator command that cannot be done (unknown name, not logged in, bad reason...)."""


@dataclass(frozen=True)
class OperatorEndpoint:
    """What the PJSIP template needs of an operator."""

    name: str
    display_name: str
    contact: str | None
    phone: str = "desk"      # desk: SIP over UDP; web: the console's softphone (WebRTC)


@dataclass(frozen=True)
class OperatorStatus:
    name: str
    display_name: str
    contact: str | None
    state: str                 # OperatorState.*
    reason: str | None         # pause reason
    since: datetime | None     # time of the last login/pause/resume/logout event
    device: str | None         # app_queue's view of the phone (not_in_use, ringing, unavailable...); None: unknown
    calls_taken: int = 0
    in_queue: bool | None = None   # None: Asterisk not reachable

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["since"] = self.since.isoformat() if self.since else None
        return out


class QueueMembers(Protocol):
    """The operator queue's members, as the service needs them (app_queue over AMI in production)."""

    def add(self, name: str, paused: bool = False, reason: str | None = None) -> None: ...
    def remove(self, name: str) -> None: ...
    def pause(self, name: str, paused: bool, reason: str | None = None) -> None: ...
    def members(self) -> list[QueueMember] | None: ...


def interface(name: str) -> str:
    """The operator's phone as the queue dials it."""
    return f"PJSIP/{name}"


class AmiQueueMembers:
    """QueueMembers of one app_queue queue, one short AMI connection per call (blocking)."""

    def __init__(self, client_factory: Callable[[], AmiClient], queue: str = QUEUE_NAME) -> None:
        self.client_factory, self.queue = client_factory, queue
        self._run = SyncAmi(client_factory).run

    def add(self, name: str, paused: bool = False, reason: str | None = None) -> None:
        async def work(c: AmiClient) -> None:
            try:
                await c.queue_add(self.queue, interface(name), name, interface(name), paused=paused)
            except AmiError as exc:
                if "already there" not in str(exc).lower():
                    raise
            if paused:
                await c.queue_pause(self.queue, interface(name), True, reason)
        self._run(work)

    def remove(self, name: str) -> None:
        async def work(c: AmiClient) -> None:
            try:
                await c.queue_remove(self.queue, interface(name))
            except AmiError as exc:
                if "not there" not in str(exc).lower():
                    raise
        self._run(work)

    def pause(self, name: str, paused: bool, reason: str | None = None) -> None:
        self._run(lambda c: c.queue_pause(self.queue, interface(name), paused, reason))

    def members(self) -> list[QueueMember] | None:
        try:
            return list(self._run(lambda c: c.queue_status(self.queue)))
        except AmiError as exc:
            log.debug("queue status unavailable: %s", exc)
            return None


class ClusterQueueMembers:
    """The operator queue of every node of a cluster as one (README: Scaling out): a login, pause or logout
    reaches each node's queue; a node that does not answer is skipped, this node too (its restart puts the logins
    back, ``restore_logins``), and the change fails only when no node took it; the members and their states are
    read from this node's queue, or another node's while this one does not answer."""

    def __init__(self, own: QueueMembers, peers: Sequence[QueueMembers]) -> None:
        self.own, self.peers = own, list(peers)

    def _everywhere(self, act: Callable[[QueueMembers], None]) -> None:
        """The change on every node; one that does not answer is skipped (its restart restores the logins). It
        fails only when no node took it: this node being down must not keep the operator from the others."""
        own_failure: AmiError | None = None
        try:
            act(self.own)
        except AmiError as exc:
            log.warning("this node did not take the queue change (the other nodes are still told): %s", exc)
            own_failure = exc
        taken = 0
        for peer in self.peers:
            try:
                act(peer)
                taken += 1
            except AmiError as exc:     # AmiUnavailable too: that node is down, its restart restores it
                log.warning("a node of the cluster did not take the queue change: %s", exc)
        if own_failure is not None and not taken:
            raise own_failure

    def add(self, name: str, paused: bool = False, reason: str | None = None) -> None:
        self._everywhere(lambda q: q.add(name, paused, reason))

    def remove(self, name: str) -> None:
        self._everywhere(lambda q: q.remove(name))

    def pause(self, name: str, paused: bool, reason: str | None = None) -> None:
        self._everywhere(lambda q: q.pause(name, paused, reason))

    def members(self) -> list[QueueMember] | None:
        """This node's queue, or while it does not answer (its Asterisk restarting), the first peer's that does:
        every node's queue has the same members."""
        for queue in (self.own, *self.peers):
            found = queue.members()
            if found is not None:
                return found
        return None


class OperatorService:
    """Add, list and remove operators; log them in and out, pause and resume them.

    Args:
        sessions: the database.
        secrets: generates each operator's SIP password (``endpoint_password``).
        clock: the hotline clock (event times).
        queue: the operator queue's members (app_queue over AMI).
        wrapup_seconds: after-call work, to tell wrap-up from available.
        reserved: names that are already endpoints (the desks).
    """

    def __init__(self, sessions: sessionmaker[Session], secrets: Any, clock: Any, queue: QueueMembers,
                 wrapup_seconds: float = 15.0, reserved: Collection[str] = ()) -> None:
        self.sessions, self.secrets, self.clock, self.queue = sessions, secrets, clock, queue
        self.wrapup_seconds = wrapup_seconds
        self.reserved = RESERVED | set(reserved)

    # -- who -----------------------------------------------------------------------------
    def add(self, name: str, display_name: str, contact: str | None = None,
            phone: str = "desk") -> tuple[OperatorEndpoint, str]:
        """Create (or re-activate) an operator; return it and its SIP password.

        ``phone``: "desk" (a SIP phone over UDP) or "web" (the console's WebRTC softphone)."""
        if phone not in PHONES:
            raise OperatorError(f"phone {phone!r}: desk (a SIP phone) or web (the console's softphone)")
        if phone == "web" and contact is not None:
            raise OperatorError("the console's softphone registers itself: no --contact with --web")
        if not NAME_RE.match(name) or name in self.reserved:
            raise OperatorError(f"{name!r} cannot be an operator name: use lower-case letters, digits, '-', "
                                "'_' or '.', 2-63 characters, not a desk's endpoint (e.g. op-lan)")
        if not display_name.strip():
            raise OperatorError('the operator needs a name, e.g. --name "Nguyễn Thị Lan"')
        if contact is not None and not re.match(r"^sips?:[^\s\"<>]+$", contact):
            raise OperatorError(f"{contact!r} is not a SIP address: write e.g. sip:op-lan@192.0.2.10:5060")
        with self.sessions.begin() as s:
            row = s.scalar(select(Operator).where(Operator.name == name))
            if row is not None and row.active:
                raise OperatorError(f"operator {name} already exists (hotline operators list)")
            if row is None:
                row = Operator(name=name, display_name=display_name.strip(), contact=contact,
                               created_at=self.clock.now(), active=True, phone=phone)
                s.add(row)
            else:
                row.display_name, row.contact, row.active, row.phone = display_name.strip(), contact, True, phone
            endpoint = _endpoint(row)
        log.info("operator %s added (%s)", name, endpoint.display_name)
        return endpoint, self.secrets.endpoint_password(name)

    def remove(self, name: str) -> None:
        """Log the operator out and deactivate them (their calls and events are kept)."""
        if self._last_state(name) != OperatorState.LOGGED_OUT:
            self.logout(name)
        with self.sessions.begin() as s:
            self._row(s, name).active = False
        log.info("operator %s removed", name)

    def endpoints(self) -> list[OperatorEndpoint]:
        """The active operators, by name (what pjsip.conf needs)."""
        with self.sessions() as s:
            rows = s.scalars(select(Operator).where(Operator.active.is_(True)).order_by(Operator.name))
            return [_endpoint(r) for r in rows]

    # -- state -----------------------------------------------------------------------------
    def login(self, name: str) -> None:
        if self._last_state(name) != OperatorState.LOGGED_OUT:
            raise OperatorError(f"operator {name} is already logged in", vi="Bạn đã vào ca rồi.")
        self.queue.add(name)
        self._record(name, OperatorState.AVAILABLE)

    def logout(self, name: str) -> None:
        if self._last_state(name) == OperatorState.LOGGED_OUT:
            raise OperatorError(f"operator {name} is not logged in", vi="Bạn chưa vào ca.")
        self.queue.remove(name)
        self._record(name, OperatorState.LOGGED_OUT)

    def pause(self, name: str, reason: str) -> None:
        if reason not in PAUSE_REASONS:
            raise OperatorError(f"{reason!r} is not a pause reason: use one of {', '.join(PAUSE_REASONS)}",
                                vi="Hãy chọn lý do tạm nghỉ trong danh sách.")
        if self._last_state(name) == OperatorState.LOGGED_OUT:
            raise OperatorError(f"operator {name} is not logged in: log in first",
                                vi="Bạn chưa vào ca: bấm «Sẵn sàng» trước khi tạm nghỉ.")
        self.queue.pause(name, True, reason)
        self._record(name, OperatorState.PAUSED, reason)

    def resume(self, name: str) -> None:
        if self._last_state(name) != OperatorState.PAUSED:
            raise OperatorError(f"operator {name} is not paused", vi="Bạn không đang tạm nghỉ.")
        self.queue.pause(name, False)
        self._record(name, OperatorState.AVAILABLE)

    def restore_logins(self) -> list[str]:
        """Re-add to the queue every operator whose last event is a login (at start; idempotent)."""
        restored = []
        for op in self.endpoints():
            event = self._last_event(op.name)
            if event is None or event.state == OperatorState.LOGGED_OUT:
                continue
            paused = event.state == OperatorState.PAUSED
            self.queue.add(op.name, paused=paused, reason=event.reason if paused else None)
            restored.append(op.name)
        if restored:
            log.info("operators back in the queue: %s", ", ".join(restored))
        return restored

    def states(self) -> list[OperatorStatus]:
        """Every active operator's live state: the last event merged with the queue's view."""
        members = self.queue.members()
        by_name = {m.name: m for m in members or []}
        out = []
        for op in self.endpoints():
            event = self._last_event(op.name)
            out.append(self._merge(op, event, by_name.get(op.name), members is not None))
        return out

    def _merge(self, op: OperatorEndpoint, event: OperatorEvent | None, member: QueueMember | None,
               live: bool) -> OperatorStatus:
        state = event.state if event is not None else OperatorState.LOGGED_OUT
        reason = event.reason if event is not None and state == OperatorState.PAUSED else None
        if live and member is None:
            state, reason = OperatorState.LOGGED_OUT, None
        elif member is not None:
            state, reason = self._member_state(member, reason)
        return OperatorStatus(op.name, op.display_name, op.contact, state, reason,
                              event.at if event is not None else None, member.status if member else None,
                              member.calls_taken if member else 0, (member is not None) if live else None)

    def _member_state(self, member: QueueMember, db_reason: str | None) -> tuple[str, str | None]:
        if member.in_call or member.status in DeviceState.ON_CALL:
            return OperatorState.ON_CALL, None
        if member.paused:
            return OperatorState.PAUSED, member.paused_reason or db_reason
        if member.last_call and time.time() - member.last_call < self.wrapup_seconds:
            return OperatorState.WRAP_UP, None
        return OperatorState.AVAILABLE, None

    # -- database ----------------------------------------------------------------------------
    def _row(self, s: Session, name: str) -> Operator:
        row = s.scalar(select(Operator).where(Operator.name == name, Operator.active.is_(True)))
        if row is None:
            raise OperatorError(f"no operator named {name!r} (hotline operators list)",
                                vi=f"Không có tổng đài viên {name!r}; nhờ quản trị viên kiểm tra tài khoản.")
        return row

    def _last_event(self, name: str, states: Sequence[str] = (OperatorState.AVAILABLE, OperatorState.PAUSED,
                                                              OperatorState.LOGGED_OUT)) -> OperatorEvent | None:
        """The operator's last login/pause/resume/logout (on_call and wrap_up events do not change it)."""
        with self.sessions() as s:
            op = self._row(s, name)
            event = s.scalar(select(OperatorEvent).where(OperatorEvent.operator_id == op.id,
                                                         OperatorEvent.state.in_(states))
                             .order_by(OperatorEvent.at.desc(), OperatorEvent.id.desc()).limit(1))
            if event is not None:
                s.expunge(event)
            return event

    def _last_state(self, name: str) -> str:
        event = self._last_event(name)
        return event.state if event is not None else OperatorState.LOGGED_OUT

    def _record(self, name: str, state: str, reason: str | None = None) -> None:
        with self.sessions.begin() as s:
            op = self._row(s, name)
            s.add(OperatorEvent(operator_id=op.id, at=self.clock.now(), state=state, reason=reason))
        log.info("operator=%s --> %s%s", name, state, f" ({reason})" if reason else "")


def _endpoint(row: Operator) -> OperatorEndpoint:
    return OperatorEndpoint(row.name, row.display_name, row.contact, row.phone or "desk")


def operator_service(settings: Any, secrets: Any, clock: Any, directory: Any,
                     sessions: sessionmaker[Session]) -> OperatorService:
    """The service wired to the hotline's AMI (a Context gives every argument)."""
    desks = [a.desk.endpoint for a in directory.entries if a.desk.endpoint]
    queue: QueueMembers = AmiQueueMembers(lambda: ami_client(settings, secrets))
    if settings.cluster.peer_nodes:
        queue = ClusterQueueMembers(queue, [AmiQueueMembers(node_ami(settings, secrets, peer.host))
                                            for peer in settings.cluster.peer_nodes])
    return OperatorService(sessions, secrets, clock, queue, wrapup_seconds=settings.queue.wrapup_seconds,
                           reserved=desks)


def context_service(ctx: Any) -> OperatorService:
    """``operator_service`` from a loaded ``hotline.context.Context``."""
    return operator_service(ctx.settings, ctx.secrets, ctx.clock, ctx.directory, ctx.sessions())


def apply_endpoints(ctx: Any, service: OperatorService) -> bool:
    """Re-render pjsip.conf with the operators and, if Asterisk runs, reload PJSIP; True if reloaded."""
    from hotline.adapters.asterisk_config import render

    render(ctx.settings, ctx.secrets, ctx.directory, ctx.settings.paths.state_dir / "asterisk",
           operators=service.endpoints(), only={"pjsip.conf"})
    try:
        SyncAmi(lambda: ami_client(ctx.settings, ctx.secrets)).run(lambda c: c.command("module reload res_pjsip.so"))
    except AmiUnavailable as exc:
        log.info("pjsip.conf rendered; not reloaded (%s)", exc)
        return False
    return True
