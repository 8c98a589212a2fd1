"""``--accuracy``: real Vietnamese speech left as voicemail through the real phone path, scored.

Each file of tests/fixtures/speech_vi, and the six joined with 1 s pauses, is converted to 8 kHz
and streamed by a SIPp caller as G.711 (PCMU) into the voicemail of the bench's own hotline on a
Saturday (``phone.PhoneStack``), as ``tests/integration/test_voicemail_tickets.py`` does; the real
worker transcribes each message into its ticket, and the transcript is scored against the text
(``tests.support.speech_vi.score``). Beside it, the same files transcribed directly at 16 kHz
in the bench's process (``transcribe_file``): what the phone line costs.
"""
from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hotline.adapters.speech.engines import open_engine, transcribe_file
from tests.support.calls import prompt_seconds, recording_starts, start
from tests.support.speech_vi import Sample, Score, joined_message, samples, score
from tests.support.stack import Stack, wait_for
from tooling.sipp.runner import CallerProcess
from tooling.sipp.scenario import AwaitHangup, Keys, Speak, Step, Wait

from .speech import RATE, VI_PAUSE

Log = Callable[[str], None]
FINAL = ("transcribed", "no_speech", "failed")
STAGGER_SECONDS = 1.0           # between two callers' INVITEs
TRANSCRIBED_TIMEOUT = 180.0     # after the last call ended


@dataclass(frozen=True)
class Item:
    """One message: a fixture file, or the six joined."""

    name: str
    speaker: str
    sentences: list[str]        # the reference, sentence by sentence
    phone_wav: Path             # 8 kHz mono 16-bit, what the caller streams
    direct_wav: Path            # 16 kHz mono 16-bit, transcribed directly


@dataclass
class Outcome:
    item: Item
    caller: str
    call_problem: str = ""                      # the SIPp call did not go as scripted
    status: str = ""                            # the voicemail's final status
    ticket: str = ""
    model: str = ""
    phone_text: str = ""
    phone: Score | None = None
    direct_text: str = ""
    direct: Score | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def make_items(workdir: Path) -> list[Item]:
    """The six fixture files (8 kHz copies made by sox) and the six joined with 1 s pauses."""
    workdir.mkdir(parents=True, exist_ok=True)
    items: list[Item] = []
    for s in samples():
        phone = workdir / f"{s.path.stem}.8k.wav"
        subprocess.run(["sox", str(s.path), "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed-integer",
                        str(phone)], check=True, capture_output=True)
        items.append(Item(s.path.name, s.speaker, [s.text], phone, s.path))
    every: list[Sample] = samples()
    items.append(Item(f"all six, {VI_PAUSE:g} s pauses", "all six", [s.text for s in every],
                      joined_message(workdir / "joined.8k.wav", every, VI_PAUSE, RATE),
                      joined_message(workdir / "joined.16k.wav", every, VI_PAUSE, 16000)))
    return items


def readback_seconds(stack: Stack) -> float:
    """The code read back twice and "message saved", after the caller's #."""
    digits = stack.ctx.settings.tickets.code_digits
    return prompt_seconds(stack, "ticket_code_is", "ticket_code_again", "message_saved") + 2 * digits * 1.2


def place_call(stack: Stack, item: Item, caller: str, workdir: Path) -> CallerProcess:
    """A caller who waits for the beep, says the message, waits 1 s, presses # and hears the code."""
    steps: list[Step] = [Wait(recording_starts(stack)), Speak(item.phone_wav), Wait(1), Keys("#"),
             AwaitHangup(readback_seconds(stack) + 15)]
    return start(stack, steps, caller=caller, workdir=workdir)


def call_all(stack: Stack, items: list[Item], first_caller: int, workdir: Path, log: Log) -> list[Outcome]:
    """Every message at once (1 s apart), then each call's result and its row in the call log."""
    outcomes = [Outcome(item, f"0945{first_caller + i:06d}") for i, item in enumerate(items)]
    processes: list[CallerProcess] = []
    try:
        for i, o in enumerate(outcomes):
            processes.append(place_call(stack, o.item, o.caller, workdir / f"call-{first_caller + i}"))
            time.sleep(STAGGER_SECONDS)
        log(f"  {len(processes)} callers placed; each waits {recording_starts(stack):.1f} s for the beep, "
            "speaks, presses # and hears the ticket code")
        for o, process in zip(outcomes, processes, strict=True):
            result = process.result()
            if not (result.ok and result.ended_by_remote):
                o.call_problem = f"{result.outcome}: {'; '.join(result.problems) or 'not ended by the hotline'}"
                log(f"  {o.item.name}: the call failed ({o.call_problem})")
    finally:
        for process in processes:
            process.terminate()
    return outcomes


def ticket_of(stack: Stack, caller: str) -> dict[str, Any] | None:
    """The ticket of the latest call from ``caller`` once its voicemail is final, else None."""
    rows = stack.call_rows(caller)
    if not rows:
        return None
    tickets = stack.ctx.tickets(stack.repo.sessions)
    found = next((t for t in tickets.list(limit=200) if t["call_id"] == rows[0]["call_id"]), None)
    if found is None or (found.get("voicemail") or {}).get("status") not in FINAL:
        return None
    return tickets.get(found["code"])   # read again: the poll may have seen the voicemail before the ticket


def wait_ticket(stack: Stack, caller: str) -> dict[str, Any]:
    """The ticket of the message from ``caller`` once its voicemail is final."""
    found: dict[str, Any] | None = None

    def final() -> bool:
        nonlocal found
        found = ticket_of(stack, caller)
        return found is not None
    wait_for(final, TRANSCRIBED_TIMEOUT, f"the voicemail from {caller} to be transcribed", interval=0.2)
    assert found is not None
    return found


def collect(stack: Stack, outcomes: list[Outcome], log: Log) -> None:
    """Wait for every placed message's final status; score its transcript."""
    for o in outcomes:
        if o.call_problem:
            continue
        ticket = wait_ticket(stack, o.caller)
        vm = ticket["voicemail"]
        o.status, o.ticket, o.model = vm["status"], ticket["code"], vm.get("model") or ""
        o.phone_text = vm.get("transcript") or ""
        o.phone = score(o.item.sentences, o.phone_text)
        o.extra = {"duration_s": vm.get("duration"), "content_is_transcript": ticket["content"] == o.phone_text}
        log(f"  {o.item.name}: ticket {o.ticket} {o.status}, WER {o.phone.wer:.1%}: {o.phone_text}")


def direct(outcomes: list[Outcome], settings: Any, log: Log) -> None:
    """The same files at 16 kHz through ``transcribe_file`` in this process (the engine loaded once)."""
    engine = open_engine(settings)
    for o in outcomes:
        o.direct_text = transcribe_file(engine, o.item.direct_wav).text
        o.direct = score(o.item.sentences, o.direct_text)
    log(f"  16 kHz direct ({engine.name}): " + ", ".join(f"{o.item.name.split('-')[0]} {o.direct.wer:.0%}"
                                                         for o in outcomes if o.direct is not None))


def measure(stack: Stack, engine: str, settings: Any, items: list[Item], first_caller: int, workdir: Path,
            log: Log) -> list[Outcome]:
    """One engine: the worker restarted with it, every message through the phone, then directly."""
    log(f"{engine}: starting the worker (HOTLINE_TRANSCRIPTION_ENGINE={engine})")
    stack.start_worker(engine=engine)
    outcomes = call_all(stack, items, first_caller, workdir, log)
    collect(stack, outcomes, log)
    direct(outcomes, settings, log)
    return outcomes
