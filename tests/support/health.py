"""`hotline status` as the fault tests run it, and settings of a test's own for `hotline watch`'s alerts."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .stack import ROOT, Stack


def status(stack: Stack, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    """``hotline status --json`` on the stack's current clock (or ``env``): its exit code and its report."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "hotline.cli.main", "status", "--json"], cwd=ROOT,
                          env=env or stack.app_env, capture_output=True, text=True, timeout=60)
    took = time.monotonic() - started
    assert took < 15, f"hotline status took {took:.1f} s"       # the checks' deadline (3 s) plus Python's start
    return done.returncode, json.loads(done.stdout)


def watch_settings(folder: Path, smtp_port: int, after_seconds: float, check_seconds: float,
                   extra: str = "") -> Path:
    """The shipped settings with the given [alerts], the test's SMTP server and supervisors, and ``extra``
    (more TOML tables), written to ``folder``/province.toml."""
    text = (ROOT / "province.toml").read_text(encoding="utf-8").replace('= "ivr_flows/', f'= "{ROOT}/ivr_flows/')
    text += (f"\n[alerts]\nafter_seconds = {after_seconds}\ncheck_seconds = {check_seconds}\n\n"
             f'[notifications]\nsmtp_host = "127.0.0.1"\nsmtp_port = {smtp_port}\nsender = "tongdai1022@localhost"\n'
             'supervisors = ["giamsat@example.vn"]\n')
    if extra:
        text += "\n" + extra.strip() + "\n"
    path = folder / "province.toml"
    path.write_text(text, encoding="utf-8")
    return path
