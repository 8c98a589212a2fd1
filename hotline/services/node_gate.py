"""Which Asterisk nodes Kamailio may send new calls to: the gate (README: Scaling out).

Kamailio's dispatcher list starts with every node disabled. A node is let in (``ap``: active, probed) while
its call application is connected to its Asterisk, and left out (``d``: disabled) after ``misses`` looks in a
row without it: a node whose Asterisk answers SIP but whose application is away would otherwise take callers
only to give them the dialplan's apology. Kamailio's own OPTIONS probing still takes out a node whose SIP
stack stops answering, faster than the gate could.

Every look reads Kamailio's own view and puts it right, so a Kamailio restarted with its list (every node
disabled) is put right within a look. When every node's application looks away at once, nothing is left out:
that is more likely the gate's own view failing (the database away, a clock stepped) than every node at once,
and a node whose application is away still records a caller's message in its dialplan's fallback, where an
empty list would answer every citizen 503. Kamailio's probing still takes out a node that does not answer.

Whether a node's application is connected is asked by the caller: `hotline cluster up` asks each node's
Asterisk (``ari show apps`` on its console), `hotline cluster gate` on a real Kamailio server reads the
application's beats in the shared database (``BeatWatch``). ARI's ``GET /applications`` was tried and dropped:
while the gate polled it, a restarted node's Asterisk stopped answering ARI and AMI in the cluster test (cause
not diagnosed; Asterisk issue 2170, open, reports that request blocking while an application is torn down).
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


class BeatWatch:
    """Whether a node's application is connected, from its beats in ``cluster_nodes`` (``ClusterRepository``):
    an application writes its beat every ``beat_seconds`` only while connected to its Asterisk
    (ari_app/cluster.py). A node is connected while its ``last_seen`` has changed within two beats and a second,
    timed on this machine's own steady clock (the nodes' clocks and this one's may differ), and it is not
    declared dead. Until a node has been watched that long, its ``last_seen`` is compared with this machine's
    real time instead. The table is read once per look (again only after half a second)."""

    def __init__(self, cluster: Any, beat_seconds: float, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 steady: Callable[[], float] = time.monotonic) -> None:
        self.cluster, self.window = cluster, 2 * beat_seconds + 1
        self.clock, self.steady = clock, steady
        self.changed: dict[str, tuple[datetime, float]] = {}      # node -> (last_seen, when it was seen to change)
        self.first_look: float | None = None
        self._rows: dict[str, Any] = {}
        self._read_at: float | None = None

    def names(self) -> list[str]:
        """The nodes that ever beat (for checking the names a gate is given)."""
        return sorted(n.name for n in self.cluster.nodes())

    def __call__(self, node: GateNode) -> bool:
        now = self.steady()
        if self._read_at is None or now - self._read_at >= 0.5:
            self._rows, self._read_at = {n.name: n for n in self.cluster.nodes()}, now
            self.first_look = now if self.first_look is None else self.first_look
        seen = self._rows.get(node.name)
        if seen is None or seen.dead_since is not None:
            return False
        before = self.changed.get(node.name)
        if before is None or before[0] != seen.last_seen:
            self.changed[node.name] = (seen.last_seen, now)
            if before is not None:
                return True
        assert self.first_look is not None
        if now - self.first_look < self.window:        # not watched long enough: the clocks decide
            return self.clock() - seen.last_seen <= timedelta(seconds=self.window)
        return now - self.changed[node.name][1] <= self.window


@dataclass
class Look:
    """What one look found and did, per node: ``connected`` (its application answered), ``flags`` (Kamailio's
    flags before the look: ``AP`` active and probed, ``IP`` inactive, ``DX`` disabled...; empty: not in the
    list) and ``action`` (``let in``, ``left out`` or empty). ``connected`` is None when it could not be read
    (then nothing was changed for that node)."""

    nodes: dict[str, tuple[bool | None, str, str]] = field(default_factory=dict)
    kamailio: bool = True           # False: Kamailio did not answer; nothing was read or changed
    every_one_away: bool = False    # every application looked away: nothing was left out

    @property
    def all_in(self) -> bool:
        """Every node's application connected and every node active in Kamailio's list."""
        return self.kamailio and all(up is True and flags.startswith("A") or action == "let in"
                                     for up, flags, action in self.nodes.values())

    def line(self) -> str:
        if not self.kamailio:
            return "Kamailio does not answer on its control socket: nothing changed"
        said = {True: "connected", False: "away", None: "not known"}
        line = "; ".join(f"node {name}: application {said[up]}, Kamailio {flags or 'has no such node'}"
                         + (f" → {action}" if action else "") for name, (up, flags, action) in self.nodes.items())
        return line + ("; every application away: none left out" if self.every_one_away else "")


class NodeGate:
    """Looks every ``every`` seconds (``maybe_look``, for a supervisor's loop) or on demand (``look``).

    Args:
        nodes: the nodes in Kamailio's list.
        connected: whether a node's call application is connected (``BeatWatch``, or a node's console); an
            exception means not known.
        states: Kamailio's view, ``host:port`` -> flags (``kamailio_config.dispatcher_states``); {} when it does
            not answer.
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

    def look(self, change: bool = True) -> Look:
        """Read Kamailio's view and each node's application; let in or leave out what differs (nothing when
        ``change`` is False: a check)."""
        flags = self.states()
        if not flags:
            return Look(kamailio=False)
        ups: dict[str, bool | None] = {}
        for node in self.nodes:
            try:
                ups[node.name] = self.connected(node)
            except Exception as exc:     # the database away: nothing known, nothing changes (no node left out)
                log.warning("node %s: whether its application is connected is not known (%s); Kamailio's list "
                            "kept", node.name, exc)
                ups[node.name] = None
        every_one_away = all(up is False for up in ups.values())
        if every_one_away and change:
            log.error("every node's application looks away: none is left out (Kamailio would refuse every call; "
                      "its probing still takes out a node that does not answer)")
        found = Look(every_one_away=every_one_away)
        for node in self.nodes:
            here = flags.get(node.sip, "")
            found.nodes[node.name] = (ups[node.name], here,
                                      self._put_right(node, ups[node.name], here, every_one_away) if change else "")
        if not self.announced and all(self.misses.get(n.name) == 0 for n in self.nodes):
            self.announced = True
            if self.on_all_in is not None:
                self.on_all_in()
        return found

    def run(self, stop: threading.Event, report: Callable[[Look], None] | None = None) -> None:
        """Look every ``every`` seconds until ``stop`` is set; ``report`` gets each look whose line differs from
        the last one reported (something changed, was refused, or Kamailio went silent or came back)."""
        last = ""
        while not stop.is_set():
            found = self.look()
            if report is not None and (any(a for _u, _f, a in found.nodes.values()) or found.line() != last):
                report(found)
                last = found.line()
            stop.wait(self.every)

    def _put_right(self, node: GateNode, up: bool | None, flags: str, every_one_away: bool) -> str:
        if up is None:
            return ""
        self.misses[node.name] = 0 if up else self.misses.get(node.name, 0) + 1
        if up and flags.startswith("D"):
            if not self.set_state(node.sip, "ap"):
                log.error("node %s: Kamailio refused to let it in (is %s in its list?)", node.name, node.sip)
                return "refused by Kamailio"
            log.info("node %s takes calls", node.name)
            return "let in"
        if (not up and not every_one_away and self.misses[node.name] >= self.misses_allowed and flags
                and not flags.startswith("D")):
            if not self.set_state(node.sip, "d"):
                log.error("node %s: Kamailio refused to leave it out (is %s in its list?)", node.name, node.sip)
                return "refused by Kamailio"
            log.info("node %s left out: its call application is away", node.name)
            return "left out"
        return ""
