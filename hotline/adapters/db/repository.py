"""Calls, recordings and voicemails: the only place that writes those rows.

Synchronous on purpose: asyncio processes call it through ``asyncio.to_thread``.
Every write is idempotent, so a retried event or a reconciliation after a
restart never duplicates a row.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.orm import Session, selectinload, sessionmaker

from hotline.adapters.db.models import Call, Recording, Ticket, Transfer, Voicemail, VoicemailStatus
from hotline.domain.vocabulary import Direction, Disposition


@dataclass(frozen=True)
class AudioFacts:
    """What a finished audio file is: path relative to the recordings root, length, checksum."""

    path: str
    duration: float
    sha256: str
    size: int


@dataclass(frozen=True)
class AudioFile:
    """A known audio file: the call it belongs to, and whether the retention job deleted it."""

    call_id: str | None
    deleted: bool


@dataclass(frozen=True)
class RecordingSearch:
    """What the recordings search filters on (None: no filter); ``since`` and ``before`` bound the call's start."""

    since: datetime | None = None
    before: datetime | None = None
    caller: str | None = None
    operator: str | None = None
    desk: str | None = None
    ticket: str | None = None


class CallRepository:
    """Writes and reads the call log.

    Args:
        node: the Asterisk node (``[cluster] node``) of the process that writes calls (the ARI app, the AGI
            server): the rows it starts record it, and ``open_call_ids`` lists only that node's calls (with
            the rows logged before nodes were recorded). None (the console, the command line): every call.
    """

    def __init__(self, sessions: sessionmaker[Session], node: str | None = None) -> None:
        self._sessions = sessions
        self.node = node

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self._sessions

    def start_call(self, call_id: str, *, channel_id: str, caller: str, dialled: str,
                   started_at: datetime, answered_at: datetime | None = None,
                   disposition: str = Disposition.IN_PROGRESS, recording_file: str | None = None) -> bool:
        """Create the call's row; returns False when it already existed (only the channel is updated)."""
        with self._sessions.begin() as s:
            call = s.scalar(select(Call).where(Call.call_id == call_id))
            if call is None:
                s.add(Call(call_id=call_id, channel_id=channel_id, caller=caller, dialled=dialled,
                           started_at=started_at, answered_at=answered_at, ivr_path=[],
                           disposition=disposition, recording_file=recording_file, asterisk_node=self.node))
                return True
            call.channel_id = channel_id
            return False

    def start_outbound(self, call_id: str, *, channel_id: str, number: str, operator: str, started_at: datetime,
                       recording_file: str | None, disposition: str = Disposition.IN_PROGRESS,
                       ended_at: datetime | None = None) -> bool:
        """The row of a call out to ``number`` by ``operator`` (direction "out"); False when it already existed."""
        with self._sessions.begin() as s:
            if s.scalar(select(Call.id).where(Call.call_id == call_id)) is not None:
                return False
            s.add(Call(call_id=call_id, channel_id=channel_id, caller=number, dialled=number, started_at=started_at,
                       ivr_path=[], disposition=disposition, recording_file=recording_file, operator=operator or None,
                       asterisk_node=self.node, direction=Direction.OUT, ended_at=ended_at))
            return True

    def update(self, call_id: str, **fields: Any) -> None:
        """Set plain columns (hours, transfer_target, transfer_outcome, node, disposition, answered_at)."""
        with self._sessions.begin() as s:
            call = self._get(s, call_id)
            for name, value in fields.items():
                setattr(call, name, value)

    def add_step(self, call_id: str, node: str, key: str | None = None, step: str | None = None) -> None:
        """Remember the node the caller reached and, if any, the key(s) pressed there; ``step``, the
        writer's id of this step, makes a replayed write add it once."""
        with self._sessions.begin() as s:
            call = self._get(s, call_id)
            call.node = node
            if key is None or (step is not None and any(e.get("id") == step for e in call.ivr_path)):
                return
            entry = {"node": node, "keys": key} if step is None else {"node": node, "keys": key, "id": step}
            call.ivr_path = [*call.ivr_path, entry]

    def end_call(self, call_id: str, *, ended_at: datetime, disposition: str) -> bool:
        """Close the call once; returns False when it was already closed."""
        with self._sessions.begin() as s:
            call = self._get(s, call_id)
            if call.ended_at is not None:
                return False
            call.ended_at = ended_at
            # The queue's own facts (from AMI) are finer than "sent to the queue": keep them.
            if not (disposition == Disposition.TO_QUEUE and call.disposition in Disposition.FROM_QUEUE):
                call.disposition = disposition
            return True

    def add_recording(self, call_id: str, audio: AudioFacts, created_at: datetime) -> None:
        with self._sessions.begin() as s:
            call = self._get(s, call_id)
            rec = s.scalar(select(Recording).where(Recording.call_id == call.id))
            if rec is None:
                rec = Recording(call_id=call.id, created_at=created_at)
                s.add(rec)
            rec.path, rec.duration, rec.sha256, rec.size = audio.path, audio.duration, audio.sha256, audio.size

    def add_voicemail(self, call_id: str, audio: AudioFacts, *, status: str, ended_by: str,
                      created_at: datetime, category: str | None = None, agency: str | None = None) -> int:
        """Log a message file once (a second call updates it); returns the Voicemail's id. ``category`` and
        ``agency``: what its ticket is to be (kept once given)."""
        with self._sessions.begin() as s:
            call = self._get(s, call_id)
            vm = s.scalar(select(Voicemail).where(Voicemail.call_id == call.id,
                                                  Voicemail.path == audio.path))
            if vm is None:
                vm = Voicemail(call_id=call.id, path=audio.path, created_at=created_at)
                s.add(vm)
            if vm.status in (None, VoicemailStatus.PENDING, VoicemailStatus.TOO_SHORT):   # not the worker's
                vm.status = status
            vm.duration, vm.sha256, vm.ended_by = audio.duration, audio.sha256, ended_by
            vm.category, vm.agency = category or vm.category, agency or vm.agency
            s.flush()
            return vm.id

    def start_transfer(self, call_id: str, *, kind: str, target: str, started_at: datetime,
                       requested_by: str | None = None, key: str | None = None) -> int:
        """A new attempt to reach a desk (kind ivr|blind|attended); returns its id. ``key``, the
        writer's own name for the attempt, makes a replayed write create it once."""
        with self._sessions.begin() as s:
            call = self._get(s, call_id)
            if key is not None and (known := s.scalar(select(Transfer).where(Transfer.key == key))) is not None:
                return known.id
            row = Transfer(call_id=call.id, kind=kind, target=target, requested_by=requested_by,
                           started_at=started_at, key=key)
            s.add(row)
            call.transfer_target = target
            s.flush()
            return row.id

    def finish_transfer(self, transfer: int | str, *, outcome: str | None = None,
                        answered_at: datetime | None = None, ended_at: datetime | None = None) -> None:
        """Record how an attempt went (``transfer``: its id, or the key it was started with); fields
        left None keep their value."""
        with self._sessions.begin() as s:
            row = _transfer(s, transfer)
            if outcome is not None:
                row.outcome = outcome
                row.call.transfer_outcome = outcome
            if answered_at is not None:
                row.answered_at = answered_at
            if ended_at is not None:
                row.ended_at = ended_at

    def transfer_bridged(self, transfer: str, *, answered_at: datetime) -> None:
        """An attempt found bridged to its desk (an app restart): answered at ``answered_at`` unless its
        answer is logged already. The first process logs the answer once the bridge is made: killed in
        between, the bridge is the only word left of it."""
        with self._sessions.begin() as s:
            row = _transfer(s, transfer)
            if row.outcome is None:
                row.outcome = row.call.transfer_outcome = "answered"
            if row.answered_at is None:
                row.answered_at = answered_at

    def open_transfer(self, call_id: str) -> int | None:
        """The id of the call's latest transfer not yet ended (None: none open, or no such call)."""
        with self._sessions() as s:
            return s.scalar(select(Transfer.id).join(Call).where(Call.call_id == call_id,
                                                                   Transfer.ended_at.is_(None))
                            .order_by(Transfer.id.desc()).limit(1))

    def open_transfer_key(self, call_id: str) -> str | None:
        """The key of the call's latest transfer not yet ended (None: none open, or started without one)."""
        with self._sessions() as s:
            return s.scalar(select(Transfer.key).join(Call).where(Call.call_id == call_id, Transfer.ended_at.is_(None))
                            .order_by(Transfer.id.desc()).limit(1))

    def _mine(self) -> ColumnElement[bool]:
        """This node's calls and those that recorded no node (every call, for a repository of no node)."""
        if self.node is None:
            return true()
        return or_(Call.asterisk_node == self.node, Call.asterisk_node.is_(None))

    def open_call_ids(self) -> list[str]:
        """Open calls: this repository's node's and those that recorded no node (every one without a node)."""
        with self._sessions() as s:
            return list(s.scalars(select(Call.call_id).where(Call.ended_at.is_(None), self._mine())))

    def ended_without_recording(self, limit: int = 500) -> list[tuple[str, str | None]]:
        """(call id, recording file) of this node's ended calls whose recording is not logged yet (calls
        that were never recorded, such as callers turned away, are not waiting for one)."""
        with self._sessions() as s:
            q = (select(Call.call_id, Call.recording_file).outerjoin(Recording)
                 .where(Call.ended_at.is_not(None), Call.recording_file.is_not(None), Recording.id.is_(None),
                        self._mine())
                 .limit(limit))
            return [(row[0], row[1]) for row in s.execute(q)]

    def known_call_ids(self, call_ids: list[str], *, mine: bool = False) -> set[str]:
        """Which of these calls have a row (``mine``: a row of this node's, or of no node)."""
        q = select(Call.call_id).where(Call.call_id.in_(call_ids), self._mine() if mine else true())
        with self._sessions() as s:
            return set(s.scalars(q))

    def known_message_paths(self, paths: list[str]) -> set[str]:
        """Which of these message files (paths under the recordings root) have a Voicemail row."""
        with self._sessions() as s:
            return set(s.scalars(select(Voicemail.path).where(Voicemail.path.in_(paths))))

    def get(self, call_id: str) -> dict[str, Any] | None:
        with self._sessions() as s:
            call = s.scalar(select(Call).options(selectinload(Call.recording),
                                                 selectinload(Call.voicemails).selectinload(Voicemail.ticket),
                                                 selectinload(Call.transfers))
                            .where(Call.call_id == call_id))
            return call_to_dict(call) if call else None

    def latest(self, limit: int = 20, *, caller: str | None = None, leave_out: str | None = None,
               direction: str | None = None) -> list[dict[str, Any]]:
        """The newest calls (``call_to_dict``), of one ``caller`` if given, without the call ``leave_out``, only
        those of ``direction`` ("in", "out") if given."""
        q = (select(Call).options(selectinload(Call.recording),
                                  selectinload(Call.voicemails).selectinload(Voicemail.ticket),
                                  selectinload(Call.transfers))
             .order_by(Call.started_at.desc(), Call.id.desc()).limit(limit))
        if caller:
            q = q.where(Call.caller == caller)
        if leave_out:
            q = q.where(Call.call_id != leave_out)
        if direction:
            q = q.where(Call.direction == direction)
        with self._sessions() as s:
            return [call_to_dict(c) for c in s.scalars(q)]

    def recordings(self, search: RecordingSearch, limit: int) -> list[dict[str, Any]]:
        """Call recordings matching ``search``, newest call first: the file and its call's facts."""
        q = (select(Recording, Call).join(Call, Recording.call_id == Call.id)
             .order_by(Call.started_at.desc()).limit(limit))
        if search.since is not None:
            q = q.where(Call.started_at >= search.since)
        if search.before is not None:
            q = q.where(Call.started_at < search.before)
        for column, value in ((Call.caller, search.caller), (Call.operator, search.operator),
                              (Call.transfer_target, search.desk)):
            if value is not None:
                q = q.where(column == value)
        if search.ticket is not None:
            q = q.where(Call.id.in_(select(Ticket.call_id).where(Ticket.code == search.ticket)))
        with self._sessions() as s:
            return [{"path": r.path, "duration": r.duration, "size": r.size, "call_id": c.call_id,
                     "caller": c.caller, "operator": c.operator, "started_at": c.started_at,
                     "disposition": c.disposition, "desk": c.transfer_target} for r, c in s.execute(q)]

    def audio_file(self, path: str) -> AudioFile | None:
        """The call recording or, failing that, the voicemail stored at ``path`` (None: neither)."""
        with self._sessions() as s:
            rec = s.scalar(select(Recording).where(Recording.path == path))
            owner = rec if rec is not None else s.scalar(select(Voicemail).where(Voicemail.path == path))
            if owner is None:
                return None
            call = s.get(Call, owner.call_id)
            return AudioFile(call.call_id if call is not None else None,
                             rec is not None and rec.deleted_at is not None)

    @staticmethod
    def _get(s: Session, call_id: str) -> Call:
        call = s.scalar(select(Call).where(Call.call_id == call_id))
        if call is None:
            raise LookupError(f"no call {call_id!r} in the call log")
        return call


def _transfer(s: Session, transfer: int | str) -> Transfer:
    """A desk attempt by its id or by the key it was started with; LookupError when there is none."""
    row = s.get(Transfer, transfer) if isinstance(transfer, int) else s.scalar(select(Transfer).where(
        Transfer.key == transfer))
    if row is None:
        raise LookupError(f"no transfer {transfer}")
    return row


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def call_to_dict(call: Call) -> dict[str, Any]:
    rec = call.recording
    return {
        "call_id": call.call_id,
        "channel_id": call.channel_id,
        "caller": call.caller,
        "dialled": call.dialled,
        "started_at": _iso(call.started_at),
        "answered_at": _iso(call.answered_at),
        "ended_at": _iso(call.ended_at),
        "hours": call.hours,
        "ivr_path": [{k: v for k, v in step.items() if k != "id"} for step in call.ivr_path],   # not the writer's id
        "transfer_target": call.transfer_target,
        "transfer_outcome": call.transfer_outcome,
        "disposition": call.disposition,
        "node": call.node,
        "asterisk_node": call.asterisk_node,
        "recording_file": call.recording_file,
        "queued_at": _iso(call.queued_at),
        "queue_answered_at": _iso(call.queue_answered_at),
        "queue_left_at": _iso(call.queue_left_at),
        "queue_outcome": call.queue_outcome,
        "operator": call.operator,
        "talk_seconds": call.talk_seconds,
        "hangup_by": call.hangup_by,
        "survey_score": call.survey_score,
        "direction": call.direction,
        "recording": None if rec is None else {
            "path": rec.path, "duration": round(rec.duration, 3), "sha256": rec.sha256, "size": rec.size},
        "transfers": [
            {"kind": t.kind, "target": t.target, "requested_by": t.requested_by, "started_at": _iso(t.started_at),
             "answered_at": _iso(t.answered_at), "ended_at": _iso(t.ended_at), "outcome": t.outcome}
            for t in call.transfers
        ],
        "voicemails": [
            {"path": v.path, "duration": round(v.duration, 3), "status": v.status, "ended_by": v.ended_by,
             "ticket": v.ticket.code if v.ticket is not None else None}
            for v in call.voicemails
        ],
    }
