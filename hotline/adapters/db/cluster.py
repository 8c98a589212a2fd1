"""The Asterisk nodes sharing this database: which is alive, which was declared dead and by whom.

Each node's ARI app writes its ``last_seen`` every ``[cluster] beat_seconds`` (``ClusterRepository.beat``);
a node unseen for ``[cluster] dead_after`` seconds is declared dead by exactly one surviving node
(``claim_dead``: a conditional update, so two survivors racing cannot both win), which then closes that
node's open calls. A node that beats again is alive again (its declaration cleared).
Times are the real UTC clock of the writing node (the nodes keep NTP time), not the hotline clock that
tests move.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from hotline.adapters.db.models import Base, Call, UTCDateTime


class ClusterNode(Base):
    """One Asterisk node (``[cluster] node``) and when its ARI app was last seen alive."""

    __tablename__ = "cluster_nodes"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    dead_since: Mapped[datetime | None] = mapped_column(UTCDateTime())    # declared dead then ...
    dead_by: Mapped[str | None] = mapped_column(String(64))                # ... by this surviving node


@dataclass(frozen=True)
class NodeSeen:
    """A node as the database has it."""

    name: str
    last_seen: datetime
    dead_since: datetime | None
    dead_by: str | None


class ClusterRepository:
    """Reads and writes ``cluster_nodes`` (synchronous: asyncio callers use ``asyncio.to_thread``)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def beat(self, node: str, now: datetime) -> bool:
        """``node`` is alive at ``now``; True when it had been declared dead (it is back)."""
        with self._sessions.begin() as s:
            row = s.get(ClusterNode, node, with_for_update=True)
            if row is None:
                s.add(ClusterNode(name=node, last_seen=now))
                return False
            back = row.dead_since is not None
            row.last_seen, row.dead_since, row.dead_by = now, None, None
            return back

    def claim_dead(self, survivor: str, now: datetime, dead_after: float) -> list[str]:
        """Declare dead every other node unseen for ``dead_after`` seconds and not declared yet; returns the
        ones this ``survivor`` declared (a conditional update per node: one survivor wins each)."""
        cutoff = now - timedelta(seconds=dead_after)
        won: list[str] = []
        with self._sessions() as s:
            candidates = list(s.scalars(select(ClusterNode.name).where(
                ClusterNode.name != survivor, ClusterNode.dead_since.is_(None), ClusterNode.last_seen < cutoff)))
        for name in candidates:
            with self._sessions.begin() as s:
                done = s.execute(update(ClusterNode)
                                 .where(ClusterNode.name == name, ClusterNode.dead_since.is_(None),
                                        ClusterNode.last_seen < cutoff)
                                 .values(dead_since=now, dead_by=survivor)
                                 .execution_options(synchronize_session=False))
                if done.rowcount == 1:      # type: ignore[attr-defined]
                    won.append(name)
        return won

    def declared_by(self, survivor: str) -> list[str]:
        """The nodes still dead that ``survivor`` declared (their open calls are its to close)."""
        with self._sessions() as s:
            return list(s.scalars(select(ClusterNode.name).where(ClusterNode.dead_by == survivor,
                                                                  ClusterNode.dead_since.is_not(None))))

    def nodes(self) -> list[NodeSeen]:
        with self._sessions() as s:
            return [NodeSeen(n.name, n.last_seen, n.dead_since, n.dead_by)
                    for n in s.scalars(select(ClusterNode).order_by(ClusterNode.name))]

    def open_calls_of(self, node: str) -> list[str]:
        """Call ids of ``node``'s open rows (rows that recorded no node are never another node's)."""
        with self._sessions() as s:
            return list(s.scalars(select(Call.call_id).where(Call.asterisk_node == node, Call.ended_at.is_(None))))
