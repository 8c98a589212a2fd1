"""The bench's caller: a phone that sends RTP from the answer, presses 9 at the menu, hangs up.

A real phone sends 20 ms RTP frames from the moment it is answered; a SIPp caller
that sends nothing makes Asterisk's Answer() wait 500 ms for the first frame,
which would be counted against both paths. So the caller "speaks" silence
(PCMU frames of zero) for the whole call, with the DTMF key in between.
"""
from __future__ import annotations

import wave
from pathlib import Path

from tooling.sipp.scenario import CallerScript, HangUp, Keys, Speak, Step

KEY = "9"          # main menu: repeat the menu (keeps the caller in the IVR, no desk, no queue)
KEY_SECONDS = 0.3  # the key's pcap (10 packets of 20 ms) and the scenario's 100 ms margin
STEP_MARGIN = 0.1  # every timed step of the scenario waits its pcap's length plus this


def silence_wav(path: Path, seconds: float) -> Path:
    """``seconds`` of 8 kHz mono 16-bit silence."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\0\0" * int(seconds * 8000))
    return path


def caller_script(workdir: Path, *, key_at: float, hold: float) -> CallerScript:
    """Answer, silence until ``key_at`` s, key 9, silence, hang up ``hold`` s after the answer."""
    workdir.mkdir(parents=True, exist_ok=True)
    steps: list[Step] = []
    if key_at + KEY_SECONDS + 2 * STEP_MARGIN < hold:
        steps += [Speak(silence_wav(workdir / "before_key.wav", key_at)), Keys(KEY)]
        rest = hold - key_at - KEY_SECONDS - 2 * STEP_MARGIN
    else:   # a hold too short to reach the menu: no key
        rest = hold - STEP_MARGIN
    steps += [Speak(silence_wav(workdir / "after_key.wav", max(rest, 0.1))), HangUp()]
    return CallerScript(steps)


QUEUE_KEY = "0"    # main menu: an operator


def queue_caller_script(workdir: Path, *, key_at: float, stay: float) -> CallerScript:
    """Answer, silence until ``key_at`` s, key 0, then silence until the far end hangs up (``stay`` s at most).

    The caller goes on sending silence while it waits, talks and hears the survey, as a phone
    does; it never hangs up first unless ``stay`` runs out (the bench then counts the call as
    not ended by Asterisk).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    return CallerScript([Speak(silence_wav(workdir / "before_key.wav", key_at)), Keys(QUEUE_KEY),
                         Speak(silence_wav(workdir / "stay.wav", stay)), HangUp()])
