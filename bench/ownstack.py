"""A bench's own hotline: a settings copy on ports of its own, in one temporary directory, and the real stack.

The directory lives under /var/tmp (Asterisk runs as its own user and must reach it), so a bench never
shares a port, a state directory, a database or a recording with the integration tests, which may be
running on the default ports at the same time. bench/ivr_load and ``bench/transcribe --accuracy`` use it.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Self

from hotline.config.settings import load_settings
from tests.support.stack import Stack

Key = tuple[str, str]


def settings_copy(source: Path, base: Path, values: dict[Key, str], tag: str) -> Path:
    """``source`` with ``values`` (TOML literals by section and key) and absolute paths, the state and the
    recordings under ``base``; comments kept, each line the bench wrote ending in ``tag``."""
    resolved = load_settings(source, env={})
    paths = {("paths", key): str(getattr(resolved.paths, key)) for key in ("flow", "directory", "prompts_dir")}
    paths |= {("paths", "state_dir"): str(base / "state"), ("paths", "recordings_root"): str(base / "recordings")}
    wanted = {**values, **{k: f'"{v}"' for k, v in paths.items()}}
    lines: list[str] = []
    section = ""
    for line in source.read_text(encoding="utf-8").splitlines():
        header = re.match(r"\s*\[([A-Za-z_]+)\]\s*(#.*)?$", line)
        if header:
            lines += _pop_section(wanted, section, tag)
            section = header[1]
        key = re.match(r"\s*([A-Za-z_]+)\s*=", line)
        if key and (section, key[1]) in wanted:
            line = f"{key[1]} = {wanted.pop((section, key[1]))}{tag}"
        lines.append(line)
    lines += _pop_section(wanted, section, tag)
    for absent in dict.fromkeys(sec for sec, _key in wanted):
        lines += ["", f"[{absent}]{tag}", *_pop_section(wanted, absent, tag)]
    dest = base / "province.toml"
    dest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dest


def _pop_section(wanted: dict[Key, str], section: str, tag: str) -> list[str]:
    """Lines for the keys of ``section`` the file left out (they go at the end of that section)."""
    keys = [k for k in wanted if k[0] == section]
    return [f"{key} = {wanted.pop((sec, key))}{tag}" for sec, key in keys]


def check_ports(stack: Stack, ports: dict[Key, int]) -> None:
    """Fail unless the stack's settings hold the bench's ``ports`` (an override would move it onto others')."""
    s = stack.ctx.settings
    got = {(section, key): getattr(getattr(s, section), key) for section, key in ports}
    if got != ports:
        raise RuntimeError(f"the bench's settings copy did not take effect: {got} != {ports}")


@dataclass
class OwnStack:
    """The temporary directory, the settings copy and the :class:`Stack` (Asterisk, ARI app, AGI, monitor)."""

    base: Path
    stack: Stack
    clock: datetime     # the hotline clock's instant the stack starts on

    @classmethod
    def make(cls, prefix: str, write_settings: Callable[[Path], Path], overrides: Iterable[str],
             clock: datetime, prepare: Callable[[Stack], None]) -> Self:
        """A directory named ``prefix``…, the settings ``write_settings(base)`` writes there (the environment's
        ``overrides`` dropped), and ``prepare(stack)`` before anything starts; the directory goes on a failure."""
        base = Path(tempfile.mkdtemp(prefix=prefix, dir="/var/tmp"))
        base.chmod(0o755)   # Asterisk runs as its own user and must reach the state directory
        try:
            settings = write_settings(base)
            for name in overrides:
                os.environ.pop(name, None)
            os.environ["HOTLINE_SETTINGS"] = str(settings)
            stack = Stack(base)
            prepare(stack)
        except BaseException:
            shutil.rmtree(base, ignore_errors=True)
            raise
        return cls(base, stack, clock)

    def start(self) -> None:
        """Start Asterisk, Redis and the app processes, on the bench's instant of the hotline clock."""
        self.stack.start()
        self.stack.set_clock(self.clock)

    def logs_hint(self) -> str:
        """Where to look after a failure."""
        return f"{self.stack.logs} and {self.stack.state / 'log'}"

    def close(self, keep: bool = False) -> None:
        """Stop everything it started (safe after a failed start); delete the directory unless ``keep``."""
        try:
            self.stack.stop()
        finally:
            if not keep:
                shutil.rmtree(self.base, ignore_errors=True)
