"""SIPp XML scenarios for a caller (UAC) that keys DTMF and speaks, written from a list of steps.

Every step that takes time is a ``<recv request="BYE">`` with a timeout whose
``ontimeout`` moves on to the next step, so the far end may hang up at any
moment and the call still ends cleanly. Each outcome is written with a
``<log>`` action (``OUTCOME <name> <call-id>``); the runner reads it back.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

from tooling.sipp.pcap import RtpSequencer, pcap_duration, read_telephone_pcm, write_pcap

# A test that never holds: SIPp then counts the call as failed but still plays the scenario out.
FAIL_MARK = ('<assign assign_to="hotline_failed" value="1"/><test assign_to="hotline_failed_ok"'
             ' variable="hotline_failed" compare="equal" value="0" check_it="true"/>'
             '<log message="FAILED [$hotline_failed_ok]"/>')
REJECT_CODES = (403, 404, 408, 480, 484, 486, 487, 488, 500, 502, 503, 603)


@dataclass(frozen=True)
class Wait:
    """Stay silent on the line."""

    seconds: float


@dataclass(frozen=True)
class Keys:
    """Press keys (RFC 4733 DTMF), all in one pcap, ``gap_ms`` apart."""

    keys: str
    gap_ms: int = 300


@dataclass(frozen=True)
class Speak:
    """Say a WAV recording (sent as PCMU) and wait for its length."""

    wav: Path


@dataclass(frozen=True)
class HangUp:
    """Send BYE."""


@dataclass(frozen=True)
class AwaitHangup:
    """Wait for the far end's BYE; hang up ourselves after ``max_seconds``."""

    max_seconds: float = 300.0


Step = Wait | Keys | Speak | HangUp | AwaitHangup


@dataclass
class CallerScript:
    """What a caller does once answered; a script not ending in a hang-up step gets HangUp()."""

    steps: list[Step] = field(default_factory=list)

    @classmethod
    def from_keys(cls, key_groups: list[str], *, wait_before_keys: float = 8.0, pause_between: float = 3.0,
                  speak: Path | None = None, hold: float | None = None) -> CallerScript:
        """Wait for the welcome prompt, press each key group, optionally speak, then hold or hang up."""
        steps: list[Step] = [Wait(wait_before_keys)] if wait_before_keys > 0 else []
        for index, group in enumerate(key_groups):
            if index:
                steps.append(Wait(pause_between))
            steps.append(Keys(group))
        if speak is not None:
            steps.append(Speak(Path(speak)))
        if hold is None:
            steps.append(AwaitHangup(300.0))
        else:
            steps += [Wait(hold), HangUp()]
        return cls(steps)

    def normalized(self) -> list[Step]:
        """The steps, checked, ending in exactly one HangUp or AwaitHangup."""
        steps = list(self.steps)
        for index, step in enumerate(steps[:-1]):
            if isinstance(step, (HangUp, AwaitHangup)):
                raise ValueError(f"step {index + 1} ({step}) ends the call but more steps follow it")
        if not steps or not isinstance(steps[-1], (HangUp, AwaitHangup)):
            steps.append(HangUp())
        return steps


def _msg(text: str) -> str:
    lines = [line.strip() for line in text.strip("\n").splitlines()]
    return "\n".join(lines)


def send(text: str, *, retrans: bool = False, extra: str = "") -> str:
    """A ``<send>`` element around a SIP message (one header per line, blank line before a body)."""
    attrs = (' retrans="500"' if retrans else "") + extra
    return f"  <send{attrs}>\n    <![CDATA[\n\n{_msg(text)}\n\n    ]]>\n  </send>\n"


def log_action(message: str) -> str:
    """An ``<action>`` holding a log line (written to the -log_file)."""
    return f"<action><log message={quoteattr(message)}/></action>"


def nop(message: str, *, next_label: str | None = None) -> str:
    """A ``<nop>`` that logs a line and optionally jumps."""
    jump = f" next={quoteattr(next_label)}" if next_label else ""
    return f"  <nop{jump}>{log_action(message)}</nop>\n"


def interruptible_wait(ms: int, on_time: str, on_bye: str = "remote_bye") -> str:
    """Wait ``ms`` milliseconds unless a BYE comes first."""
    return (f'  <recv request="BYE" timeout="{max(ms, 1)}" ontimeout={quoteattr(on_time)}'
            f' next={quoteattr(on_bye)}/>\n  <label id={quoteattr(on_time)}/>\n')


SDP = """
v=0
o=hotline 1022 1 IN IP[media_ip_type] [media_ip]
s=hotline
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio {port} RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=ptime:20
a=sendrecv
"""

_DIALOG = """
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "{caller}" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
"""
_CONTACT = "Contact: <sip:{caller}@[local_ip]:[local_port];transport=[transport]>\nMax-Forwards: 70\n"


def _invite(caller: str) -> str:
    head = "INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0" + _DIALOG + "CSeq: 1 INVITE\n" + _CONTACT
    body = ("User-Agent: hotline-sipp\nContent-Type: application/sdp\nContent-Length: [len]\n\n"
            + SDP.format(port="[media_port]").strip("\n"))
    return send((head + body).format(caller=caller), retrans=True, extra=' start_rtd="answer"')


def _answer_phase(caller: str, answer_timeout_ms: int, response_timeout_ms: int) -> str:
    """INVITE; no response at all, a rejection, no answer (then CANCEL), or 200 and ACK."""
    wait = f'timeout="{answer_timeout_ms}" ontimeout="no_answer"'
    xml = _invite(caller)
    xml += (f'  <recv response="100" optional="true" timeout="{min(response_timeout_ms, answer_timeout_ms)}"'
            ' ontimeout="no_response"/>\n')
    ringing = log_action("RINGING [call_id]")
    xml += f'  <recv response="180" optional="true" {wait}>{ringing}</recv>\n'
    xml += f'  <recv response="183" optional="true" {wait}>{ringing}</recv>\n'
    for code in REJECT_CODES:
        outcome = quoteattr(f"OUTCOME rejected {code} [call_id]")
        xml += (f'  <recv response="{code}" optional="true" next="rejected">'
                f"<action><log message={outcome}/>{FAIL_MARK}</action></recv>\n")
    # rrs: the dialog's route set from the 200's Record-Route (Kamailio in front of a cluster, README: Scaling
    # out) and its Contact, so ACK and BYE go through the proxy to the node that answered; without a proxy the
    # route set is empty and [next_url] is Asterisk's own Contact.
    xml += f'  <recv response="200" rtd="answer" rrs="true" {wait}>{log_action("ANSWERED [call_id]")}</recv>\n'
    ack = "ACK [next_url] SIP/2.0" + _DIALOG + "[routes]\nCSeq: 1 ACK\n" + _CONTACT
    xml += send(ack.format(caller=caller) + "Content-Length: 0")
    return xml


def _endings(caller: str) -> str:
    """The labelled tails every path jumps to: local or remote BYE, rejected, no answer, no response."""
    bye = "BYE [next_url] SIP/2.0" + _DIALOG + "[routes]\nCSeq: 2 BYE\n" + _CONTACT
    reply_200 = "SIP/2.0 200 OK\n[last_Via:]\n[last_From:]\n[last_To:]\n[last_Call-ID:]\n[last_CSeq:]\n"
    ack_reject = ("ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0\n[last_Via:]\n[last_From:]\n"
                  "[last_To:]\n[last_Call-ID:]\nCSeq: 1 ACK\nMax-Forwards: 70\nContent-Length: 0")
    cancel = ("CANCEL sip:[service]@[remote_ip]:[remote_port] SIP/2.0\n[last_Via:]\n[last_From:]\n"
              "To: <sip:[service]@[remote_ip]:[remote_port]>\n[last_Call-ID:]\nCSeq: 1 CANCEL\n"
              "Max-Forwards: 70\nContent-Length: 0")
    xml = '  <label id="hangup"/>\n'
    xml += send(bye.format(caller=caller) + "Content-Length: 0", retrans=True)
    xml += '  <recv request="BYE" optional="true" next="remote_bye"/>\n'
    xml += f'  <recv response="200">{log_action("OUTCOME local_bye [call_id]")}</recv>\n'
    xml += '  <nop next="end"/>\n'
    xml += '  <label id="remote_bye"/>\n'
    xml += nop("OUTCOME remote_bye [call_id]") + send(reply_200 + "Content-Length: 0")
    xml += '  <nop next="end"/>\n'
    xml += '  <label id="rejected"/>\n' + send(ack_reject) + '  <nop next="end"/>\n'
    xml += '  <label id="no_answer"/>\n' + nop("OUTCOME no_answer [call_id]") + send(cancel, retrans=True)
    xml += f'  <recv response="200" optional="true"/>\n  <recv response="487"><action>{FAIL_MARK}</action></recv>\n'
    xml += send(ack_reject) + '  <nop next="end"/>\n'
    # A <nop>'s failed check does not count, so no response ends on a receive timeout (a failed call).
    xml += '  <label id="no_response"/>\n' + nop("OUTCOME no_response [call_id]")
    xml += '  <recv request="HOTLINE-NEVER" timeout="1"/>\n'

    xml += '  <label id="end"/>\n' + nop("END [call_id]")
    return xml


def build_caller_xml(script: CallerScript, workdir: str | Path, *, caller: str = "0912345678",
                     answer_timeout: float = 60.0, response_timeout: float = 8.0,
                     sequencer: RtpSequencer | None = None) -> str:
    """The caller scenario's XML; DTMF and speech pcaps are written into ``workdir``.

    No response at all within ``response_timeout`` (not even 100 Trying) ends the
    call as ``no_response``; no 200 within ``answer_timeout`` cancels it as ``no_answer``.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if not (caller.replace("+", "").isalnum() or caller.startswith("[field")):
        raise ValueError(f"caller number {caller!r} must be digits (or letters)")
    rtp = sequencer or RtpSequencer()
    xml = ('<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="hotline caller">\n'
           + _answer_phase(caller, int(answer_timeout * 1000), int(response_timeout * 1000)))
    for index, step in enumerate(script.normalized(), start=1):
        xml += _step_xml(index, step, workdir, rtp)
    xml += _endings(caller)
    xml += '  <ResponseTimeRepartition value="50, 100, 200, 500, 1000, 2000, 5000"/>\n</scenario>\n'
    return xml


def _step_xml(index: int, step: Step, workdir: Path, rtp: RtpSequencer) -> str:
    label = f"step{index}_done"
    if isinstance(step, Wait):
        rtp.advance(step.seconds)
        return nop(f"STEP {index} wait {step.seconds:g}s") + interruptible_wait(int(step.seconds * 1000), label)
    if isinstance(step, (Keys, Speak)):
        pcap = workdir / f"step{index}.pcap"
        if isinstance(step, Keys):
            packets = rtp.dtmf_packets(step.keys, gap_ms=step.gap_ms)
            what = f"keys {step.keys}"
        else:
            packets = rtp.audio_packets(read_telephone_pcm(step.wav))
            what = f"speak {step.wav.name}"
        write_pcap(pcap, packets)
        play = (f"  <nop><action><log message={quoteattr(f'STEP {index} {what}')}/>"
                f"<exec play_pcap_audio={quoteattr(str(pcap.resolve()))}/></action></nop>\n")
        return play + interruptible_wait(int(pcap_duration(packets) * 1000) + 100, label)
    if isinstance(step, AwaitHangup):
        wait = interruptible_wait(int(step.max_seconds * 1000), label)
        return nop(f"STEP {index} await hangup") + wait + nop("HOLD_EXPIRED [call_id]", next_label="hangup")
    return nop(f"STEP {index} hang up", next_label="hangup")


def write_caller_scenario(script: CallerScript, workdir: str | Path, **options: object) -> Path:
    """Write ``caller.xml`` (and its pcaps) into ``workdir``; see :func:`build_caller_xml`."""
    path = Path(workdir) / "caller.xml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(build_caller_xml(script, workdir, **options), encoding="iso-8859-1")  # type: ignore[arg-type]
    return path
