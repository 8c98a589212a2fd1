"""SIPp XML scenario for a desk or operator phone (UAS) that rings, answers, talks and hangs up.

Log lines (``-log_file``) let a test count calls: ``INVITE <call-id>`` on each
incoming call, ``ANSWERED <call-id>`` on 200 OK, and ``OUTCOME <name> <call-id>``
with name ``remote_bye``, ``local_bye``, ``busy`` or ``cancelled``.
"""
from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from xml.sax.saxutils import quoteattr

from tooling.sipp.scenario import SDP, interruptible_wait, nop, send


class DeskHangup(StrEnum):
    """How the desk ends a call."""

    REMOTE = "remote"      # answer, then wait for the caller's (or Asterisk's) BYE
    LOCAL = "local"        # answer, talk for talk_seconds, then send BYE
    BUSY = "busy"          # reject with 486 Busy Here
    NOANSWER = "noanswer"  # ring until the caller cancels


# [last_Record-Route:]: a proxy in front (the cluster's Kamailio) stays on the path of the call's later requests
_REPLY = ("[last_Via:]\n[last_From:]\n[last_To:];tag=[pid]SIPpTag01[call_number]\n[last_Call-ID:]\n[last_CSeq:]\n"
          "[last_Record-Route:]\n")
_CONTACT = "Contact: <sip:desk@[local_ip]:[local_port];transport=[transport]>\n"


_CAPTURES = {
    "remote_from": '<ereg regexp=".*" search_in="hdr" header="From:" assign_to="remote_from"/>',
    "local_to": '<ereg regexp=".*" search_in="hdr" header="To:" assign_to="local_to"/>',
    "invite_cseq": '<ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" assign_to="invite_cseq"/>',
}


def _invite(captures: tuple[str, ...]) -> str:
    """Receive the INVITE, keeping only the headers later messages use (SIPp rejects unused variables)."""
    regs = "".join(_CAPTURES[name] for name in captures) + '<log message="INVITE [call_id]"/>'
    return f'  <recv request="INVITE" crlf="true" rrs="true"><action>{regs}</action></recv>\n'


def _cancelled() -> str:
    ok = "SIP/2.0 200 OK\n[last_Via:]\n[last_From:]\n[last_To:]\n[last_Call-ID:]\n[last_CSeq:]\nContent-Length: 0"
    terminated = ("SIP/2.0 487 Request Terminated\n[last_Via:]\n[last_From:]\n"
                  "[last_To:];tag=[pid]SIPpTag01[call_number]\n[last_Call-ID:]\n"
                  "CSeq: [$invite_cseq] INVITE\nContent-Length: 0")
    return ('  <label id="cancelled"/>\n' + send(ok) + send(terminated) + '  <recv request="ACK"/>\n'
            + nop("OUTCOME cancelled [call_id]", next_label="end"))


def _bye_from_desk() -> str:
    # to the caller's Contact, through the route set the INVITE's Record-Route made (none without a proxy)
    bye = ("BYE [next_url] SIP/2.0\nVia: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
           "From: [$local_to];tag=[pid]SIPpTag01[call_number]\nTo: [$remote_from]\nCall-ID: [call_id]\n"
           "[routes]\nCSeq: 101 BYE\n" + _CONTACT + "Max-Forwards: 70\nContent-Length: 0")
    return ('  <label id="local_bye"/>\n' + send(bye, retrans=True)
            + '  <recv request="BYE" optional="true" next="remote_bye"/>\n'
            + '  <recv response="200"/>\n' + nop("OUTCOME local_bye [call_id]", next_label="end"))


def _remote_bye() -> str:
    ok = "SIP/2.0 200 OK\n[last_Via:]\n[last_From:]\n[last_To:]\n[last_Call-ID:]\n[last_CSeq:]\nContent-Length: 0"
    return '  <label id="remote_bye"/>\n' + send(ok) + nop("OUTCOME remote_bye [call_id]", next_label="end")


def build_desk_xml(*, ring_seconds: float = 1.0, talk_seconds: float = 5.0,
                   hangup: DeskHangup | str = DeskHangup.LOCAL, sdp_port: int | None = None,
                   speak: str | Path | None = None) -> str:
    """The desk scenario's XML.

    ``sdp_port`` puts a fixed port in the answer's SDP instead of SIPp's media
    port, so that a test can receive the caller's RTP on a socket of its own. ``speak``: a pcap of RTP audio the
    phone sends once it has answered (a citizen speaking).
    """
    mode = DeskHangup(hangup)
    captures = {DeskHangup.BUSY: (), DeskHangup.NOANSWER: ("invite_cseq",)}.get(mode, tuple(_CAPTURES))
    xml = '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="hotline desk">\n' + _invite(captures)
    if mode is DeskHangup.BUSY:
        xml += send("SIP/2.0 486 Busy Here\n" + _REPLY + "Content-Length: 0")
        xml += '  <recv request="ACK"/>\n' + nop("OUTCOME busy [call_id]", next_label="end")
    else:
        xml += send("SIP/2.0 180 Ringing\n" + _REPLY + _CONTACT + "Content-Length: 0")
        if mode is DeskHangup.NOANSWER:
            xml += '  <recv request="CANCEL" next="cancelled"/>\n'
        else:
            ring_ms = max(int(ring_seconds * 1000), 1)
            xml += (f'  <recv request="CANCEL" timeout="{ring_ms}" ontimeout="answer" next="cancelled"/>\n'
                    '  <label id="answer"/>\n')
            sdp = SDP.format(port=sdp_port if sdp_port else "[media_port]").strip("\n")
            ok = ("SIP/2.0 200 OK\n" + _REPLY + _CONTACT
                  + "Content-Type: application/sdp\nContent-Length: [len]\n\n" + sdp)
            xml += nop("ANSWERED [call_id]") + send(ok, retrans=True)
            xml += '  <recv request="ACK" crlf="true"/>\n'
            if speak is not None:
                xml += (f'  <nop><action><exec play_pcap_audio={quoteattr(str(Path(speak).resolve()))}/>'
                        '</action></nop>\n')
            if mode is DeskHangup.LOCAL:
                xml += interruptible_wait(int(talk_seconds * 1000), "talked") + '  <nop next="local_bye"/>\n'
            else:
                xml += '  <recv request="BYE" next="remote_bye"/>\n'
            xml += _bye_from_desk() + _remote_bye()
        xml += _cancelled()
    xml += '  <label id="end"/>\n' + nop("END [call_id]")
    return xml + "</scenario>\n"


def write_desk_scenario(workdir: str | Path, **options: object) -> Path:
    """Write ``desk.xml`` into ``workdir``; see :func:`build_desk_xml`."""
    path = Path(workdir) / "desk.xml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(build_desk_xml(**options), encoding="iso-8859-1")  # type: ignore[arg-type]
    return path
