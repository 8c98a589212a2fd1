"""The ARI WebSocket between the app and Asterisk dropped silently (issue 12): no FIN, no RST, the
bytes stop. The app must see it within 10 s, reconnect, and close what ended in the gap: a caller who
hung up meanwhile has a closed row and their message a ticket.

A TCP proxy of the test's own (tests/support/tcp_proxy.py) sits between the real ARI app and the real
Asterisk and stops forwarding without closing; the real caller is a SIPp phone.
"""
from __future__ import annotations

import subprocess
import time
from datetime import datetime
from pathlib import Path

from tests.support.calls import recording_starts, start
from tests.support.stack import Stack, wait_for
from tests.support.tcp_proxy import TcpProxy
from tooling.sipp.scenario import HangUp, Speak, Wait

SATURDAY = datetime.fromisoformat("2026-11-28T10:00:00+07:00")
DETECTED = ("ARI WebSocket closed", "ARI unavailable")


def test_a_silent_websocket_drop_is_seen_within_10_s_and_a_message_left_in_the_gap_is_a_ticket(
        stack: Stack, workdir: Path, speech: Path) -> None:
    stack.set_clock(SATURDAY)
    caller = "0960000301"
    s = stack.ctx.settings.asterisk
    log = stack.logs / "ari_app.log"
    with TcpProxy((s.http_bind, s.http_port)) as proxy:
        stack.kill("ari_app")
        stack.start_proc("ari_app", {**stack.app_env, "HOTLINE_HTTP_PORT": str(proxy.port)})
        try:
            wait_for(stack.app_registered, 20, "the app to register through the proxy")
            # Three seconds of speech, then a hangup: well inside the gap, which lasts at least the ping
            # interval after the last event (RecordingStarted, just before the drop).
            short = workdir / "short.wav"
            subprocess.run(["sox", str(speech), str(short), "trim", "0", "3"], check=True)
            c = start(stack, [Wait(recording_starts(stack)), Speak(short), HangUp()], caller=caller,
                      workdir=workdir / "c")

            def recording() -> bool:
                rows = stack.call_rows(caller)
                if not rows or rows[0]["node"] != "voicemail":
                    return False
                vm = Path(rows[0]["recording_file"]).with_suffix(".voicemail.wav")
                return vm.exists() and vm.stat().st_size > 44 + 8000 * 2 * 0.2
            wait_for(recording, 60, "the message to be recorded")
            mark = log.stat().st_size
            assert proxy.freeze() >= 1
            frozen = time.monotonic()

            def seen() -> bool:
                with log.open("rb") as f:
                    f.seek(mark)
                    text = f.read().decode(errors="replace")
                return any(line in text for line in DETECTED)
            wait_for(seen, 15, "the app to notice the dead WebSocket")
            detected = time.monotonic() - frozen
            assert c.result(60).ok          # the caller spoke, then hung up while the app heard nothing
            row = stack.ended_call(caller, timeout=60)
            closed = time.monotonic() - frozen
        finally:
            stack.kill("ari_app")
            stack.start_proc("ari_app")
            wait_for(stack.app_registered, 20, "the app to register again")
    print(f"silent WebSocket drop: seen after {detected:.1f} s, the call closed {closed:.1f} s after the drop")
    assert detected <= 10.0
    assert row["disposition"] == "voicemail"
    [vm] = row["voicemails"]
    assert vm["ticket"] and vm["duration"] >= 2.0
