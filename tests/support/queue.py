"""Queue tests' helpers: queue timings, and what an operator phone's SIPp trace shows."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .calls import menu_starts, prompt_seconds
from .stack import Stack


def joins_queue(stack: Stack) -> float:
    """Seconds after answer when a caller who presses 0 as the menu starts joins app_queue (about)."""
    return menu_starts(stack) + 0.3 + prompt_seconds(stack, "to_operator")


@dataclass(frozen=True)
class SipMessage:
    """One SIP message in a SIPp ``-trace_msg`` file."""

    at: datetime
    sent: bool
    start_line: str
    method: str        # CSeq's method
    caller: str        # the From user (the citizen's number on an operator's INVITE)

    @property
    def request(self) -> str:
        return self.start_line.split()[0]


_HEADER = re.compile(r"^-{20,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)$", re.M)


def sip_messages(path: Path) -> list[SipMessage]:
    """The messages SIPp sent and received, in order, with SIPp's wall-clock timestamps."""
    text = path.read_text(encoding="latin-1") if path.exists() else ""
    parts = _HEADER.split(text)[1:]
    found = []
    for stamp, body in zip(parts[::2], parts[1::2], strict=True):
        lines = [line.strip() for line in body.strip().splitlines()]
        if len(lines) < 3:
            continue
        cseq = next((line.split()[-1] for line in lines if line.lower().startswith("cseq:")), "")
        sender = next((line for line in lines if line.lower().startswith("from:")), "")
        user = re.search(r"sip:([^@>;]+)@", sender)
        found.append(SipMessage(datetime.fromisoformat(stamp), "sent" in lines[0], lines[2 if not lines[1] else 1],
                                cseq, user.group(1) if user else ""))
    return found


def invites(path: Path) -> list[SipMessage]:
    """INVITEs an operator phone received, in order."""
    return [m for m in sip_messages(path) if not m.sent and m.request == "INVITE"]


def answers(path: Path) -> list[SipMessage]:
    """The 200 OKs an operator phone sent to INVITEs (it picked up), in order."""
    return [m for m in sip_messages(path) if m.sent and m.start_line.startswith("SIP/2.0 200") and m.method == "INVITE"]


def byes_sent(path: Path) -> list[SipMessage]:
    """BYEs an operator phone sent (the operator hung up), in order."""
    return [m for m in sip_messages(path) if m.sent and m.request == "BYE"]
