"""Every assumption of the national sizing, with where it comes from: each field is a command-line
option of bench/national_sim (``--aht-seconds 300``) and a line of ``--assumptions``."""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field, fields, replace
from typing import Any

#: The share of a staffed day's calls that arrive in each hour from 07:00 to 22:00 (16 hours, 07:00–23:00):
#: the offices' hours (07:00–11:30, 13:30–17:00, province.toml's [agency_hours]) take most, a dip at
#: lunch, little in the evening. An assumption: the seeds publish no hourly figures.
HOURLY_SHARE = {7: 0.04, 8: 0.09, 9: 0.11, 10: 0.11, 11: 0.08, 12: 0.04, 13: 0.06, 14: 0.10, 15: 0.10,
                16: 0.09, 17: 0.06, 18: 0.04, 19: 0.03, 20: 0.02, 21: 0.02, 22: 0.01}


_MEASURED = "PostgreSQL 15 measured {} (--measure-rows 2000 --measure-db postgresql), rounded up"


#: assumptions that are shares of something, from 0 to 1
SHARES = ("staffed_share", "closed_message_share", "queue_share", "desk_share", "blocking", "service_level")


def _f(default: Any, help_text: str, source: str) -> Any:
    return field(default=default, metadata={"help": help_text, "source": source})


@dataclass(frozen=True)
class Assumptions:
    """The model's inputs; None for calls_per_1000_per_year means the high seed (Đồng Nai)."""

    calls_per_1000_per_year: float | None = _f(
        None, "calls a year per 1,000 residents (default: the high seed, Đồng Nai)",
        "seeds in provinces.yaml: Đồng Nai 4.50 (high), Gia Lai 1.25 (low)")
    year: int = _f(2026, "the year whose working days are counted", "the project's holiday calendar")
    staffed_share: float = _f(0.85, "share of calls on working days 07:00-23:00", "assumption")
    peak_day_factor: float = _f(1.5, "busiest ordinary working day / mean working day",
                                "assumption (Mondays, days after Tết, seasons; no disasters)")
    closed_message_share: float = _f(0.6, "share of out-of-hours callers who leave a message", "assumption")
    closed_seconds: float = _f(20.0, "seconds an out-of-hours call spends before its message (prompts)",
                               "assumption")
    message_seconds: float = _f(60.0, "mean length of a message, seconds",
                                "assumption ([voicemail] max_seconds = 180)")
    ivr_seconds: float = _f(45.0, "seconds in the IVR before the queue or a desk",
                            "assumption (welcome + recording notice = 11.4 s, bench/README.md)")
    queue_share: float = _f(0.7, "share of staffed calls that go to the operators' queue",
                            "assumption (bench/console_load's mix)")
    aht_seconds: float = _f(300.0, "operators' average handle time: talk + wrap-up, seconds", "assumption")
    wrapup_seconds: float = _f(15.0, "wrap-up part of the handle time (no trunk held), seconds",
                               "province.toml [queue] wrapup_seconds default")
    desk_share: float = _f(0.15, "share of staffed calls put through to a one-stop desk", "assumption")
    desk_seconds: float = _f(180.0, "seconds a call talks with a desk", "assumption")
    blocking: float = _f(0.01, "trunk channels' share of calls lost (Erlang B grade)", "the issue: 1 %")
    service_level: float = _f(0.8, "share of queued calls answered within answer_within", "the issue: 80/20")
    answer_within: float = _f(20.0, "seconds of the service-level target", "the issue: 80/20; README's figures")
    node_capacity: int = _f(100, "concurrent recorded calls one Asterisk node (2 cores) carries",
                            "README Performance: 100 concurrent recorded calls passed on 2 cores")
    recording_kbps: float = _f(128.0, "recordings' bit rate, kbit/s",
                               "MixMonitor's .wav: 8 kHz 16-bit mono = 128 kbit/s")
    transcribe_rtf: float = _f(0.24, "transcription's CPU seconds per second of message",
                               "README Performance: viet-asr RTF 0.240 on 2 cores")
    other_channels_share: float = _f(0.25, "tickets from web, e-mail, Zalo... per phone ticket", "assumption")
    events_per_ticket: float = _f(5.0, "ticket_events rows per ticket", "assumption (created, assigned, "
                                  "notified, answered, closed)")
    access_per_ticket: float = _f(4.0, "access_log rows per ticket (reads of personal data, replays)",
                                  "assumption")
    operator_events_per_call: float = _f(3.0, "operator_events rows per answered call", "on_call, wrap_up, "
                                         "available")
    bytes_call: int = _f(600, "PostgreSQL bytes per calls row, indexes included", _MEASURED.format(500))
    bytes_recording: int = _f(300, "bytes per recordings row", _MEASURED.format(270))
    bytes_voicemail: int = _f(5000, "bytes per voicemails row (transcript, word timings)",
                              "measured 2,482 (TOAST-compressed, repetitive sample words); real words compress "
                              "less: assumption")
    bytes_transfer: int = _f(350, "bytes per transfers row", _MEASURED.format(311))
    bytes_ticket: int = _f(2500, "bytes per tickets row (400-char note, 300-char answer, tsvector, indexes)",
                           _MEASURED.format("2,413"))
    bytes_event: int = _f(300, "bytes per ticket_events row", _MEASURED.format(246))
    bytes_access: int = _f(350, "bytes per access_log row", _MEASURED.format(324))
    bytes_operator_event: int = _f(200, "bytes per operator_events row", _MEASURED.format(164))


def add_options(parser: argparse.ArgumentParser) -> None:
    """One ``--option`` per assumption, its default shown in --help."""
    group = parser.add_argument_group("assumptions (see --assumptions for their sources)")
    for spec in fields(Assumptions):
        kind = int if spec.type in ("int", int) else float
        group.add_argument(f"--{spec.name.replace('_', '-')}", type=kind, default=None, metavar="N",
                           help=f"{spec.metadata['help']} (default {spec.default})")


def from_options(options: argparse.Namespace) -> Assumptions:
    """The defaults, with every option given on the command line in their place; checked."""
    given = {spec.name: getattr(options, spec.name) for spec in fields(Assumptions)
             if getattr(options, spec.name, None) is not None}
    return check(replace(Assumptions(), **given))


def check(assumptions: Assumptions) -> Assumptions:
    """``assumptions`` if they make sense; else ValueError naming the option and what it takes."""
    for spec in fields(Assumptions):
        value = getattr(assumptions, spec.name)
        option = f"--{spec.name.replace('_', '-')}"
        if spec.name in SHARES and not 0 <= value <= 1:
            raise ValueError(f"{option} is a share: a number from 0 to 1 (got {value})")
        if value is not None and value < 0:
            raise ValueError(f"{option} cannot be negative (got {value})")
    if assumptions.aht_seconds <= assumptions.wrapup_seconds:
        raise ValueError("--aht-seconds includes the wrap-up: it must be more than --wrapup-seconds")
    if assumptions.node_capacity < 1:
        raise ValueError("--node-capacity must be at least 1 call")
    return assumptions


def describe(assumptions: Assumptions) -> list[tuple[str, str, str]]:
    """(name, value, source) for each assumption, in the order of the class."""
    return [(spec.name, str(getattr(assumptions, spec.name)), spec.metadata["source"])
            for spec in fields(Assumptions)]
