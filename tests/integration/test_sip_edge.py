"""The SIP edge (issue 13, item 7): a source guessing a desk's password is banned by fail2ban's jail on
Asterisk's security log (nftables drops what it sends next); other sources are unaffected; an anonymous
caller's REFER is refused.

fail2ban runs as ``hotline up`` runs it (tooling/system/sip_guard.py: its own configuration, in the
foreground), on the stack's security log and SIP port; the guessing source is 127.0.0.77 (any 127/8
address is the machine's own on Linux, no alias needed). The ban, the table and fail2ban end in finally.
"""
from __future__ import annotations

import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.support.stack import Stack, wait_for
from tooling.sipp.process import SippFiles, SippProcess, base_command, free_media_port, free_udp_port
from tooling.system import sip_guard

pytestmark = pytest.mark.asterisk

GUESSER = "127.0.0.77"
BYSTANDER = "127.0.0.78"

_VIA = "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]"
_FROM_CALLER = "From: <sip:0930000777@[local_ip]>;tag=[pid]SIPpTag[call_number]"
_CALLING = (_FROM_CALLER, "To: <sip:1022@[remote_ip]>")
_IN_CALL = (_FROM_CALLER, "To: <sip:1022@[remote_ip]>[peer_tag_param]")
_CONTACT = "Contact: <sip:0930000777@[local_ip]:[local_port]>"
_SDP = """v=0
o=- 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000"""


def _send(request: str, cseq: str, from_to: tuple[str, str], *headers: str, body: str = "") -> str:
    """A SIPp ``<send>`` of one request of the scenario's call (retransmitted, but for an ACK)."""
    lines = [request, _VIA, *from_to, "Call-ID: [call_id]", f"CSeq: {cseq}", *headers, "Max-Forwards: 70",
             f"Content-Length: {'[len]' if body else '0'}", "", *([body, ""] if body else [])]
    retrans = "" if request.startswith("ACK ") else ' retrans="500"'
    return f"  <send{retrans}><![CDATA[\n" + "\n".join(lines) + "\n]]></send>\n"


def _scenario(name: str, *steps: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<scenario name="{name}">\n' + "".join(steps) + "</scenario>\n"


def _wrong_password(account: str) -> str:
    """A desk's REGISTER, then its answer to the challenge with a wrong password."""
    desk = (f"From: <sip:{account}@[remote_ip]>;tag=[pid]SIPpTag[call_number]", f"To: <sip:{account}@[remote_ip]>")
    register = "REGISTER sip:[remote_ip]:[remote_port] SIP/2.0"
    contact = f"Contact: <sip:{account}@[local_ip]:[local_port]>"
    return _scenario(
        "a wrong password for a desk",
        _send(register, "1 REGISTER", desk, contact, "Expires: 60"),
        '  <recv response="401" auth="true"/>\n',
        _send(register, "2 REGISTER", desk, contact, f"[authentication username={account} password=not-the-password]",
              "Expires: 60"),
        '  <recv response="401" optional="true" next="refused"/>\n  <recv response="403"/>\n  <label id="refused"/>\n')


_REFER = _scenario(
    "an anonymous caller asks to be transferred",
    _send("INVITE sip:1022@[remote_ip]:[remote_port] SIP/2.0", "1 INVITE", _CALLING, _CONTACT,
          "Content-Type: application/sdp", body=_SDP),
    '  <recv response="100" optional="true"/>\n  <recv response="180" optional="true"/>\n'
    '  <recv response="183" optional="true"/>\n  <recv response="200" rtd="true" rrs="true"/>\n',
    _send("ACK sip:1022@[remote_ip]:[remote_port] SIP/2.0", "1 ACK", _IN_CALL),
    '  <pause milliseconds="1000"/>\n',
    _send("REFER sip:1022@[remote_ip]:[remote_port] SIP/2.0", "2 REFER", _IN_CALL, _CONTACT,
          "Refer-To: <sip:0999999999@[remote_ip]>", "Referred-By: <sip:0930000777@[local_ip]>"),
    '  <recv response="603"/>\n',
    _send("BYE sip:1022@[remote_ip]:[remote_port] SIP/2.0", "3 BYE", _IN_CALL),
    '  <recv response="200"/>\n')


def _sipp(stack: Stack, workdir: Path, name: str, xml: str, local_ip: str, calls: int) -> SippProcess:
    scenario = workdir / f"{name}.xml"
    scenario.write_text(xml, encoding="utf-8")
    files = SippFiles(workdir, name)
    argv = base_command(scenario, files, local_ip=local_ip, local_port=free_udp_port(),
                        media_port=free_media_port(), timeout=30)
    argv += ["127.0.0.1:" + str(stack.ctx.settings.sip.port), "-m", str(calls), "-l", "1", "-r", "10"]
    return SippProcess(argv, files, role=name)


def _request(method: str, uri: str, sender: str, via: tuple[str, int], call_id: str, to: str | None = None,
             contact: str | None = None) -> bytes:
    """One SIP request over UDP from ``via`` (address, port), its branch and tag taken from ``call_id``."""
    lines = [f"{method} {uri} SIP/2.0", f"Via: SIP/2.0/UDP {via[0]}:{via[1]};branch=z9hG4bK{call_id[:12]}",
             f"From: {sender};tag={call_id[:8]}", f"To: {to or f'<{uri}>'}", f"Call-ID: {call_id}",
             f"CSeq: 1 {method}", *([f"Contact: {contact}"] if contact else []), "Max-Forwards: 70",
             "Content-Length: 0"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _answers(source: str, port: int, timeout: float) -> bool:
    """Whether Asterisk answers an OPTIONS sent from ``source`` within ``timeout`` seconds."""
    call_id = uuid.uuid4().hex
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        local = sock.getsockname()[1]
        sock.settimeout(timeout)
        sock.sendto(_request("OPTIONS", f"sip:127.0.0.1:{port}", f"<sip:probe@{source}>", (source, local), call_id),
                    ("127.0.0.1", port))
        try:
            return call_id.encode() in sock.recv(4096)
        except TimeoutError:
            return False


@pytest.fixture()
def guard(stack: Stack, tmp_path: Path) -> Iterator[sip_guard.Guard]:
    """fail2ban and the nftables table on the stack's SIP port, as hotline up starts them."""
    base = sip_guard.Guard.from_settings(stack.ctx.settings, stack.state)
    guard = replace(base, conf_dir=tmp_path / "fail2ban", ban_minutes=2)
    sip_guard.install_firewall(guard)
    sip_guard.render_fail2ban(guard)
    log = open(tmp_path / "fail2ban.log", "wb")
    server = subprocess.Popen(sip_guard.fail2ban_command(guard), stdout=log, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: b"Jail 'hotline-sip' started" in (tmp_path / "fail2ban.log").read_bytes(), 15,
                 "fail2ban's jail to start")
        yield guard
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        sip_guard.remove_firewall(guard)


def test_a_source_guessing_a_desks_password_is_banned_and_others_are_not(
        stack: Stack, guard: sip_guard.Guard, tmp_path: Path) -> None:
    port = guard.sip_port
    assert _answers(GUESSER, port, 2) and _answers(BYSTANDER, port, 2)
    guesses = _sipp(stack, tmp_path, "guesses", _wrong_password("desk-d01"), GUESSER, guard.max_failures)
    assert guesses.wait(30) == 0, guesses.problems()      # each wrong password answered (refused) by Asterisk
    refused_at = time.monotonic()
    wait_for(lambda: GUESSER in sip_guard.banned(guard), 10, f"{GUESSER} banned within 10 s")
    banned_after = time.monotonic() - refused_at
    assert not _answers(GUESSER, port, 2)                  # its next packet gets no answer
    assert _answers(BYSTANDER, port, 2) and _answers("127.0.0.1", port, 2)
    bystander = _sipp(stack, tmp_path, "bystander", _wrong_password("desk-d02"), BYSTANDER, 1)
    assert bystander.wait(30) == 0, bystander.problems()   # one wrong password is no ban
    assert BYSTANDER not in sip_guard.banned(guard)
    print(f"banned {banned_after:.1f} s after the {guard.max_failures}th wrong password")


def _invite_flood(source: str, port: int, count: int) -> int:
    """Send ``count`` INVITEs at once from ``source`` (to a number that is not the hotline's: nothing is answered
    for long), and return how many Asterisk answered."""
    ids = [uuid.uuid4().hex for _ in range(count)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        local = sock.getsockname()[1]
        for call_id in ids:
            sock.sendto(_request("INVITE", f"sip:0000@127.0.0.1:{port}", f"<sip:0930000999@{source}>", (source, local),
                                 call_id, to="<sip:0000@127.0.0.1>", contact=f"<sip:0930000999@{source}:{local}>"),
                        ("127.0.0.1", port))
        answered: set[bytes] = set()
        sock.settimeout(0.2)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                reply = sock.recv(65535)
            except TimeoutError:
                continue
            answered |= {call_id.encode() for call_id in ids if call_id.encode() in reply}
    return len(answered)


def test_a_flood_of_invites_from_one_source_is_cut_to_its_rate(stack: Stack, guard: sip_guard.Guard) -> None:
    answered = _invite_flood("127.0.0.79", guard.sip_port, 200)
    burst = 2 * guard.invites_per_second
    assert burst <= answered <= burst + 2 * guard.invites_per_second, answered   # the burst, then the rate
    assert _answers(BYSTANDER, guard.sip_port, 2)          # another source is not limited
    print(f"{answered} of 200 INVITEs sent at once answered (burst {burst}, {guard.invites_per_second}/s)")


def test_an_anonymous_caller_cannot_transfer_the_call(open_hours: Stack, tmp_path: Path) -> None:
    refer = _sipp(open_hours, tmp_path, "refer", _REFER, "127.0.0.1", 1)
    assert refer.wait(30) == 0, refer.problems()           # REFER answered 603 Declined, then the call ends
