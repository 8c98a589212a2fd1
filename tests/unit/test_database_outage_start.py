"""The processes on the call path (the ARI app, the AGI server, the monitor) start while the database is
away (issue 12, item 5). Found by tests/faults/test_postgres_outage.py: restarted during a PostgreSQL outage,
each one exited at its start-up migration (connection refused), and a caller would have met the dialplan's
fallback instead of the IVR. A command such as ``hotline db upgrade`` still fails loudly."""
from __future__ import annotations

import logging
import os
import socket
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import inspect, text

from hotline.adapters.db import open_database
from tests.support.stack import ROOT, wait_for
from tooling.system.assembly import command

#: What each process logs once it is past its database and serving.
STARTED = {"ari_app": "hotline ARI app starting", "agi": "FastAGI server listening", "monitor": "monitor starting"}


def _closed_port() -> int:
    """A port nothing listens on (connections refused at once, as by a stopped PostgreSQL)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _refused_url() -> str:
    return f"postgresql://postgres@127.0.0.1:{_closed_port()}/hotline"


def test_an_unreachable_database_still_stops_a_command_that_needs_it() -> None:
    with pytest.raises(sa_exc.OperationalError):
        open_database(_refused_url())


def test_a_process_on_the_call_path_opens_an_unreachable_database_and_says_so(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="hotline.db"):
        sessions = open_database(_refused_url(), tolerate_outage=True)
    assert "database unreachable at start" in caplog.text and "Connection refused" in caplog.text
    with pytest.raises(sa_exc.OperationalError), sessions() as s:    # its writes go to the spool
        s.execute(text("SELECT 1"))


def test_a_reachable_database_is_migrated_all_the_same(tmp_path: Path) -> None:
    sessions = open_database(f"sqlite:///{tmp_path}/hotline.db", tolerate_outage=True)
    with sessions() as s:
        assert {"calls", "voicemails", "tickets"} <= set(inspect(s.get_bind()).get_table_names())


@pytest.mark.parametrize("name", sorted(STARTED))
def test_the_process_starts_with_its_database_refusing_connections(name: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update({"HOTLINE_STATE_DIR": str(tmp_path / "state"), "HOTLINE_RECORDINGS_ROOT": str(tmp_path / "rec"),
                "HOTLINE_DATABASE_URL": _refused_url(), "PYTHONUNBUFFERED": "1",
                # nothing answers on these either: the process waits for Asterisk and Redis as usual
                "HOTLINE_REDIS_URL": f"redis://127.0.0.1:{_closed_port()}/0",
                **{key: str(_closed_port()) for key in ("HOTLINE_HTTP_PORT", "HOTLINE_AMI_PORT", "HOTLINE_AGI_PORT")}})
    out = tmp_path / f"{name}.log"
    with out.open("wb") as log:
        proc = subprocess.Popen(command(name, env["HOTLINE_REDIS_URL"], "transcribe"), cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: STARTED[name] in out.read_text(errors="replace") or proc.poll() is not None, 30,
                 f"{name} to start")
        assert proc.poll() is None, out.read_text(errors="replace")[-2000:]
        assert "database unreachable at start" in out.read_text(errors="replace")
    finally:
        proc.terminate()
        proc.wait(timeout=15)
