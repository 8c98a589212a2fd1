"""Call-backs nothing holds in the queue any more, put back there (the worker's sweep, hotline/worker/sweep.py).

A call-back waits in the queue as a placeholder channel (ari_app/call.py). Two kinds of rows have none: a retry
that is due (the citizen did not answer, ``[callback] retry_minutes`` ago) and a placeholder that is gone
(Asterisk restarted, the node was lost, the app died before placing it); a call-back whose call out went
the same way (taken, but its end never reported) counts that call as a try the citizen did not answer, unless
the call out's row says they answered. In staffed hours each gets a new
placeholder at the front of the queue (position 1: the caller already waited their turn), through AMI Originate
on the call's node; outside them, or with no route out, it becomes a ticket: nobody calls citizens at night.
A placeholder is judged gone only from Asterisk's own channel list, and a row is taken with one atomic UPDATE,
so two sweeps never place one call-back twice.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from hotline.adapters.ami import AmiClient, SyncAmi
from hotline.domain.calendar import HotlineHours
from hotline.domain.errors import HotlineError
from hotline.domain.redact import masked_number
from hotline.domain.vocabulary import Context
from hotline.services.callbacks import Callbacks
from hotline.services.tickets import TicketService

log = logging.getLogger("hotline.callbacks")

#: A placeholder younger than this is not judged: the app may be placing it right now.
PLACE_GRACE = timedelta(seconds=30)
#: How long a placeholder may wait in the queue (AMI Originate's timeout): longer than any staffed day.
PLACE_TIMEOUT_MS = 18 * 3600 * 1000
#: Placeholders put back for one call-back before it becomes a ticket instead.
MAX_PLACEMENTS = 5


@dataclass
class CallbackSweep:
    """``amis``: every node's AMI by node name, this node's first (hotline.adapters.ami.node_amis)."""

    callbacks: Callbacks
    tickets: TicketService
    hours: HotlineHours
    amis: Mapping[str, SyncAmi]
    dial: str

    def run(self) -> dict[str, int]:
        """One pass: how many call-backs it put back in the queue and how many became tickets."""
        now = self.callbacks.now()
        counts = {"callbacks_placed": 0, "callbacks_ticketed": 0}
        rows = self.callbacks.due(now)
        suspects = self.callbacks.placed_before(now - PLACE_GRACE)
        calling = self.callbacks.calling_before(now - PLACE_GRACE)
        live = self._live_channels() if suspects or calling else {}     # no AMI at all when nothing to judge
        if suspects:
            rows += self._lost(suspects, live)
        for row in self._lost(calling, live):
            became = self.callbacks.call_lost(row["id"], self.tickets)
            counts["callbacks_ticketed"] += became == "no_answer"
            log.warning("call-back %s of call %s: its call out %s went without a word -> %s", row["id"],
                        row["call_id"], row["place_channel"], became)
        tz = self.tickets.deadlines.tz
        for row in rows:
            why = None if self.dial else "no_route"
            why = why or (None if self.hours.is_open(now) else "closed")
            # asked on another day: the citizen is not called about it out of the blue (an operator reads the ticket)
            why = why or ("stale" if row["requested_at"].astimezone(tz).date() != now.astimezone(tz).date() else None)
            # its placeholder put back MAX_PLACEMENTS times and lost each time (the AGI server or Asterisk failing
            # at every turn): a ticket rather than an operator's phone rung for nothing all day
            why = why or ("replaced" if row["placements"] >= MAX_PLACEMENTS else None)
            if why is not None:
                became = self.callbacks.give_up(row["id"], why, self.tickets)
                counts["callbacks_ticketed"] += became != "waiting"
                log.info("call-back %s of call %s: %s -> %s", row["id"], row["call_id"], why, became)
            else:
                counts["callbacks_placed"] += self._place(row)
        return counts

    def _place(self, row: dict[str, Any]) -> bool:
        place = f"cb-{row['id']}-{uuid.uuid4().hex[:12]}"
        if not self.callbacks.claim(row["id"], row["place_channel"], place):
            return False
        variables = {"CALLBACK_ID": str(row["id"]), "CALLBACK_NUMBER": row["number"], "CALLBACK_POSITION": "1",
                     "__CALLBACK_OF": row["call_id"] or ""}

        async def work(client: AmiClient) -> None:
            await client.originate(f"Local/s@{Context.CALLBACK_PLACE}/n", Context.CALLBACK_CONNECT,
                                   channel_id=place, other_channel_id=f"{place}-2", variables=variables,
                                   caller_id=f'"Gọi lại" <{row["number"]}>', timeout_ms=PLACE_TIMEOUT_MS)
        for node in self._nodes(row.get("node")):
            try:
                self.amis[node].run(work)
            except HotlineError as exc:
                log.warning("call-back %s: node %s did not take its placeholder: %s", row["id"], node, exc)
                continue
            why = "its next try is due" if row["next_try_at"] else f"its place {row['place_channel'] or '?'} was gone"
            log.info("call-back %s of call %s to %s back in the queue at the front as %s on %s (%s; try %d)",
                     row["id"], row["call_id"], masked_number(row["number"]), place, node, why, row["attempts"] + 1)
            return True
        return False        # its claimed placeholder does not exist: the next sweep after PLACE_GRACE tries again

    def _nodes(self, own: str | None) -> list[str]:
        """The call's node first (its operators know the caller), then the others."""
        return sorted(self.amis, key=lambda name: name != own)

    def _lost(self, rows: list[dict[str, Any]], live: dict[str, set[str] | None]) -> list[dict[str, Any]]:
        """The rows whose placeholder no node has (``live``: each node's channels); a row whose own node does not
        answer is not judged (its placeholder may be there), nor any when no node answers. A placeholder wrongly
        judged lost costs an operator one silent ring, never a second call: only the row's current placeholder
        may take it (Callbacks.taken)."""
        if not rows:
            return []
        anywhere = set().union(*(ids for ids in live.values() if ids is not None))
        if all(ids is None for ids in live.values()):
            return []
        return [r for r in rows if live.get(r.get("node") or "", set()) is not None
                and r["place_channel"] not in anywhere]

    def _live_channels(self) -> dict[str, set[str] | None]:
        """The unique ids of the channels of each node; None for a node that does not answer."""
        async def ids(client: AmiClient) -> list[str]:
            return [row.get("Uniqueid", "") for row in await client.channels()]
        live: dict[str, set[str] | None] = {}
        for node, ami in self.amis.items():
            try:
                live[node] = set(ami.run(ids))
            except HotlineError as exc:
                log.warning("call-backs on node %s not checked: it did not list its channels: %s", node, exc)
                live[node] = None
        return live
