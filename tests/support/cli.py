"""The hotline command line as the tests run it: on the stack's settings and its current clock."""
from __future__ import annotations

import subprocess
import sys

from .ports import Phone
from .stack import ROOT, Stack


def hotline(stack: Stack, *args: str) -> str:
    """Run ``hotline ARGS`` on the stack's current clock; fail the test on a non-zero exit."""
    done = subprocess.run([sys.executable, "-c", "from hotline.cli.main import main; main()", *args], cwd=ROOT,
                          env=stack.app_env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def add_operator(stack: Stack, phone: Phone, full_name: str) -> None:
    """``hotline operators add``: the operator ``phone.name`` reached at the SIPp phone's contact."""
    hotline(stack, "operators", "add", phone.name, "--name", full_name, "--contact", phone.contact)
