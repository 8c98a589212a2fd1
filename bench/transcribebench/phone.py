"""The accuracy run's own hotline: a settings copy on ports of its own, the real stack, a closed-hours clock.

Everything lives in one temporary directory under /var/tmp (Asterisk runs as its own user and
must reach it), and the ports are neither the integration tests' (SIP 5060, HTTP 8088, AMI 5038,
AGI 4573, RTP 10000-20000) nor bench/ivr_load's (5160, 8188, 5138, 4673, 20000-30000). Redis is
the stack's own redis-server (``tests.support.stack.Stack``), on a free port.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from hotline.config.settings import ENV_OVERRIDES, load_settings
from tests.support.stack import ROOT, Stack

PORTS = {("sip", "port"): 5260, ("asterisk", "http_port"): 8288, ("asterisk", "ami_port"): 5238,
         ("agi", "port"): 4773, ("asterisk", "rtp_start"): 30000, ("asterisk", "rtp_end"): 40000,
         ("console", "port"): 8290}
#: A closed-hours instant on the hotline clock (a Saturday): callers are offered voicemail.
SATURDAY = datetime.fromisoformat("2026-11-28T10:00:00+07:00")
TAG = "   # bench/transcribe --accuracy"


def settings_copy(source: Path, base: Path) -> Path:
    """``source`` with the bench's ports and paths (absolute; state and recordings under ``base``)."""
    resolved = load_settings(source, env={})
    paths = {("paths", key): str(getattr(resolved.paths, key)) for key in ("flow", "directory", "prompts_dir")}
    paths |= {("paths", "state_dir"): str(base / "state"), ("paths", "recordings_root"): str(base / "recordings")}
    wanted = {**{k: str(v) for k, v in PORTS.items()}, **{k: f'"{v}"' for k, v in paths.items()}}
    lines: list[str] = []
    section = ""
    for line in source.read_text(encoding="utf-8").splitlines():
        header = re.match(r"\s*\[([A-Za-z_]+)\]\s*(#.*)?$", line)
        if header:
            lines += _pop_section(wanted, section)
            section = header[1]
        key = re.match(r"\s*([A-Za-z_]+)\s*=", line)
        if key and (section, key[1]) in wanted:
            line = f"{key[1]} = {wanted.pop((section, key[1]))}{TAG}"
        lines.append(line)
    lines += _pop_section(wanted, section)
    for absent in dict.fromkeys(sec for sec, _key in wanted):
        lines += ["", f"[{absent}]{TAG}", *_pop_section(wanted, absent)]
    dest = base / "province.toml"
    dest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dest


def _pop_section(wanted: dict[tuple[str, str], str], section: str) -> list[str]:
    """Lines for the keys of ``section`` the file left out (they go at the end of that section)."""
    keys = [k for k in wanted if k[0] == section]
    return [f"{key} = {wanted.pop((sec, key))}{TAG}" for sec, key in keys]


def _check_ports(stack: Stack) -> None:
    s = stack.ctx.settings
    got = {("sip", "port"): s.sip.port, ("asterisk", "http_port"): s.asterisk.http_port,
           ("asterisk", "ami_port"): s.asterisk.ami_port, ("agi", "port"): s.agi.port,
           ("asterisk", "rtp_start"): s.asterisk.rtp_start, ("asterisk", "rtp_end"): s.asterisk.rtp_end,
           ("console", "port"): s.console.port}
    if got != PORTS:
        raise RuntimeError(f"the bench's settings copy did not take effect: {got} != {PORTS}")


@dataclass
class PhoneStack:
    """The temporary directory, the settings copy and the :class:`Stack` (Asterisk, ARI app, AGI, monitor)."""

    base: Path
    stack: Stack

    @classmethod
    def create(cls, vosk_model: Path | None) -> PhoneStack:
        """``vosk_model``: the Vietnamese Vosk model the worker gets when run with Vosk (None: none)."""
        base = Path(tempfile.mkdtemp(prefix="hotline-transcribe-accuracy-", dir="/var/tmp"))
        base.chmod(0o755)   # Asterisk runs as its own user and must reach the state directory
        try:
            settings = settings_copy(ROOT / "province.toml", base)
            for name in ENV_OVERRIDES:      # the caller's overrides would move the bench onto others' ports
                if name != "HOTLINE_ASTERISK_ROOT":
                    os.environ.pop(name, None)
            os.environ["HOTLINE_SETTINGS"] = str(settings)
            stack = Stack(base)
            if vosk_model is not None:
                stack.env["HOTLINE_VOSK_MODEL"] = str(vosk_model)
            _check_ports(stack)
        except BaseException:
            shutil.rmtree(base, ignore_errors=True)
            raise
        return cls(base, stack)

    def start(self) -> None:
        """Asterisk, Redis and the app processes, on a Saturday of the hotline clock."""
        self.stack.start()
        self.stack.set_clock(SATURDAY)

    def logs_hint(self) -> str:
        return f"{self.stack.logs} and {self.stack.state / 'log'}"

    def close(self, keep: bool = False) -> None:
        """Stop everything it started (safe after a failed start); delete the directory unless ``keep``."""
        try:
            self.stack.stop()
        finally:
            if not keep:
                shutil.rmtree(self.base, ignore_errors=True)
