"""Write RTP pcap files for SIPp's ``play_pcap_audio``: RFC 4733 DTMF and G.711 speech.

SIPp replays a pcap's UDP payloads as they are: it rewrites only the UDP ports
(source = its media port, destination = the far end's SDP port) and the UDP
checksum. The RTP header (sequence number, timestamp, SSRC) goes out verbatim,
and the pcap record times set the pacing. So every pcap one call plays must
continue the sequence numbers and timestamps of the one before, or Asterisk
drops the later DTMF events as old: :class:`RtpSequencer` keeps that running
state for one call.
"""
from __future__ import annotations

import random
import shutil
import struct
import subprocess
import tempfile
import wave
from dataclasses import dataclass, field
from pathlib import Path

SAMPLE_RATE = 8000
PACKET_MS = 20
SAMPLES_PER_PACKET = SAMPLE_RATE * PACKET_MS // 1000
DTMF_PAYLOAD_TYPE = 101
PCMU_PAYLOAD_TYPE = 0
DTMF_PACKETS_PER_KEY = 10
DTMF_END_PACKETS = 3
DTMF_VOLUME = 10
DTMF_EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11, "A": 12, "B": 13, "C": 14, "D": 15}

_PCAP_MAGIC = 0xA1B2C3D4
_LINKTYPE_ETHERNET = 1
_SRC_MAC = bytes.fromhex("020000000001")
_DST_MAC = bytes.fromhex("020000000002")
_SRC_IP = bytes([127, 0, 0, 1])
_DST_IP = bytes([127, 0, 0, 1])
_SRC_PORT = 40000
_DST_PORT = 6000  # SIPp maps each packet's port relative to the lowest one in the file
_PCAP_EPOCH = 1_700_000_000


@dataclass
class RtpPacket:
    """One RTP packet and when it leaves, in microseconds from the file's start."""

    at_us: int
    payload_type: int
    seq: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False

    def to_bytes(self) -> bytes:
        """The RTP header (version 2, no CSRC) followed by the payload."""
        second = (0x80 if self.marker else 0) | (self.payload_type & 0x7F)
        header = struct.pack("!BBHII", 0x80, second, self.seq & 0xFFFF,
                             self.timestamp & 0xFFFFFFFF, self.ssrc & 0xFFFFFFFF)
        return header + self.payload


def _ip_checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _frame(rtp: bytes) -> bytes:
    """Wrap an RTP packet in Ethernet, IPv4 and UDP headers (UDP checksum 0: SIPp recomputes it)."""
    udp = struct.pack("!HHHH", _SRC_PORT, _DST_PORT, 8 + len(rtp), 0) + rtp
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0, _SRC_IP, _DST_IP)
    ip = ip[:10] + struct.pack("!H", _ip_checksum(ip)) + ip[12:]
    return _DST_MAC + _SRC_MAC + b"\x08\x00" + ip + udp


def write_pcap(path: str | Path, packets: list[RtpPacket]) -> Path:
    """Write RTP packets as a classic little-endian Ethernet pcap."""
    path = Path(path)
    chunks = [struct.pack("<IHHiIII", _PCAP_MAGIC, 2, 4, 0, 0, 65535, _LINKTYPE_ETHERNET)]
    for packet in packets:
        frame = _frame(packet.to_bytes())
        seconds, micros = divmod(packet.at_us, 1_000_000)
        chunks.append(struct.pack("<IIII", _PCAP_EPOCH + seconds, micros, len(frame), len(frame)))
        chunks.append(frame)
    path.write_bytes(b"".join(chunks))
    return path


def read_pcap(path: str | Path) -> list[RtpPacket]:
    """Read back the RTP packets of a pcap written by :func:`write_pcap` (or any Ethernet/IPv4/UDP one)."""
    data = Path(path).read_bytes()
    magic, _, _, _, _, _, linktype = struct.unpack("<IHHiIII", data[:24])
    if magic != _PCAP_MAGIC or linktype != _LINKTYPE_ETHERNET:
        raise ValueError(f"{path}: not a little-endian Ethernet pcap")
    packets: list[RtpPacket] = []
    offset, first_us = 24, None
    while offset < len(data):
        seconds, micros, length, _ = struct.unpack("<IIII", data[offset:offset + 16])
        frame = data[offset + 16:offset + 16 + length]
        offset += 16 + length
        ihl = (frame[14] & 0x0F) * 4
        rtp = frame[14 + ihl + 8:]
        b0, b1, seq, timestamp, ssrc = struct.unpack("!BBHII", rtp[:12])
        at_us = seconds * 1_000_000 + micros
        first_us = at_us if first_us is None else first_us
        packets.append(RtpPacket(at_us - first_us, b1 & 0x7F, seq, timestamp, ssrc,
                                 rtp[12 + 4 * (b0 & 0x0F):], marker=bool(b1 & 0x80)))
    return packets


def _ulaw_byte(sample: int) -> int:
    """G.711 µ-law encoding of one signed 16-bit sample (Sun's reference g711.c, on 14 bits)."""
    value = sample >> 2
    mask = 0xFF
    if value < 0:
        value, mask = -value, 0x7F
    value = min(value, 8159) + 0x21
    segment = max(value.bit_length() - 6, 0)
    if segment >= 8:
        return 0x7F ^ mask
    return ((segment << 4) | ((value >> (segment + 1)) & 0x0F)) ^ mask


_ULAW_TABLE = bytes(_ulaw_byte(s - 32768) for s in range(65536))


def ulaw_encode(pcm16: bytes) -> bytes:
    """Encode little-endian signed 16-bit PCM to G.711 µ-law, one byte per sample."""
    samples = struct.unpack(f"<{len(pcm16) // 2}h", pcm16[: len(pcm16) // 2 * 2])
    return bytes(_ULAW_TABLE[s + 32768] for s in samples)


def _is_telephone_wav(wav_path: Path) -> bool:
    with wave.open(str(wav_path), "rb") as wav:
        return (wav.getframerate(), wav.getnchannels(), wav.getsampwidth(), wav.getcomptype()) == (
            SAMPLE_RATE, 1, 2, "NONE")


def read_telephone_pcm(wav_path: str | Path) -> bytes:
    """The WAV's audio as 8 kHz mono signed 16-bit PCM, converted by sox when it is not already."""
    wav_path = Path(wav_path)
    if _is_telephone_wav(wav_path):
        with wave.open(str(wav_path), "rb") as wav:
            return wav.readframes(wav.getnframes())
    sox = shutil.which("sox")
    if sox is None:
        raise RuntimeError(f"{wav_path} is not 8 kHz mono 16-bit and sox is not installed to convert it")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "telephone.wav"
        subprocess.run([sox, str(wav_path), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16",
                        "-e", "signed-integer", str(out)], check=True, capture_output=True)
        with wave.open(str(out), "rb") as wav:
            return wav.readframes(wav.getnframes())


@dataclass
class RtpSequencer:
    """The running RTP state of one call's outgoing stream, shared by all the pcaps it plays.

    Each pcap written through it continues the sequence numbers and timestamps of
    the previous one; :meth:`advance` moves the timestamp on for time spent silent.
    """

    ssrc: int = field(default_factory=lambda: random.randrange(1, 2**32))
    seq: int = field(default_factory=lambda: random.randrange(1000, 20000))
    timestamp: int = field(default_factory=lambda: random.randrange(0, 2**30))

    def _take(self, count: int = 1) -> int:
        first = self.seq
        self.seq = (self.seq + count) & 0xFFFF
        return first

    def advance(self, seconds: float) -> None:
        """Account for a silent pause: the next packet's timestamp lies that much later."""
        self.timestamp = (self.timestamp + int(seconds * SAMPLE_RATE)) & 0xFFFFFFFF

    def dtmf_packets(self, keys: str, *, gap_ms: int = 300) -> list[RtpPacket]:
        """RFC 4733 events for ``keys``: 10 packets of 20 ms each, the last three with the end bit."""
        packets: list[RtpPacket] = []
        at_us = 0
        for index, key in enumerate(keys.upper()):
            if key not in DTMF_EVENTS:
                raise ValueError(f"not a DTMF key: {key!r} (use 0-9, *, #, A-D)")
            if index:
                at_us += gap_ms * 1000
                self.advance(gap_ms / 1000)
            end_duration = (DTMF_PACKETS_PER_KEY - DTMF_END_PACKETS + 1) * SAMPLES_PER_PACKET
            for n in range(DTMF_PACKETS_PER_KEY):
                end = n >= DTMF_PACKETS_PER_KEY - DTMF_END_PACKETS
                duration = end_duration if end else (n + 1) * SAMPLES_PER_PACKET
                flags = (0x80 if end else 0) | DTMF_VOLUME
                payload = struct.pack("!BBH", DTMF_EVENTS[key], flags, duration)
                packets.append(RtpPacket(at_us, DTMF_PAYLOAD_TYPE, self._take(), self.timestamp,
                                         self.ssrc, payload, marker=(n == 0)))
                at_us += PACKET_MS * 1000
            self.advance(DTMF_PACKETS_PER_KEY * PACKET_MS / 1000)
        return packets

    def audio_packets(self, pcm16: bytes) -> list[RtpPacket]:
        """G.711 µ-law packets of 20 ms (the last one padded with silence), paced 20 ms apart."""
        ulaw = ulaw_encode(pcm16)
        if len(ulaw) % SAMPLES_PER_PACKET:
            ulaw += b"\xff" * (SAMPLES_PER_PACKET - len(ulaw) % SAMPLES_PER_PACKET)
        packets = []
        for n in range(len(ulaw) // SAMPLES_PER_PACKET):
            chunk = ulaw[n * SAMPLES_PER_PACKET:(n + 1) * SAMPLES_PER_PACKET]
            packets.append(RtpPacket(n * PACKET_MS * 1000, PCMU_PAYLOAD_TYPE, self._take(),
                                     self.timestamp, self.ssrc, chunk, marker=(n == 0)))
            self.timestamp = (self.timestamp + SAMPLES_PER_PACKET) & 0xFFFFFFFF
        return packets

    def write_dtmf(self, path: str | Path, keys: str, *, gap_ms: int = 300) -> Path:
        """Write one pcap holding the whole key sequence."""
        return write_pcap(path, self.dtmf_packets(keys, gap_ms=gap_ms))

    def write_audio(self, path: str | Path, wav_path: str | Path) -> Path:
        """Write the WAV as a PCMU pcap."""
        return write_pcap(path, self.audio_packets(read_telephone_pcm(wav_path)))


DtmfSequencer = RtpSequencer


def pcap_duration(packets: list[RtpPacket]) -> float:
    """Seconds from the first packet's start to the last packet's end."""
    return (packets[-1].at_us / 1_000_000 + PACKET_MS / 1000) if packets else 0.0


def write_dtmf_pcap(path: str | Path, keys: str, *, gap_ms: int = 300, start_seq: int = 1,
                    start_ts: int = 0, ssrc: int = 0x1022_0001) -> Path:
    """Write one RFC 4733 pcap for ``keys`` (a fresh stream; use RtpSequencer for several files)."""
    return RtpSequencer(ssrc=ssrc, seq=start_seq, timestamp=start_ts).write_dtmf(path, keys, gap_ms=gap_ms)


def write_audio_pcap(path: str | Path, wav_path: str | Path, *, payload: str = "PCMU",
                     sequencer: RtpSequencer | None = None) -> Path:
    """Write any WAV as 20 ms RTP PCMU packets (payload type 0) for play_pcap_audio."""
    if payload.upper() != "PCMU":
        raise ValueError(f"unsupported payload {payload!r}: only PCMU is written")
    return (sequencer or RtpSequencer()).write_audio(path, wav_path)
