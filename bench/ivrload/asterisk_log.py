"""What Asterisk's own log (messages.log) says about one run.

Asterisk 22 looks its own address up in DNS for each new call whose RTP is bound
to the wildcard address (``ast_find_ourip``: the host name, then
A.ROOT-SERVERS.NET), on the SIP thread that handles the INVITE. A look-up that
waits for the resolver's time-out holds every INVITE queued behind it, so the
bench counts them and times the slow ones.
"""
from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

LINE = re.compile(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\] (\w+)\[(\d+)\](?:\[[^]]*\])? ([^:]+): (.*)")
ROOT_LOOKUP = 'getaddrinfo("A.ROOT-SERVERS.NET"'
SLOW_S = 1.0
CHANNEL_ID = re.compile(r"\b[\w-]+-\d{9,}\.\d+\b")
BENCH_DIR = re.compile(r"/var/tmp/hotline-bench-\w+")


class LogWindow:
    """The part of a log file written between :meth:`open` and :meth:`read`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0

    def read(self) -> str:
        if not self.path.exists():
            return ""
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            return handle.read().decode("utf-8", errors="replace")


def analyse(text: str, top: int = 3) -> dict[str, Any]:
    """Root-server look-ups, the slow ones (seconds), and the other warnings and errors, grouped."""
    last_by_thread: dict[str, datetime] = {}
    lookups, slow = 0, []
    others: Counter[str] = Counter()
    for raw in text.splitlines():
        m = LINE.match(raw)
        if not m:
            continue
        at, level, thread, source, message = (datetime.fromisoformat(m[1]), m[2], m[3], m[4], m[5])
        if ROOT_LOOKUP in message:
            lookups += 1
            before = last_by_thread.get(thread)
            if before is not None and (at - before).total_seconds() >= SLOW_S:
                slow.append(round((at - before).total_seconds(), 3))
        elif level in ("WARNING", "ERROR") and "lookup" not in message and "getaddrinfo" not in message:
            others[f"{level} {source}: {_general(message)[:120]}"] += 1
        last_by_thread[thread] = at
    return {"root_lookups": lookups, "slow_lookups_s": slow,
            "other_warnings": [f"{n}x {text}" for text, n in others.most_common(top)]}


def _general(message: str) -> str:
    """The message without what differs from call to call, so that like lines group."""
    return BENCH_DIR.sub("<bench>", CHANNEL_ID.sub("<channel>", message))
