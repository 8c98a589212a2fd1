"""The hotline's AMI accounts: one per process, each with only the classes its actions and events need.

Asterisk checks an action against the account's ``write`` classes (any one of the action's classes will
do) and sends an event only if its class is in ``read``. The classes each action needs are Asterisk 22's
(manager.c, app_queue.c): QueueAdd/QueueRemove/QueuePause ``agent``; PlayDTMF, Setvar, BlindTransfer,
Atxfer, CancelAtxfer ``call``; CoreShowChannels, CoreSettings, CoreStatus, Getvar ``reporting``; Originate
``originate``; Command ``command``; QueueStatus and Ping none. No account has ``system`` or ``config``
(restart, reload, read or write any configuration file). Only the command line's has ``command``, which runs any
CLI command (``core stop now`` included): it reloads PJSIP after an operator is added. The health checks of the
console and ``hotline watch`` need none: Asterisk's uptime comes from CoreStatus and Getvar, and whether the ARI
app holds its WebSocket from the app itself (hotline/heartbeat.py's LinkBeat).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AmiAccount:
    """One process's account: its name (the AMI user is ``<[asterisk] ami_user>-<name>``) and classes."""

    name: str
    read: str
    write: str
    why: str


ACCOUNTS = (
    AmiAccount("monitor", "agent", "call,agent",
               "the monitor: app_queue's events; QueueStatus after each login; PlayDTMF wakes a waiting caller; "
               "QueuePenalty keeps a cluster's one idle order (monitor/pool.py)"),
    AmiAccount("console", "", "agent,call,reporting,originate",
               "the console: operators' states (Queue*), transfers (channel list, Setvar, BlindTransfer, Atxfer), "
               "a supervisor's ChanSpy call (Originate), /healthz (CoreSettings, CoreStatus, CoreShowChannels, "
               "Getvar; no CLI command)"),
    AmiAccount("worker", "", "reporting,originate",
               "the worker's sweep: a call-back's placeholder still in the queue? (CoreShowChannels); put one back "
               "for a retry or when it was lost (Originate)"),
    AmiAccount("watch", "", "reporting",
               "hotline watch: the health checks (CoreSettings, CoreStatus, CoreShowChannels, Getvar; no CLI "
               "command)"),
    AmiAccount("cli", "", "agent,call,reporting,command",
               "the hotline command: operators (Queue*; `module reload res_pjsip.so` after an operator "
               "is added, the one CLI command the hotline runs), transfer, status"),
)
NAMES = tuple(a.name for a in ACCOUNTS)
#: The account a process uses unless its composition root chooses another: the command line's.
DEFAULT = "cli"


def ami_user(prefix: str, account: str) -> str:
    """The AMI user name of ``account`` (``hotline-monitor``)."""
    if account not in NAMES:
        raise ValueError(f"no AMI account {account!r}; the hotline's are {', '.join(NAMES)}")
    return f"{prefix}-{account}"
