"""Two nodes on one database (issue 14): the real ARI app, restarted on the test stack's Asterisk, closes
its own node's calls that ended while it was away and leaves another node's open call alone, and says
in ``cluster_nodes`` that its node is alive."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hotline.adapters.db.cluster import ClusterNode, ClusterRepository
from hotline.adapters.db.repository import CallRepository
from tests.support.stack import Stack, wait_for

pytestmark = pytest.mark.asterisk

OTHER = "test-other-node"


def test_a_restarted_app_leaves_another_nodes_open_call_alone(open_hours: Stack) -> None:
    stack = open_hours
    sessions, node = stack.repo.sessions, stack.ctx.settings.cluster.node
    now = stack.ctx.clock.now()
    stamp = f"{datetime.now(UTC).timestamp():.0f}"
    mine, theirs = f"gone-{stamp}", f"{OTHER}-{stamp}"
    rec = stack.recordings / "2026" / "11" / "25"
    other, own = CallRepository(sessions, node=OTHER), CallRepository(sessions, node=node)
    cluster = ClusterRepository(sessions)
    cluster.beat(OTHER, datetime.now(UTC))          # the other node is alive: nothing of it may be touched
    other.start_call(theirs, channel_id=theirs, caller="0940000091", dialled="1022", started_at=now,
                     answered_at=now, recording_file=str(rec / f"{theirs}.wav"))
    own.start_call(mine, channel_id=mine, caller="0940000092", dialled="1022", started_at=now, answered_at=now,
                   recording_file=str(rec / f"{mine}.wav"))     # this node's, its channel long gone
    try:
        stack.kill("ari_app")
        stack.start_proc("ari_app")
        wait_for(stack.app_registered, 20, "the restarted app to register")
        wait_for(lambda: (own.get(mine) or {}).get("ended_at"), 20, "the app to close its own node's call")
        wait_for(lambda: any(n.name == node for n in cluster.nodes()), 20, "the app to beat for its node")
        row = other.get(theirs)
        assert row is not None and row["ended_at"] is None and row["disposition"] == "in_progress", row
        assert row["asterisk_node"] == OTHER and own.get(mine)["asterisk_node"] == node  # type: ignore[index]
    finally:
        other.end_call(theirs, ended_at=stack.ctx.clock.now(), disposition="abandoned_ivr")
        with sessions.begin() as s:
            s.query(ClusterNode).filter_by(name=OTHER).delete()
        if "ari_app" not in stack.procs or stack.procs["ari_app"].poll() is not None:
            stack.start_proc("ari_app")
