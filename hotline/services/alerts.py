"""Alerts to the supervisors: ``hotline watch`` checks the hotline, e-mails once, and keeps the banner's state.

Every ``[alerts] check_seconds`` the watch runs the health checks (``hotline.services.health``); a part
down for more than ``[alerts] after_seconds``, the recordings' disk below ``[recordings] min_free_mb``,
or a message that could not be saved (:func:`note_lost_message`, written by the processes that take
messages) sends ONE e-mail to ``[notifications] supervisors``; the recovery sends one "resolved". The
state lives in a small file (``<state_dir>/alerts/state.json``, written atomically under a lock), not in
the database or Redis, so the watch keeps working while either is down and after its own restart; two
watches on the same state never send the same e-mail twice. The console's wallboard shows
:func:`banner` of that file.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from hotline.adapters.mail import Mail, Mailer
from hotline.domain.alerts import AlertBook, Notice, OpenAlert
from hotline.domain.labels import COMPONENT
from hotline.services.health import HealthProbe, Report

log = logging.getLogger("hotline.alerts")

IMMEDIATE = ("disk", "lost_messages")   # alerted at once, not after [alerts] after_seconds
LOST = "lost_messages"
LOST_WINDOW = 3600.0     # a lost message keeps its alert (and the banner) this long after the last one


def alerts_dir(state_dir: Path) -> Path:
    return Path(state_dir) / "alerts"


def note_lost_message(state_dir: Path, call_id: str, reason: str, at: float | None = None) -> None:
    """A message that could not be saved (the ARI app, the AGI fallback): one fsynced line the watch turns
    into an alert. Only the call's id and the reason: no number, no voice. ``at``: real time (default now)."""
    folder = alerts_dir(state_dir)
    folder.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"at": time.time() if at is None else at, "call_id": call_id, "reason": reason[:300]},
                      ensure_ascii=False)
    fd = os.open(folder / "lost_messages.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


class AlertStore:
    """``state.json`` under ``folder``: the open alerts and how far the lost messages' file was read."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "state.json"

    def read(self) -> dict[str, Any]:
        """The last state written (empty when none, or unreadable: the next tick writes it again)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    @contextlib.contextmanager
    def locked(self) -> Iterator[dict[str, Any]]:
        """The state, for one watch at a time; written back (atomically) when the block ends."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / "state.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            state = self.read()
            yield state
            tmp = self.path.with_suffix(".tmp")
            with tmp.open("w", encoding="utf-8") as f:
                json.dump(state, f, ensure_ascii=False, indent=1)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)

    def lost_messages(self, state: dict[str, Any]) -> tuple[int, float | None]:
        """Read the lost messages noted since the last tick: (count in this alert, the last one's time)."""
        lost = state.setdefault("lost", {"offset": 0, "count": 0, "last": None})
        path = self.folder / "lost_messages.jsonl"
        with contextlib.suppress(FileNotFoundError), path.open("rb") as f:
            f.seek(lost["offset"])
            for raw in f:
                if not raw.endswith(b"\n"):
                    break                      # a line still being written: next time
                lost["offset"] += len(raw)
                with contextlib.suppress(ValueError, KeyError):
                    lost["last"] = max(lost["last"] or 0.0, float(json.loads(raw)["at"]))
                    lost["count"] += 1
        return lost["count"], lost["last"]


@dataclass
class AlertWatch:
    """One hotline's watch. Args: probe: the health checks; mailer and recipients: the supervisors'
    e-mail; store: the state file; after_seconds: [alerts]; tz: the province's (times in the e-mails);
    system: the node's name (several nodes alert the same supervisors); clock: real time."""

    probe: Any
    mailer: Mailer
    recipients: tuple[str, ...]
    store: AlertStore
    after_seconds: float
    tz: tzinfo
    system: str
    clock: Callable[[], float] = time.time

    @classmethod
    def build(cls, ctx: Any) -> AlertWatch:
        s = ctx.settings
        return cls(HealthProbe(s, ctx.secrets, ctx.clock.now), Mailer(s.notifications),
                   tuple(s.notifications.supervisors), AlertStore(alerts_dir(s.paths.state_dir)),
                   s.alerts.after_seconds, s.tz, s.asterisk.system_name)

    def tick(self) -> list[Notice]:
        """Check everything once; send what is due; returns the notices sent."""
        report: Report = self.probe.run()
        with self.store.locked() as state:
            now = self.clock()
            problems = report.problems()
            count, last = self.store.lost_messages(state)
            if last is not None and now - last < LOST_WINDOW:
                problems[LOST] = f"{count} message(s) could not be saved, the last at {self._time(last)}"
            book = AlertBook.from_json(state.get("open", {}), self.after_seconds, IMMEDIATE)
            notices = book.observe(now, problems)
            sent = self._send(notices, now)
            book.sent(sent, now)
            if any(n.kind == "resolved" and n.key == LOST for n in sent):
                state["lost"].update(count=0, last=None)
            state["open"] = book.to_json()
            state["checked_at"] = now
            state["lost_count"] = count
        return sent

    def run(self, every: float, stop: threading.Event) -> None:
        """Tick every ``every`` seconds until ``stop`` is set; a failed tick is logged and the next one runs."""
        log.info("watching the hotline every %.0f s; alerts after %.0f s to %d supervisor(s)", every,
                 self.after_seconds, len(self.recipients))
        if not self.recipients:
            log.warning("[notifications] supervisors is empty: alerts only on the wallboard")
        while not stop.is_set():
            started = time.monotonic()
            try:
                self.tick()
            except Exception:
                log.exception("watch tick failed; next in %.0f s", every)
            stop.wait(max(0.0, every - (time.monotonic() - started)))
        log.info("watch stopped")

    def _send(self, notices: list[Notice], now: float) -> list[Notice]:
        """One e-mail for the new alerts, one for the resolved ones; what could not be sent stays due."""
        sent: list[Notice] = []
        for kind in ("alert", "resolved"):
            batch = [n for n in notices if n.kind == kind]
            if not batch:
                continue
            for n in batch:
                log.warning("%s %s (down since %s): %s", kind, n.key, self._time(n.since), n.problem)
            try:
                self.mailer.send(self._mail(kind, batch, now))
            except Exception as exc:    # SMTP down: tried again next tick
                log.warning("alert e-mail not sent (%s); trying again next time", exc)
                continue
            sent.extend(batch)
        return sent

    def _mail(self, kind: str, batch: list[Notice], now: float) -> Mail:
        names = ", ".join(COMPONENT[n.key] for n in batch)
        if kind == "alert":
            subject = f"[1022] CẢNH BÁO ({self.system}): {names}"
            lines = [f"- {COMPONENT[n.key]}: có sự cố từ {self._time(n.since)} ({_minutes(now - n.since)}).\n"
                     f"  Chi tiết kỹ thuật: {n.problem}" for n in batch]
            intro = "Tổng đài 1022 đang có sự cố cần xử lý:"
            outro = "Kiểm tra bằng lệnh `hotline status` trên máy chủ. Khi khắc phục xong, hệ thống sẽ gửi thư báo."
        else:
            subject = f"[1022] ĐÃ KHẮC PHỤC ({self.system}): {names}"
            lines = [f"- {COMPONENT[n.key]}: hoạt động trở lại lúc {self._time(now)}, sau "
                     f"{_minutes(now - n.since)} gián đoạn." for n in batch]
            intro = "Các sự cố sau của Tổng đài 1022 đã được khắc phục:"
            outro = ""
        body = "\n".join([intro, "", *lines, "", outro]).strip() + "\n"
        return Mail(self.recipients, subject, body)

    def _time(self, t: float) -> str:
        return datetime.fromtimestamp(t, self.tz).strftime("%H:%M:%S ngày %d/%m/%Y")


def _minutes(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} giây"
    return f"{seconds / 60:.0f} phút"


def banner(state: dict[str, Any], tz: tzinfo) -> list[dict[str, str]]:
    """The wallboard's banner: one Vietnamese line per alert the supervisors were told of."""
    book = AlertBook.from_json(state.get("open", {}), 0.0)
    return [{"key": a.key, "text": _banner_line(a, tz, int(state.get("lost_count") or 0))} for a in book.alerted()]


def _banner_line(a: OpenAlert, tz: tzinfo, lost: int) -> str:
    since = datetime.fromtimestamp(a.since, tz).strftime("%H:%M ngày %d/%m")
    if a.key == LOST:
        return f"{max(lost, 1)} lời nhắn của người dân không lưu được (từ {since}): kiểm tra ngay ổ đĩa và tổng đài."
    if a.key == "disk":
        return f"{COMPONENT['disk']} dưới mức tối thiểu từ {since}: tổng đài tạm không nhận lời nhắn."
    return f"{COMPONENT[a.key]} không hoạt động từ {since}."
