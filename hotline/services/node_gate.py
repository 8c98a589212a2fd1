"""Which Asterisk nodes Kamailio may send new calls to: the gate (README: Scaling out).

Kamailio's dispatcher list starts with every node disabled. A node is let in (``ap``: active, probed) while
its call application is connected to its Asterisk, and left out (``d``: disabled) after ``misses`` looks in a
row without it: a node whose Asterisk answers SIP but whose application is away would otherwise take callers
only to give them the dialplan's apology. Kamailio's own OPTIONS probing still takes out a node whose SIP
stack stops answering, faster than the gate could.

Every look reads Kamailio's own view and puts it right, so a Kamailio restarted with its list (every node
disabled) is put right within a look. Whether a node's application is connected is asked by the caller:
`hotline cluster up` asks each node's Asterisk (``ari show apps`` on its console), `hotline cluster gate` on a
real Kamailio server reads the application's beats in the shared database (``beating``). ARI's
``GET /applications`` is not used: it can wedge Asterisk's HTTP threads while an application reconnects
(Asterisk issue 2170; a node's Asterisk stopped answering in the cluster test when it was the probe).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

log = logging.getLogger("hotline.gate")


@dataclass(frozen=True)
class GateNode:
    """A node as the gate sees it: its name (``[cluster] node``) and its SIP address in Kamailio's list
    (``host:port``)."""

    name: str
    sip: str

    @property
    def host(self) -> str:
        return self.sip.rpartition(":")[0]


def beating(cluster: Any, beat_seconds: float, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
            ) -> Callable[[GateNode], bool]:
    """A node's application is connected while its beats are fresh: its ``cluster_nodes`` row
    (``ClusterRepository``) was written less than two beats ago (plus a second) and it is not declared dead. An
    application writes its beat only while connected to its Asterisk (ari_app/cluster.py)."""
    def connected(node: GateNode) -> bool:
        seen = {n.name: n for n in cluster.nodes()}.get(node.name)
        return (seen is not None and seen.dead_since is None
                and clock() - seen.last_seen <= timedelta(seconds=2 * beat_seconds + 1))
    return connected


@dataclass
class Look:
    """What one look found and did, per node: ``connected`` (its application answered), ``flags`` (Kamailio's
    flags before the look: ``AP`` active and probed, ``IP`` inactive, ``DX`` disabled...; empty: not in the
    list) and ``action`` (``let in``, ``left out`` or empty). ``connected`` is None when it could not be read
    (then nothing was changed for that node)."""

    nodes: dict[str, tuple[bool | None, str, str]] = field(default_factory=dict)
    kamailio: bool = True           # False: Kamailio did not answer; nothing was read or changed

    def line(self) -> str:
        if not self.kamailio:
            return "Kamailio does not answer on its control socket: nothing changed"
        said = {True: "connected", False: "away", None: "not known"}
        return "; ".join(f"node {name}: application {said[up]}, Kamailio {flags or '-'}"
                         + (f" → {action}" if action else "") for name, (up, flags, action) in self.nodes.items())


class NodeGate:
    """Looks every ``every`` seconds (``maybe_look``, for a supervisor's loop) or on demand (``look``).

    Args:
        nodes: the nodes in Kamailio's list.
        connected: whether a node's call application is connected (``app_connected`` with its credentials).
        states: Kamailio's view, host -> flags (``kamailio_config.dispatcher_states``); {} when it does not
            answer.
        set_state: tells Kamailio a node's new state (``ap`` or ``d``) by its ``host:port``; True if taken.
        misses: looks in a row without the application before a node is left out (one slow answer is not
            enough).
        on_all_in: called once, the first time every node is connected.
    """

    def __init__(self, nodes: Sequence[GateNode], connected: Callable[[GateNode], bool],
                 states: Callable[[], dict[str, str]], set_state: Callable[[str, str], bool], *,
                 every: float = 1.0, misses: int = 2, on_all_in: Callable[[], None] | None = None) -> None:
        self.nodes, self.connected, self.states, self.set_state = list(nodes), connected, states, set_state
        self.every, self.misses_allowed, self.on_all_in = every, misses, on_all_in
        self.misses: dict[str, int] = {}
        self.announced = False
        self.next_look = 0.0

    def maybe_look(self) -> None:
        """A look if ``every`` seconds have passed since the last one (a supervisor's check; returns nothing)."""
        now = time.monotonic()
        if now >= self.next_look:
            self.next_look = now + self.every
            self.look()

    def look(self) -> Look:
        """Read Kamailio's view and each node's application; let in or leave out what differs."""
        flags = self.states()
        if not flags:
            return Look(kamailio=False)
        found = Look()
        for node in self.nodes:
            found.nodes[node.name] = self._put_right(node, flags.get(node.host, ""))
        if not self.announced and all(self.misses.get(n.name) == 0 for n in self.nodes):
            self.announced = True
            if self.on_all_in is not None:
                self.on_all_in()
        return found

    def run(self, stop: threading.Event, report: Callable[[Look], None] | None = None) -> None:
        """Look every ``every`` seconds until ``stop`` is set; ``report`` gets every look that changed
        something or found Kamailio silent."""
        while not stop.is_set():
            found = self.look()
            if report is not None and (not found.kamailio or any(a for _u, _f, a in found.nodes.values())):
                report(found)
            stop.wait(self.every)

    def _put_right(self, node: GateNode, flags: str) -> tuple[bool | None, str, str]:
        try:
            up = self.connected(node)
        except Exception as exc:      # the database away: nothing is known, so nothing changes (no node left out)
            log.warning("node %s: whether its application is connected is not known (%s); Kamailio's list kept",
                        node.name, exc)
            return None, flags, ""
        self.misses[node.name] = 0 if up else self.misses.get(node.name, self.misses_allowed - 1) + 1
        if up and flags.startswith("D") and self.set_state(node.sip, "ap"):
            log.info("node %s takes calls", node.name)
            return up, flags, "let in"
        if (self.misses[node.name] >= self.misses_allowed and flags and not flags.startswith("D")
                and self.set_state(node.sip, "d")):
            log.info("node %s left out: its call application is away", node.name)
            return up, flags, "left out"
        return up, flags, ""
