"""Test messages as Asterisk records a voicemail (WAV, 8 kHz, mono, 16-bit).

For viet-asr, real Vietnamese speech: the six read sentences of tests/fixtures/speech_vi one after
another with 1 s pauses, looped as long as needed (``make_vi_messages``). For Vosk, espeak-ng
speech (``make_messages``): one long speech synthesized once (a caller's complaint, its sentences
repeated). Korean by default, for the Korean model that stands in for the Vietnamese one;
Vietnamese text for a Vietnamese model. Either way each message is its first N seconds, by sox.
"""
from __future__ import annotations

import math
import subprocess
import time
import wave
from collections.abc import Callable
from pathlib import Path

RATE = 8000
VI_PAUSE = 1.0          # seconds between the real sentences, as a caller pauses
TEXTS = {
    "ko": ("안녕하세요. 저는 동탑성 까오란시에 사는 주민입니다.",
           "토지 사용권 증명서 발급 절차에 대해 문의드리고 싶습니다.",
           "서류를 제출한 지 이주가 지났는데 아직 아무런 연락을 받지 못했습니다.",
           "담당 부서에 전화를 여러 번 했지만 아무도 받지 않았습니다.",
           "처리 기한이 언제까지인지 알려 주시기 바랍니다.",
           "그리고 집 앞 도로에 가로등이 고장 나서 밤에 매우 위험합니다.",
           "아이들이 학교에 갈 때 걱정이 많습니다. 빨리 수리해 주세요.",
           "제 전화번호는 공구일이 삼사오 육칠팔입니다. 내일 오전에 연락 주시면 감사하겠습니다."),
    "vi": ("Xin chào, tôi là người dân ở thành phố Cao Lãnh, tỉnh Đồng Tháp.",
           "Tôi muốn hỏi về thủ tục cấp giấy chứng nhận quyền sử dụng đất.",
           "Tôi đã nộp hồ sơ được hai tuần nhưng vẫn chưa nhận được thông báo nào.",
           "Tôi đã gọi điện cho bộ phận một cửa nhiều lần nhưng không ai nghe máy.",
           "Xin cho biết thời hạn giải quyết hồ sơ là khi nào.",
           "Ngoài ra, đèn đường trước nhà tôi bị hỏng, ban đêm đi lại rất nguy hiểm.",
           "Các cháu đi học buổi tối rất lo. Mong các cơ quan sớm sửa chữa.",
           "Số điện thoại của tôi là không chín một hai, ba bốn năm, sáu bảy tám. Xin cảm ơn."),
}


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wf:
        return wf.getnframes() / wf.getframerate()


def make_messages(out: Path, lengths: list[float], voice: str, log: Callable[[str], None]) -> dict[float, Path]:
    """One WAV per length under ``out``, from espeak-ng speech: {length: path}."""
    wanted = sorted(set(lengths))
    started = time.monotonic()
    speech = synthesize(out / f"speech-{voice}.wav", voice, wanted[-1] + 1.0)
    log(f"  espeak-ng -v {voice}: {wav_seconds(speech):.1f} s of speech in {time.monotonic() - started:.1f} s")
    return cut_messages(speech, out, wanted, log)


def make_vi_messages(out: Path, lengths: list[float], log: Callable[[str], None]) -> dict[float, Path]:
    """One WAV per length under ``out``, from the real Vietnamese sentences looped with 1 s pauses."""
    from tests.support.speech_vi import joined_message, samples
    wanted = sorted(set(lengths))
    items = samples()
    once = sum(wav_seconds(s.path) + VI_PAUSE for s in items)
    loops = math.ceil((wanted[-1] + 1.0) / once)
    speech = joined_message(out / "speech-vi-fixtures.wav", items * loops, pause=VI_PAUSE, rate=RATE)
    log(f"  tests/fixtures/speech_vi: {len(items)} sentences x {loops} with {VI_PAUSE:g} s pauses, "
        f"{wav_seconds(speech):.1f} s of speech")
    return cut_messages(speech, out, wanted, log)


def cut_messages(speech: Path, out: Path, wanted: list[float], log: Callable[[str], None]) -> dict[float, Path]:
    """The first N seconds of ``speech`` for each N, as 8 kHz mono 16-bit WAVs: {N: path}."""
    files: dict[float, Path] = {}
    for i, length in enumerate(wanted, 1):
        path = out / f"message-{length:g}s.wav"
        subprocess.run(["sox", str(speech), "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed-integer",
                        str(path), "trim", "0", f"{length:g}"], check=True, capture_output=True)
        got = wav_seconds(path)
        if abs(got - length) > 0.05:
            raise RuntimeError(f"{path} is {got:.2f} s long, not {length:g} s")
        log(f"  message {i}/{len(wanted)}: {path.name}, {got:.1f} s, 8 kHz mono 16-bit")
        files[length] = path
    return files


def synthesize(path: Path, voice: str, seconds: float) -> Path:
    """At least ``seconds`` of speech in ``path`` (espeak-ng's own rate, 22.05 kHz)."""
    sentences = TEXTS.get(voice.split("-")[0], TEXTS["ko"])
    _espeak(path, voice, " ".join(sentences))
    once = wav_seconds(path)
    repeats = math.ceil(seconds / once)
    if repeats > 1:
        _espeak(path, voice, " ".join(sentences * repeats))
    if wav_seconds(path) < seconds:
        raise RuntimeError(f"espeak-ng gave {wav_seconds(path):.1f} s of speech, {seconds:g} s needed")
    return path


def _espeak(path: Path, voice: str, text: str) -> None:
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), "--stdin"], input=text.encode("utf-8"),
                   check=True, capture_output=True)
