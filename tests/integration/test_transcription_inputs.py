"""Messages that are not a clear Vietnamese sentence: each gets a defined transcript or "no speech",
never a crash or a stuck job; an engine that cannot load leaves the message waiting, saying why.

The real RQ worker with the default engine (viet-asr), the stack's Redis and database; the messages
are files under the recordings root with their rows, as the ARI app leaves them.
"""
from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import pytest

from hotline.adapters.db.models import Voicemail
from hotline.services.tickets import NO_SPEECH_CONTENT, WAITING_CONTENT
from tests.support.speech_vi import joined_message, samples, score
from tests.support.stack import Stack, wait_for

from .test_voicemail_tickets import _jobs, _message_row, _vm_error, _worker_argv, korean_speech, silence, ticket_of

pytestmark = pytest.mark.asterisk


def sox(*args: str) -> None:
    subprocess.run(["sox", *args], check=True, capture_output=True)


def noise(dest: Path) -> Path:
    sox("-n", "-r", "8000", "-c", "1", "-b", "16", str(dest), "synth", "10", "whitenoise", "vol", "0.3")
    return dest


def hold_music(stack: Stack, dest: Path) -> Path:
    """20 s of Asterisk's own hold music (the opsound files of its root), as a phone line carries it."""
    moh = sorted((Path(stack.ctx.settings.asterisk.root) / "usr/share/asterisk/moh").glob("*.wav"))[0]
    sox(str(moh), "-r", "8000", "-c", "1", "-b", "16", str(dest), "trim", "0", "20")
    return dest


def one_second(dest: Path) -> Path:
    sox(str(samples()[1].path), "-r", "8000", "-c", "1", "-b", "16", str(dest), "trim", "0.3", "1")
    return dest


def clipped(dest: Path) -> Path:
    """Shouted into the phone: +10 dB, every peak flattened at full scale (peaks 2.4 times over it; at +20 dB
    about half the words are lost: README, known limits)."""
    sox("-G", str(joined_message(dest.with_suffix(".in.wav"), samples()[:3])), str(dest), "gain", "10")
    return dest


def with_dtmf(dest: Path) -> Path:
    """A caller who presses a key (DTMF 5: 770 + 1336 Hz, 0.3 s) between two sentences."""
    tone = dest.with_suffix(".tone.wav")
    sox("-n", "-r", "8000", "-c", "1", "-b", "16", str(tone), "synth", "0.3", "sine", "770", "sine", "1336",
        "remix", "-", "vol", "0.5")
    first, second = joined_message(dest.with_suffix(".a.wav"), samples()[:1]), \
        joined_message(dest.with_suffix(".b.wav"), samples()[1:2])
    sox(str(first), str(tone), str(second), str(dest))
    return dest


def three_minutes(dest: Path) -> Path:
    """The six sentences again and again for 3 minutes: a long message, none of it may be dropped."""
    once = joined_message(dest.with_suffix(".once.wav"), pause=1.5)
    sox(str(once), str(dest), "repeat", "6", "trim", "0", "180")
    return dest


Maker = Callable[[Path], Path]
SPEECH: dict[str, tuple[Maker, list[int]]] = {     # name: (message, the sentences it holds)
    "clipped": (clipped, [0, 1, 2]),
    "dtmf_inside": (with_dtmf, [0, 1]),
}
NOT_SPEECH: dict[str, Maker] = {
    "silence": lambda d: silence(d, 10),
    "white_noise": noise,
}


def _transcribe(stack: Stack, call_id: str, wav: Path, timeout: float = 120) -> dict:
    voicemail_id = _message_row(stack, call_id, wav)
    assert _jobs(stack).transcription(voicemail_id)

    def finished() -> dict | None:
        t = ticket_of(stack, call_id)
        return t if t and t["voicemail"]["status"] not in ("pending", "transcribing") else None
    found = wait_for(finished, timeout, f"the worker to finish {call_id}")
    # Read the ticket again: SQLite gives each SELECT the newest commit, so the poll may have read the
    # ticket just before the worker's commit and its voicemail just after.
    ticket = stack.ctx.tickets(stack.repo.sessions).get(found["code"])
    assert ticket is not None
    return ticket


@pytest.mark.parametrize("name", sorted(SPEECH))
def test_speech_through_bad_conditions_is_still_transcribed(stack: Stack, workdir: Path, name: str) -> None:
    stack.start_worker()
    make, held = SPEECH[name]
    ticket = _transcribe(stack, f"input-{name}", make(workdir / f"{name}.wav"))
    vm = ticket["voicemail"]
    assert vm["status"] == "transcribed" and ticket["content"] == vm["transcript"]
    got = score([samples()[i].text for i in held], vm["transcript"])
    assert not got.missing and got.wer <= 0.3, (got, vm["transcript"])


@pytest.mark.parametrize("name", sorted(NOT_SPEECH))
def test_no_speech_in_a_message_gives_a_no_speech_ticket(stack: Stack, workdir: Path, name: str) -> None:
    stack.start_worker()
    ticket = _transcribe(stack, f"input-{name}", NOT_SPEECH[name](workdir / f"{name}.wav"))
    assert ticket["voicemail"]["status"] == "no_speech" and ticket["content"] == NO_SPEECH_CONTENT
    assert ticket["voicemail"]["words"] == []


@pytest.mark.parametrize("name", ["hold_music", "korean", "one_second"])
def test_unclear_messages_get_a_defined_outcome(stack: Stack, workdir: Path, name: str) -> None:
    """Hold music, another language, a 1 s message: whatever the engine hears, the job ends, the ticket
    says it (the words it heard, or "no speech"), and the audio stays on the ticket for an operator."""
    stack.start_worker()
    make = {"hold_music": lambda d: hold_music(stack, d), "korean": korean_speech, "one_second": one_second}[name]
    ticket = _transcribe(stack, f"input-{name}", make(workdir / f"{name}.wav"))
    vm = ticket["voicemail"]
    assert vm["status"] in ("transcribed", "no_speech"), vm
    expected = vm["transcript"] if vm["status"] == "transcribed" else NO_SPEECH_CONTENT
    assert ticket["content"] == expected and (stack.recordings / vm["path"]).is_file()
    assert all(0 <= w["start"] < w["end"] <= vm["duration"] + 0.5 for w in vm["words"])


def test_a_three_minute_message_comes_back_whole(stack: Stack, workdir: Path) -> None:
    stack.start_worker()
    ticket = _transcribe(stack, "input-3min", three_minutes(workdir / "long.wav"), timeout=240)
    vm = ticket["voicemail"]
    assert vm["status"] == "transcribed" and 179 <= vm["duration"] <= 181
    # Nothing dropped: words all the way through, every six-sentence round recognized.
    ends = [w["end"] for w in vm["words"]]
    assert ends[-1] > 170 and max(b["start"] - a["end"] for a, b in pairwise(vm["words"])) < 5
    rounds = [s.text for s in samples()] * 5       # five whole rounds in 180 s (about 33 s each)
    got = score(rounds, vm["transcript"])
    assert got.wer <= 0.3 and not got.missing, got


def test_engine_failing_to_load_leaves_the_message_waiting_and_says_why(stack: Stack, workdir: Path) -> None:
    stack.kill("worker")
    broken = {**stack.app_env, "HOTLINE_TRANSCRIPTION_ENGINE": "viet-asr",
              "VIETASR_LIBRARY_PATH": str(workdir / "missing" / "libvietasr.so")}
    stack.start_proc("worker", broken, argv=_worker_argv(stack))
    stack.wait_worker_ready()
    try:
        voicemail_id = _message_row(stack, "engine-broken-1", samples()[0].path)
        assert _jobs(stack).transcription(voicemail_id)
        why = wait_for(lambda: _vm_error(stack, "engine-broken-1"), 60, "the job to say why it waits")
        assert "viet-asr failed to load" in why and "libvietasr.so" in why
        # The sweep does not queue it again while the engine cannot load: no attempt is spent on it
        # (after max_attempts spent, a message would be marked failed for good).
        sweeps = _sweeps(stack)
        wait_for(lambda: _sweeps(stack) >= sweeps + 2, stack.ctx.settings.transcription.sweep_seconds * 3 + 10,
                 "two more sweeps of the worker")
        with stack.repo.sessions() as s:
            vm = s.get(Voicemail, voicemail_id)
            assert vm is not None and vm.attempts == 1 and vm.status == "pending", (vm.attempts, vm.status)
        ticket = ticket_of(stack, "engine-broken-1")
        assert ticket["voicemail"]["status"] == "pending" and ticket["content"] == WAITING_CONTENT
        check = subprocess.run([*_hotline(), "check"], env=broken, capture_output=True, text=True, timeout=120)
        assert check.returncode == 1 and "viet-asr failed to load" in check.stdout, check.stdout + check.stderr
        status = subprocess.run([*_hotline(), "status", "--json"], env=broken, capture_output=True, text=True,
                                timeout=60)
        report = json.loads(status.stdout)["transcription"]
        assert status.returncode == 1 and report["waiting"] >= 1 and report["workers"] >= 1, status.stdout
        assert any("viet-asr failed to load" in p for p in report["problems"]), report
    finally:
        stack.kill("worker", signal.SIGTERM)
    stack.start_worker()        # the engine back: the sweep takes the message again
    done = wait_for(lambda: (ticket_of(stack, "engine-broken-1") or {}).get("voicemail", {}).get("status")
                    == "transcribed", stack.ctx.settings.transcription.sweep_seconds * 3 + 60,
                    "the message to be transcribed once the engine loads")
    assert done
    status = subprocess.run([*_hotline(), "status", "--json"], env=stack.app_env, capture_output=True, text=True,
                            timeout=60)
    report = json.loads(status.stdout)
    assert status.returncode == 0 and report["ok"] and report["transcription"]["waiting"] == 0, status.stdout


def _sweeps(stack: Stack) -> int:
    """How many maintenance passes (each with the hotline's sweep) the worker's log shows."""
    return (stack.logs / "worker.log").read_text(errors="replace").count("cleaning registries for queue")


def _hotline() -> list[str]:
    import sys
    return [sys.executable, "-c", "from hotline.cli.main import main; main()"]
