"""The accuracy run's own hotline: a settings copy on ports of its own, the real stack, a closed-hours clock.

Everything lives in one temporary directory under /var/tmp (Asterisk runs as its own user and
must reach it), and the ports are neither the integration tests' (SIP 5060, HTTP 8088, AMI 5038,
AGI 4573, RTP 10000-20000) nor bench/ivr_load's (5160, 8188, 5138, 4673, 20000-30000). Redis is
the stack's own redis-server (``tests.support.stack.Stack``), on a free port.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import ownstack

from hotline.config.settings import ENV_OVERRIDES
from tests.support.stack import ROOT, Stack

PORTS = {("sip", "port"): 5260, ("asterisk", "http_port"): 8288, ("asterisk", "ami_port"): 5238,
         ("agi", "port"): 4773, ("asterisk", "rtp_start"): 30000, ("asterisk", "rtp_end"): 40000,
         ("console", "port"): 8290}
#: A closed-hours instant on the hotline clock (a Saturday): callers are offered voicemail.
SATURDAY = datetime.fromisoformat("2026-11-28T10:00:00+07:00")
TAG = "   # bench/transcribe --accuracy"


def settings_copy(source: Path, base: Path) -> Path:
    """``source`` with the bench's ports and paths (absolute; state and recordings under ``base``)."""
    return ownstack.settings_copy(source, base, {k: str(v) for k, v in PORTS.items()}, TAG)


class PhoneStack(ownstack.OwnStack):
    """The bench's own stack on a Saturday of the hotline clock."""

    @classmethod
    def create(cls, vosk_model: Path | None) -> PhoneStack:
        """``vosk_model``: the Vietnamese Vosk model the worker gets when run with Vosk (None: none)."""
        def prepare(stack: Stack) -> None:
            if vosk_model is not None:
                stack.env["HOTLINE_VOSK_MODEL"] = str(vosk_model)
            ownstack.check_ports(stack, PORTS)

        # the caller's overrides would move the bench onto others' ports
        overrides = [name for name in ENV_OVERRIDES if name != "HOTLINE_ASTERISK_ROOT"]
        return cls.make("hotline-transcribe-accuracy-", lambda base: settings_copy(ROOT / "province.toml", base),
                        overrides, SATURDAY, prepare)
