"""Callers and desks for integration tests: timings taken from the real rendered prompts."""
from __future__ import annotations

import subprocess
from pathlib import Path

from hotline.adapters.prompts import prompt_duration
from tooling.sipp.runner import CallerProcess, CallResult, start_caller
from tooling.sipp.scenario import AwaitHangup, CallerScript, Keys, Speak, Step, Wait

from .stack import Stack


def prompt_seconds(stack: Stack, *names: str) -> float:
    prompts = stack.ctx.settings.paths.state_dir / "prompts"
    return sum(prompt_duration(prompts / f"{name}.wav") for name in names)


def menu_starts(stack: Stack) -> float:
    """Seconds after answer when the main menu starts (and keys are listened to)."""
    return prompt_seconds(stack, "welcome", "recording_notice") + 1.0


ANSWER_MEDIA_WAIT = 0.5   # Answer() waits this long for the caller's media, which a silent SIPp caller never sends


def beep_starts(stack: Stack) -> float:
    """Seconds after answer when a closed-hours caller starts to hear the beep (Asterisk's own,
    about 0.45 s) before the message is recorded; on a loaded machine, a little later."""
    return ANSWER_MEDIA_WAIT + prompt_seconds(stack, "welcome", "recording_notice", "closed_hours", "leave_message")


def recording_starts(stack: Stack) -> float:
    """Seconds after answer when a closed-hours caller may speak (after the beep)."""
    return prompt_seconds(stack, "welcome", "recording_notice", "closed_hours", "leave_message") + 2.0


def talk_to_desk(stack: Stack, menu_key: str, code: str, speech: Path, *, speak_after: float = 0.0) -> list[Step]:
    """A caller's steps: ``menu_key`` at the main menu, then a desk's ``code``; once put through (``speak_after``
    s after the transfer prompt) the caller speaks, as a phone sends RTP while its user talks, and waits for
    the desk to hang up."""
    return [Wait(menu_starts(stack)), Keys(menu_key), Wait(2), Keys(code),
            Wait(prompt_seconds(stack, "transferring") + speak_after), Speak(speech), AwaitHangup(60)]


def call(stack: Stack, steps: list[Step], *, caller: str, dialled: str = "1022", workdir: Path,
         timeout: float | None = None) -> CallResult:
    process = start(stack, steps, caller=caller, dialled=dialled, workdir=workdir)
    try:
        return process.result(timeout)
    finally:
        process.terminate()


def start(stack: Stack, steps: list[Step], *, caller: str, dialled: str = "1022", workdir: Path) -> CallerProcess:
    s = stack.ctx.settings
    return start_caller(s.sip.bind, s.sip.port, dialled, CallerScript(list(steps)), caller=caller,
                        workdir=workdir)


def speech_wav(dest: Path, text: str) -> Path:
    """A Vietnamese sentence spoken by espeak-ng, as a caller's message."""
    raw = dest.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", "vi", "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(dest)], check=True)
    return dest
