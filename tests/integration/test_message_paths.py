"""Every path a message takes is transcribed by the same engine: key 1 while waiting in the queue,
the dialplan's fallback while the application is down, and a message transcribed again.

Real SIPp callers reading real Vietnamese sentences (tests/fixtures/speech_vi), the real ARI app,
AGI server, app_queue with a SIPp operator phone that keeps ringing, and the real RQ worker.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.calls import call, menu_starts, prompt_seconds
from tests.support.cli import hotline
from tests.support.speech_vi import joined_message, samples, score
from tests.support.stack import Stack, wait_for
from tooling.sipp.scenario import AwaitHangup, Keys, Speak, Wait

from .test_voicemail_tickets import readback_seconds, ticket_of, transcribed

pytestmark = pytest.mark.asterisk

SENTENCES = samples()[2:4]


def _heard(vm: dict) -> None:
    assert vm["status"] == "transcribed" and vm["model"].startswith("viet-asr "), vm
    got = score([s.text for s in SENTENCES], vm["transcript"])
    assert got.wer <= 0.3 and not got.missing, (got, vm["transcript"])


def test_key_1_while_waiting_leaves_a_message_transcribed_by_the_default_engine(
        open_hours: Stack, ringing_operator: str, workdir: Path) -> None:
    stack = open_hours
    stack.start_worker()
    in_queue = menu_starts(stack) + prompt_seconds(stack, "to_operator") + 4.0
    beep = prompt_seconds(stack, "leave_message") + 2.0
    result = call(stack, [Wait(menu_starts(stack)), Keys("0"), Wait(in_queue - menu_starts(stack)), Keys("1"),
                          Wait(beep), Speak(joined_message(workdir / "vi.wav", SENTENCES)), Keys("#"),
                          AwaitHangup(readback_seconds(stack) + 15)], caller="0950000501", workdir=workdir)
    assert result.ok and result.ended_by_remote, result.problems
    row = stack.ended_call("0950000501")
    assert row["queue_outcome"] == "message" and row["disposition"] == "voicemail"
    _heard(transcribed(stack, row["call_id"])["voicemail"])


def test_fallback_message_while_the_app_is_down_is_transcribed_then_transcribed_again(
        open_hours: Stack, workdir: Path) -> None:
    """The dialplan's own recording (app down) → a ticket by the sweep → transcribed; transcribed again
    after the province changes engine (Vosk → viet-asr): the new text replaces the machine's old one."""
    stack = open_hours
    stack.start_worker(engine="vosk")      # the engine a province used before (here Korean: wrong words)
    stack.kill("ari_app")
    try:
        result = call(stack, [Wait(prompt_seconds(stack, "fallback_message") + 1.5),
                              Speak(joined_message(workdir / "vi.wav", SENTENCES)), Keys("#"), AwaitHangup(30)],
                      caller="0950000502", workdir=workdir)
        assert result.ok and result.ended_by_remote, result.problems
    finally:
        stack.start_proc("ari_app")
    row = stack.ended_call("0950000502")
    assert row["disposition"] == "app_fallback"
    before = transcribed(stack, row["call_id"], timeout=stack.ctx.settings.transcription.sweep_seconds * 3 + 90)
    assert before["voicemail"]["model"] == "model" and before["content"] == before["voicemail"]["transcript"]

    stack.start_worker()                   # viet-asr, the default
    out = json.loads(hotline(stack, "tickets", "transcribe", before["code"], "--by", "admin-hoa", "--json"))
    assert out == [{"code": before["code"], "queued": True}]

    def again() -> dict | None:
        t = stack.ctx.tickets(stack.repo.sessions).get(before["code"])
        return t if t and [e["action"] for e in t["events"]].count("transcribed") == 2 else None
    after = wait_for(again, 90, "the message transcribed again")
    _heard(after["voicemail"])
    assert after["content"] == after["voicemail"]["transcript"] != before["content"]
    events = [(e["actor"], e["action"]) for e in after["events"]]
    assert ("admin-hoa", "transcribe_again") in events
    assert ticket_of(stack, row["call_id"])["code"] == before["code"]      # still one ticket
