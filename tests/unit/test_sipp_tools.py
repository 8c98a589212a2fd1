"""tooling.sipp: pcap writers, scenario generator, and SIPp-to-SIPp calls on loopback."""
from __future__ import annotations

import struct
import warnings
import xml.etree.ElementTree as ET
from itertools import pairwise
from pathlib import Path

import pytest

from tests.support.audio import write_tone
from tooling.sipp import (
    AwaitHangup,
    CallerScript,
    DtmfSequencer,
    HangUp,
    Keys,
    Speak,
    Wait,
    build_caller_xml,
    build_desk_xml,
    free_udp_port,
    read_pcap,
    run_caller,
    start_uas,
    ulaw_encode,
    write_audio_pcap,
    write_dtmf_pcap,
)
from tooling.sipp.process import read_stats
from tooling.sipp.rtpsink import RtpSink

# SIPp (sip-tester) and sox are installed by scripts/bootstrap: without them these tests fail.


def events_of(packets: list) -> list[tuple[int, int, int]]:
    """(event code, end bit, duration) of each telephone-event packet."""
    out = []
    for packet in packets:
        code, flags, duration = struct.unpack("!BBH", packet.payload[:4])
        out.append((code, flags >> 7, duration))
    return out


# --- pcap: DTMF -------------------------------------------------------------------------------

def test_dtmf_pcap_holds_whole_sequence_with_rising_seq_and_timestamps(tmp_path: Path) -> None:
    path = write_dtmf_pcap(tmp_path / "k.pcap", "305", gap_ms=300, start_seq=100, start_ts=8000, ssrc=7)
    packets = read_pcap(path)
    assert len(packets) == 30
    assert {p.payload_type for p in packets} == {101} and {p.ssrc for p in packets} == {7}
    assert [p.seq for p in packets] == list(range(100, 130))
    digits = [packets[i:i + 10] for i in (0, 10, 20)]
    stamps = [d[0].timestamp for d in digits]
    assert stamps[0] == 8000 and stamps[0] < stamps[1] < stamps[2]
    for digit, code in zip(digits, (3, 0, 5), strict=True):
        assert {p.timestamp for p in digit} == {digit[0].timestamp}
        assert [p.marker for p in digit] == [True] + [False] * 9
        events = events_of(digit)
        assert {e[0] for e in events} == {code}
        assert [e[1] for e in events] == [0] * 7 + [1] * 3
        assert [e[2] for e in events[:7]] == [160 * n for n in range(1, 8)]
        assert {e[2] for e in events[7:]} == {events[6][2] + 160}
        assert [b.at_us - a.at_us for a, b in pairwise(digit)] == [20_000] * 9
    assert digits[1][0].at_us - digits[0][-1].at_us >= 300_000


def test_sequencer_continues_seq_and_timestamps_across_files(tmp_path: Path) -> None:
    sequencer = DtmfSequencer(ssrc=0x1022, seq=65530, timestamp=2**32 - 100)
    first = read_pcap(sequencer.write_dtmf(tmp_path / "a.pcap", "3"))
    sequencer.advance(8.0)
    second = read_pcap(sequencer.write_dtmf(tmp_path / "b.pcap", "01"))
    seqs = [p.seq for p in first + second]
    assert all((b - a) % 65536 == 1 for a, b in pairwise(seqs))  # wraps like RTP
    gap = (second[0].timestamp - first[0].timestamp) % 2**32
    assert gap == 8000 * 8 + 10 * 160  # the pause plus the first key's 200 ms
    assert {p.ssrc for p in first + second} == {0x1022}


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a DTMF key"):
        write_dtmf_pcap(tmp_path / "x.pcap", "3x")


def test_pcap_is_ethernet_ipv4_udp_with_valid_ip_checksum(tmp_path: Path) -> None:
    data = write_dtmf_pcap(tmp_path / "k.pcap", "1").read_bytes()
    magic, major, minor, _, _, snaplen, linktype = struct.unpack("<IHHiIII", data[:24])
    assert (magic, major, minor, linktype) == (0xA1B2C3D4, 2, 4, 1)
    _, _, caplen, origlen = struct.unpack("<IIII", data[24:40])
    frame = data[40:40 + caplen]
    assert caplen == origlen == 14 + 20 + 8 + 12 + 4
    assert frame[12:14] == b"\x08\x00" and frame[23] == 17
    words = struct.unpack("!10H", frame[14:34])
    total = sum(words)
    assert (total & 0xFFFF) + (total >> 16) == 0xFFFF


# --- pcap: speech ------------------------------------------------------------------------------

def test_ulaw_encoder_known_samples() -> None:
    pcm = struct.pack("<6h", 0, -1, 32767, -32768, 1000, -1000)
    assert ulaw_encode(pcm) == bytes([0xFF, 0x7E, 0x80, 0x00, 0xCE, 0x4E])


def test_ulaw_encoder_matches_the_reference_on_every_sample() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop  # the reference; Python 3.13 has it only from the audioop-lts package
    pcm = struct.pack("<65536h", *range(-32768, 32768))
    assert ulaw_encode(pcm) == audioop.lin2ulaw(pcm, 2)


def test_audio_pcap_is_20ms_pcmu_packets(tmp_path: Path) -> None:
    wav = write_tone(tmp_path / "tone.wav", 1.01)
    packets = read_pcap(write_audio_pcap(tmp_path / "a.pcap", wav))
    assert len(packets) == 51  # 1.01 s → 50 full packets and one padded
    assert {p.payload_type for p in packets} == {0} and {len(p.payload) for p in packets} == {160}
    assert all(b.timestamp - a.timestamp == 160 and b.seq - a.seq == 1 and b.at_us - a.at_us == 20_000
               for a, b in pairwise(packets))
    assert packets[-1].payload.endswith(b"\xff" * 80)


def test_audio_pcap_converts_other_rates(tmp_path: Path) -> None:
    wav = write_tone(tmp_path / "tone.wav", 0.5, rate=22050)
    assert len(read_pcap(write_audio_pcap(tmp_path / "a.pcap", wav))) == 25


# --- scenarios ---------------------------------------------------------------------------------

def jump_targets(root: ET.Element) -> set[str]:
    return {el.get(a) for el in root.iter() for a in ("next", "ontimeout") if el.get(a)}  # type: ignore[misc]


def test_caller_scenario_is_valid_xml_with_every_step(tmp_path: Path) -> None:
    wav = write_tone(tmp_path / "hello.wav", 0.2)
    script = CallerScript([Wait(8), Keys("3"), Wait(3), Keys("01"), Speak(wav), AwaitHangup(60)])
    root = ET.fromstring(build_caller_xml(script, tmp_path, caller="0987654321").encode("iso-8859-1"))
    plays = [el.get("play_pcap_audio") for el in root.iter("exec")]
    assert plays == [str((tmp_path / f"step{n}.pcap").resolve()) for n in (2, 4, 5)]
    assert all(Path(p).exists() for p in plays)  # type: ignore[arg-type]
    labels = {el.get("id") for el in root.iter("label")}
    assert jump_targets(root) <= labels
    byes = [el for el in root.iter("recv") if el.get("request") == "BYE" and el.get("timeout")]
    assert [el.get("timeout") for el in byes][-1] == "60000" and all(el.get("next") == "remote_bye" for el in byes)
    invite = root.find("send").text  # type: ignore[union-attr]
    assert "From: \"0987654321\" <sip:0987654321@" in invite and "telephone-event/8000" in invite  # type: ignore[operator]


def test_caller_script_ends_with_hangup_and_refuses_steps_after_it() -> None:
    assert CallerScript([Keys("1")]).normalized()[-1] == HangUp()
    with pytest.raises(ValueError, match="ends the call"):
        CallerScript([HangUp(), Keys("1")]).normalized()
    script = CallerScript.from_keys(["3", "01"], wait_before_keys=8, hold=None)
    assert script.steps == [Wait(8), Keys("3"), Wait(3.0), Keys("01"), AwaitHangup(300.0)]


@pytest.mark.parametrize("hangup", ["remote", "local", "busy", "noanswer"])
def test_desk_scenario_is_valid_xml(hangup: str) -> None:
    root = ET.fromstring(build_desk_xml(hangup=hangup, sdp_port=41234).encode("iso-8859-1"))
    assert jump_targets(root) <= {el.get("id") for el in root.iter("label")}
    text = "".join(el.text or "" for el in root.iter("send"))
    assert ("m=audio 41234 RTP/AVP 0 101" in text) == (hangup in ("remote", "local"))
    assert ("486 Busy Here" in text) == (hangup == "busy")


def test_read_stats_takes_the_last_row(tmp_path: Path) -> None:
    csv = tmp_path / "s.csv"
    csv.write_text("StartTime;SuccessfulCall(C);FailedCall(C);\nx;0;0;\nx;4;1;\n")
    stats = read_stats(csv)
    assert (stats.successful, stats.failed) == (4, 1)
    assert read_stats(tmp_path / "missing.csv").successful == 0


# --- SIPp to SIPp on loopback -----------------------------------------------------------------

def test_caller_keys_3_then_01_and_hangs_up(tmp_path: Path) -> None:
    port = free_udp_port()
    with RtpSink() as sink, start_uas(port, ring_seconds=0.2, hangup="remote", sdp_port=sink.port,
                                      workdir=tmp_path / "desk") as desk:
        script = CallerScript([Wait(0.3), Keys("3"), Wait(0.5), Keys("01"), HangUp()])
        result = run_caller("127.0.0.1", port, "1022", script, workdir=tmp_path / "call")
        assert result.ok, (result.outcome, result.problems)
        assert (result.outcome, result.stats.successful, result.stats.failed) == ("local_bye", 1, 0)
        assert result.steps == ["wait 0.3s", "keys 3", "wait 0.5s", "keys 01", "hang up"]
        desk.wait_for(r"^OUTCOME remote_bye ", timeout=5)
        assert desk.answered == 1 and desk.outcomes() == ["remote_bye"]
        assert sink.wait_for_keys("301", timeout=5) == "301"
    packets = [p for p in sink.snapshot() if p.payload_type == 101]
    assert len(packets) == 30 and len({p.ssrc for p in packets}) == 1
    assert all((b.seq - a.seq) % 65536 == 1 and (b.timestamp - a.timestamp) % 2**32 < 2**31
               for a, b in pairwise(packets))
    assert [p.event[1] for p in packets if p.event] == ([False] * 7 + [True] * 3) * 3


def test_desk_hangs_up_first(tmp_path: Path) -> None:
    port = free_udp_port()
    with start_uas(port, ring_seconds=0.1, talk_seconds=1.0, hangup="local", workdir=tmp_path / "desk") as desk:
        script = CallerScript([Wait(0.2), Keys("1"), Wait(20), AwaitHangup(30)])
        result = run_caller("127.0.0.1", port, "1022", script, workdir=tmp_path / "call")
        assert result.ok and result.ended_by_remote, (result.outcome, result.problems)
        assert (result.stats.successful, result.stats.failed) == (1, 0)
        assert result.elapsed < 10
        assert result.call_id and desk.wait_for(r"^OUTCOME local_bye " + result.call_id, timeout=5)
