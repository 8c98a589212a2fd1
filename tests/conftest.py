"""Fixtures shared by every test: a real database, SQLite and PostgreSQL alike; and, for the integration
and fault tests, one real Asterisk per test worker (the stack), the real app processes, SIPp callers."""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import add_operator, hotline
from tests.support.ports import Phones
from tests.support.stack import Stack, stack_index
from tooling.sipp.runner import start_uas

PG_URL = os.environ.get("HOTLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/hotline_test")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A PostgreSQL database for the suite (started and created by the project's own set-up code)."""
    from tests.support.db import per_stack
    from tooling.system.services import ensure_postgres
    url = per_stack(PG_URL)
    ensure_postgres(url, lambda _m: None)
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or the PostgreSQL test database with a clean schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/hotline.db"
        return
    from tests.support.db import fresh_postgres
    yield fresh_postgres(request.getfixturevalue("postgres_url"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark ``asterisk`` every test that runs on the stack (a conftest's pytestmark marks nothing; the tests
    of the worker and of the console alone, test_ticket_reminders and test_console_browser, need no Asterisk);
    then order the files longest first."""
    for item in items:
        if "stack" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.asterisk)
    # The longest files first (tests.support.durations), each file's tests in their own order: the test stacks
    # then finish together instead of one running the last long file alone.
    from tests.support.durations import file_costs, read_table
    costs = file_costs(((item.nodeid.split("::")[0], item.get_closest_marker("asterisk") is not None)
                        for item in items), read_table())
    items.sort(key=lambda item: -costs[item.nodeid.split("::")[0]])


def _base_dir() -> Path:
    # Bind-mounted into the Asterisk root: keep it short and outside the checkout.
    base = Path(tempfile.mkdtemp(prefix="hotline-it-", dir="/var/tmp"))
    base.chmod(0o755)   # Asterisk runs as its own user and must reach the state directory
    return base


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    if os.geteuid() != 0:
        pytest.fail("integration tests run Asterisk in a chroot with bind mounts: run them as root "
                    "(scripts/test does)")
    base = _base_dir()
    url = os.environ.get("HOTLINE_TEST_DATABASE_URL")
    if url and url.startswith("postgresql"):
        from tests.support.db import fresh_postgres, per_stack
        url = fresh_postgres(per_stack(url))
    s = Stack(base, database_url=url)
    try:
        s.start()
        yield s
    finally:
        s.stop()
        artifacts = Path(os.environ.get("HOTLINE_TEST_ARTIFACTS", "test-artifacts")) / "integration-logs"
        if stack_index():
            artifacts = artifacts / f"stack{stack_index()}"
        artifacts.mkdir(parents=True, exist_ok=True)
        for log in list(s.logs.glob("*.log")) + list((s.state / "log").glob("*.log")):
            shutil.copy(log, artifacts / log.name)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def phone_ports() -> Phones:
    """SIPp operator phones: a port of its own for each name, on this stack's ports."""
    return Phones()


@pytest.fixture()
def open_hours(stack: Stack) -> Stack:
    """The hotline clock on a Wednesday at 10:00 (staffed), whatever the real time."""
    from datetime import datetime
    stack.set_clock(datetime.fromisoformat("2026-11-25T10:00:00+07:00"))
    return stack


@pytest.fixture()
def browser() -> Iterator[Any]:
    """A new headless Chromium (tests/support/browser.py), closed after the test."""
    from tests.support.browser import chromium
    with chromium() as b:
        yield b


@pytest.fixture()
def workdir(tmp_path: Path) -> Path:
    return tmp_path


SPEECH = ("Tôi là Nguyễn Văn Bình ở phường Mỹ Phú, thành phố Cao Lãnh. Tôi muốn hỏi về thủ tục "
          "cấp giấy chứng nhận quyền sử dụng đất. Số điện thoại của tôi là không chín một hai.")


@pytest.fixture(scope="session")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A caller speaking Vietnamese (espeak-ng), about 10 s: what a real phone sends as RTP."""
    from tests.support.calls import speech_wav
    return speech_wav(tmp_path_factory.mktemp("speech") / "message.wav", SPEECH)


RINGING_OPERATOR = "op-mp-lan"


def _logout_if_in(stack: Stack) -> None:
    """Log the ringing operator out, unless the test already did (or a test's fault did)."""
    import subprocess
    import sys

    from tests.support.stack import ROOT
    done = subprocess.run([sys.executable, "-c", "from hotline.cli.main import main; main()", "operators", "logout",
                           RINGING_OPERATOR], cwd=ROOT, env=stack.app_env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 or "is not logged in" in done.stderr + done.stdout, done.stderr + done.stdout


@pytest.fixture()
def ringing_operator(open_hours: Stack, workdir: Path, phone_ports: Phones) -> Iterator[str]:
    """An available operator whose phone rings and is never picked up: callers wait in the queue."""
    add_operator(open_hours, phone_ports.phone(RINGING_OPERATOR), "Trần Thị Lan")
    phone = start_uas(phone_ports.port(RINGING_OPERATOR), ring_seconds=600, workdir=workdir / "op")
    try:
        hotline(open_hours, "operators", "login", RINGING_OPERATOR)
        yield RINGING_OPERATOR
    finally:
        _logout_if_in(open_hours)
        phone.terminate()
        hotline(open_hours, "operators", "remove", RINGING_OPERATOR)
