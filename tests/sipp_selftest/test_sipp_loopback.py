"""tooling.sipp against itself on loopback: every way a call can end, load, and ``hotline call``."""
from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

from click.testing import CliRunner

from hotline.cli.call import call_command, parse_key_groups
from tooling.sipp import (
    AwaitHangup,
    CallerScript,
    HangUp,
    Keys,
    Speak,
    Wait,
    free_udp_port,
    run_caller,
    run_load,
    start_caller,
    start_uas,
)

# SIPp (sip-tester) is installed by scripts/bootstrap: without it these tests fail, not skip.


def write_tone(path: Path, seconds: float) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"".join(struct.pack("<h", int(6000 * math.sin(n / 3))) for n in range(int(seconds * 8000))))
    return path


def test_busy_desk_rejects_and_the_call_counts_failed(tmp_path: Path) -> None:
    port = free_udp_port()
    with start_uas(port, hangup="busy", workdir=tmp_path / "desk") as desk:
        result = run_caller("127.0.0.1", port, "1022", CallerScript([Keys("1")]), workdir=tmp_path / "call")
        assert (result.outcome, result.status_code, result.answered) == ("rejected", 486, False)
        assert (result.exit_code, result.stats.successful, result.stats.failed) == (1, 0, 1)
        desk.wait_for(r"^OUTCOME busy ", timeout=5)


def test_unanswered_call_is_cancelled(tmp_path: Path) -> None:
    port = free_udp_port()
    with start_uas(port, hangup="noanswer", workdir=tmp_path / "desk") as desk:
        result = run_caller("127.0.0.1", port, "1022", CallerScript([HangUp()]), answer_timeout=1.0,
                            workdir=tmp_path / "call")
        assert (result.outcome, result.stats.failed) == ("no_answer", 1)
        desk.wait_for(r"^OUTCOME cancelled ", timeout=5)
        assert desk.invites == 1 and desk.answered == 0


def test_nobody_listening_is_no_response(tmp_path: Path) -> None:
    result = run_caller("127.0.0.1", free_udp_port(), "1022", CallerScript([HangUp()]), answer_timeout=1.0,
                        workdir=tmp_path / "call")
    assert (result.outcome, result.ok, result.stats.failed) == ("no_response", False, 1)


def test_bye_while_speaking_ends_the_call_cleanly(tmp_path: Path) -> None:
    port = free_udp_port()
    speech = write_tone(tmp_path / "speech.wav", 5.0)
    with start_uas(port, ring_seconds=0.1, talk_seconds=1.0, hangup="local", workdir=tmp_path / "desk"):
        result = run_caller("127.0.0.1", port, "1022", CallerScript([Speak(speech), Keys("9"), HangUp()]),
                            workdir=tmp_path / "call")
    assert result.ok and result.ended_by_remote, (result.outcome, result.problems)
    assert result.steps == ["speak speech.wav"] and result.elapsed < 4.5


def test_a_call_can_be_watched_and_stopped_mid_call(tmp_path: Path) -> None:
    port = free_udp_port()
    with start_uas(port, ring_seconds=0.1, hangup="remote", workdir=tmp_path / "desk") as desk:
        call = start_caller("127.0.0.1", port, "1022", CallerScript([Wait(60), HangUp()]), workdir=tmp_path / "call")
        call.wait_for(r"^STEP 1 wait", timeout=5)
        assert call.running and desk.answered == 1
        call.terminate()
        assert not call.running


def test_load_counts_calls_and_answer_times(tmp_path: Path) -> None:
    port = free_udp_port()
    with start_uas(port, ring_seconds=0.05, hangup="remote", workdir=tmp_path / "desk") as desk:
        result = run_load("127.0.0.1", port, "1022", CallerScript([Keys("2"), HangUp()]), rate_per_s=20,
                          limit_concurrent=5, total_calls=10, callers=[f"09{n:08d}" for n in range(10)],
                          timeout=60, workdir=tmp_path / "load")
        desk.wait_for(r"^OUTCOME remote_bye ", timeout=5, count=10)
    assert (result.exit_code, result.stats.successful, result.stats.failed) == (0, 10, 0)
    assert len(result.answer_ms) == 10 and all(40 <= ms < 2000 for ms in result.answer_ms)
    p95 = result.percentile(95)
    assert p95 is not None and min(result.answer_ms) <= p95 <= max(result.answer_ms)
    assert desk.invites == 10


def test_hotline_call_command_reports_in_plain_words(tmp_path: Path) -> None:
    assert parse_key_groups(" 3, 0 1,,") == ["3", "01"]
    port = free_udp_port()
    with start_uas(port, ring_seconds=0.1, hangup="remote", workdir=tmp_path / "desk"):
        out = CliRunner().invoke(call_command, ["--port", str(port), "--from", "0987000111", "--keys", "3,01",
                                                "--wait-before-keys", "0.2", "--pause-between-keys", "0.2",
                                                "--hold", "0.2", "--keep-logs", str(tmp_path / "call")])
    assert out.exit_code == 0, out.output
    for line in ("Calling 1022 at 127.0.0.1", "Answered.", "Pressing 3", "Pressing 0 1", "We hung up"):
        assert line in out.output
    assert "0987000111" in (tmp_path / "call" / "caller_messages.log").read_text()


def test_hotline_call_command_refuses_letters_as_keys() -> None:
    out = CliRunner().invoke(call_command, ["--keys", "3x"])
    assert out.exit_code == 2 and "not phone keys" in out.output


def test_await_hangup_hangs_up_itself_when_the_far_end_does_not(tmp_path: Path) -> None:
    port = free_udp_port()
    with start_uas(port, ring_seconds=0.1, hangup="remote", workdir=tmp_path / "desk"):
        result = run_caller("127.0.0.1", port, "1022", CallerScript([AwaitHangup(0.5)]), workdir=tmp_path / "c")
    assert (result.outcome, result.hold_expired, result.ok) == ("local_bye", True, True)
