"""The wallboard's picture of the whole floor from each node's monitor snapshot (pure: no Redis, no clock).

Each node's monitor keeps its own snapshot (``monitor.state.LivePicture.snapshot``: callers waiting,
operators by state) and the real time it last wrote it. ``floor`` adds up the nodes heard from within
``stale_after`` seconds, in the snapshot's own shape (``waiting``, ``longest_wait``, ``operators``,
``by_state``, ``at``, ``callbacks_waiting``: how many of the waiting are call-backs keeping a caller's place; each
caller and operator with its ``node``), and lists every node apart in ``nodes``;
a node silent longer is listed as ``stale`` and left out of the sum (its callers went with it).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class NodePicture:
    """One node's last snapshot (None: none stored) and the real time (Unix seconds) it was written."""

    node: str
    snapshot: dict[str, Any] | None
    written: float | None


def floor(pictures: list[NodePicture], now: float, stale_after: float) -> dict[str, Any]:
    """The sum of the nodes heard from within ``stale_after`` seconds of ``now``, and each node."""
    waiting: list[dict[str, Any]] = []
    operators: list[dict[str, Any]] = []
    nodes: list[dict[str, Any]] = []
    ats: list[str] = []
    for p in sorted(pictures, key=lambda p: p.node):
        snap = p.snapshot or {}
        stale = p.written is None or now - p.written > stale_after
        node_waiting = [{**w, "node": p.node} for w in snap.get("waiting", [])]
        node_operators = [{**o, "node": p.node} for o in snap.get("operators", [])]
        nodes.append({"node": p.node, "stale": stale, "at": snap.get("at"),
                      "age": None if p.written is None else round(now - p.written, 1),
                      "waiting": len(node_waiting), "callbacks_waiting": _callbacks(node_waiting),
                      "longest_wait": snap.get("longest_wait", 0),
                      "operators": len(node_operators), "by_state": _count(node_operators)})
        if not stale:
            waiting += node_waiting
            operators += node_operators
            ats += [snap["at"]] if snap.get("at") else []
    by_state: dict[str, list[str]] = {}
    for o in operators:
        by_state.setdefault(o.get("state", ""), []).append(o.get("operator", ""))
    return {"at": max(ats, key=datetime.fromisoformat) if ats else None,
            "waiting": waiting,       # each node's in its queue order, the nodes by name
            "callbacks_waiting": _callbacks(waiting),
            "longest_wait": max((w.get("wait", 0) for w in waiting), default=0),
            "operators": sorted(operators, key=lambda o: (o.get("operator", ""), o["node"])),
            "by_state": by_state, "nodes": nodes}


def _callbacks(waiting: list[dict[str, Any]]) -> int:
    return sum(1 for w in waiting if w.get("callback"))


def _count(operators: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for o in operators:
        counts[o.get("state", "")] = counts.get(o.get("state", ""), 0) + 1
    return counts
