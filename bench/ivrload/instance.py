"""The bench's own hotline: a settings copy on other ports, the baseline IVR, the real stack.

Everything lives in one temporary directory, so the bench never shares a port, a
state directory, a database or a recording with the integration tests that may be
running on the default ports at the same time.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import ownstack

from hotline.config.settings import load_settings
from tests.support.stack import ROOT, Stack

#: Ports of the bench's instance (the tests use 5060, 8088, 5038, 4573 and RTP 10000-20000).
PORTS = {("sip", "port"): 5160, ("asterisk", "http_port"): 8188, ("asterisk", "ami_port"): 5138,
         ("agi", "port"): 4673, ("asterisk", "rtp_start"): 20000, ("asterisk", "rtp_end"): 30000}
#: The bench's queue settings: no after-call work, so that an operator is free the moment they hang
#: up (app_queue counts wrap-up in whole seconds from the member's last call; 0 turns it off).
QUEUE_SETTINGS = {("queue", "wrapup_seconds"): "0"}
#: The number that reaches the plain-dialplan baseline, in the bench's Asterisk only.
BASELINE_NUMBER = "99991022"
#: The Redis database the bench's monitor writes to (the others use the settings' own, 0 by default).
REDIS_DB = 15
#: A staffed instant on the hotline clock (a Wednesday, not a holiday): callers get the menu.
STAFFED = datetime.fromisoformat("2026-11-25T10:00:00+07:00")
#: Environment variables that would override the bench's settings copy.
OVERRIDES = ("HOTLINE_SIP_PORT", "HOTLINE_FLOW", "HOTLINE_DIRECTORY", "HOTLINE_STATE_DIR",
             "HOTLINE_RECORDINGS_ROOT", "HOTLINE_DATABASE_URL", "HOTLINE_REDIS_URL", "HOTLINE_FAKE_NOW",
             "HOTLINE_FAKE_ANCHOR")

BASELINE_DIALPLAN = """\
; Written by bench/ivr_load into its own Asterisk only (a production instance has no such file).
; Why: the plain-dialplan IVR the ARI app is measured against. Lets in: the bench number
; {number}, added to the citizens' context of this instance only.
[from-citizens](+)
exten => {number},1,Goto(bench-baseline,start,1)

; Why: what [hotline] and the app do until the caller's first key, done by the dialplan alone:
; answer, record the whole call (MixMonitor), welcome and recording notice, the main menu
; read for one key (9 repeats it), then hold until the caller hangs up (or {guard} s pass).
; Lets in: nothing directly (entered by Goto only).
[bench-baseline]
exten => start,1,NoOp(Bench baseline call from ${{CALLERID(num)}})
 same => n,Set(CALL_ID=${{UNIQUEID}})
 same => n,Set(CALL_EPOCH=$[${{EPOCH}} + ${{CLOCK_OFFSET}}])
 same => n,Set(CALL_DAY=${{STRFTIME(${{CALL_EPOCH}},${{HOTLINE_TZ}},%Y/%m/%d)}})
 same => n,Set(REC_FILE=${{RECROOT}}/bench-baseline/${{CALL_DAY}}/${{CALL_ID}}.wav)
 same => n,Answer()
 same => n,MixMonitor(${{REC_FILE}})
 same => n,Playback(${{PROMPTS}}/welcome&${{PROMPTS}}/recording_notice)
 same => n(menu),Read(KEY,${{PROMPTS}}/main_menu,1,,1,{digit_timeout})
 same => n,GotoIf($["${{KEY}}" = "9"]?menu)
 same => n,Wait($[{guard} - (${{EPOCH}} - ${{CALL_EPOCH}} + ${{CLOCK_OFFSET}})])
 same => n,Hangup()
"""


def settings_copy(source: Path, base: Path) -> Path:
    """``source`` with the bench's ports, queue settings, Redis database and paths (state under ``base``)."""
    redis_url = _own_redis_db(load_settings(source, env={}).redis.url)
    values = {**{k: str(v) for k, v in PORTS.items()}, **QUEUE_SETTINGS, ("redis", "url"): f'"{redis_url}"'}
    return ownstack.settings_copy(source, base, values, "   # bench/ivr_load")


def _own_redis_db(url: str) -> str:
    """The same Redis, database REDIS_DB: the bench's wall-board snapshot stays out of everyone else's."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        return url
    return urlunsplit(parts._replace(path=f"/{REDIS_DB}"))


class BenchInstance(ownstack.OwnStack):
    """The temporary directory, the settings copy and the started :class:`Stack`, with the baseline IVR."""

    @classmethod
    def create(cls, guard_seconds: float) -> BenchInstance:
        def baseline(stack: Stack) -> None:
            _check_ports(stack)
            conf = stack.state / "asterisk"
            conf.mkdir(parents=True, exist_ok=True)
            conf.chmod(0o755)
            (conf / "extensions_local.conf").write_text(
                BASELINE_DIALPLAN.format(number=BASELINE_NUMBER, guard=int(guard_seconds),
                                         digit_timeout=int(stack.ctx.settings.ivr.digit_timeout)),
                encoding="utf-8")

        return cls.make("hotline-bench-", lambda base: settings_copy(ROOT / "province.toml", base), OVERRIDES,
                        STAFFED, baseline)

    def logs_hint(self) -> str:
        """Where to look after a failure (the directory goes unless --keep)."""
        return f"{super().logs_hint()} (run again with --keep to keep them)"


def _check_ports(stack: Stack) -> None:
    ownstack.check_ports(stack, PORTS)
    s = stack.ctx.settings
    if s.queue.wrapup_seconds != float(QUEUE_SETTINGS[("queue", "wrapup_seconds")]):
        raise RuntimeError(f"the bench's [queue] wrapup_seconds did not take effect: {s.queue.wrapup_seconds}")
