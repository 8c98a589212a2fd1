"""The supervisors' alerts as a pure state machine: what is down since when, and what to tell once.

``AlertBook.observe(now, problems)`` takes the parts that are down now (name -> problem) and returns
the notices due: ``alert`` once a part has been down for ``after_seconds`` (at once for the parts in
``immediate``: low disk, a lost message), ``resolved`` once an alerted part is back. A part back
before its alert was due is forgotten without a word. Notices stay due until :meth:`AlertBook.sent`
confirms them, so an e-mail that could not be sent is tried again and one that was sent is never sent
twice. No I/O: the state is plain data (``to_json``), kept by ``hotline.services.alerts``.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal


@dataclass
class OpenAlert:
    """A part down since ``since`` (Unix seconds); ``alerted_at``: when its alert went out (None: not yet)."""

    key: str
    since: float
    problem: str
    alerted_at: float | None = None


@dataclass(frozen=True)
class Notice:
    kind: Literal["alert", "resolved"]
    key: str
    since: float
    problem: str


class AlertBook:
    """The open alerts of one hotline; ``after_seconds`` of down time before a part is alerted."""

    def __init__(self, after_seconds: float, immediate: Iterable[str] = (),
                 open_alerts: Mapping[str, OpenAlert] | None = None) -> None:
        self.after_seconds = after_seconds
        self.immediate = frozenset(immediate)
        self.open: dict[str, OpenAlert] = dict(open_alerts or {})

    def observe(self, now: float, problems: Mapping[str, str]) -> list[Notice]:
        """The parts down at ``now``; returns the notices due (not yet confirmed by :meth:`sent`)."""
        for key, problem in problems.items():
            found = self.open.get(key)
            if found is None:
                self.open[key] = OpenAlert(key, now, problem)
            else:
                found.problem = problem
        for key in [k for k, a in self.open.items() if k not in problems and a.alerted_at is None]:
            del self.open[key]       # back before anyone was told: nothing to say
        return self.due(now, problems)

    def due(self, now: float, problems: Mapping[str, str]) -> list[Notice]:
        notices = []
        for key, a in sorted(self.open.items()):
            if key in problems and a.alerted_at is None and now - a.since >= self._delay(key):
                notices.append(Notice("alert", key, a.since, a.problem))
            elif key not in problems and a.alerted_at is not None:
                notices.append(Notice("resolved", key, a.since, a.problem))
        return notices

    def sent(self, notices: Iterable[Notice], now: float) -> None:
        """The notices went out: an alerted part is not alerted again, a resolved one is closed."""
        for n in notices:
            found = self.open.get(n.key)
            if found is None:
                continue
            if n.kind == "alert":
                found.alerted_at = now
            else:
                del self.open[n.key]

    def alerted(self) -> list[OpenAlert]:
        """The alerts the supervisors have been told of and that are not resolved (the wallboard's banner)."""
        return [a for _k, a in sorted(self.open.items()) if a.alerted_at is not None]

    def _delay(self, key: str) -> float:
        return 0.0 if key in self.immediate else self.after_seconds

    def to_json(self) -> dict[str, Any]:
        return {key: asdict(a) for key, a in self.open.items()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], after_seconds: float, immediate: Iterable[str] = ()) -> AlertBook:
        found = {key: OpenAlert(**value) for key, value in data.items()}
        return cls(after_seconds, immediate, found)
