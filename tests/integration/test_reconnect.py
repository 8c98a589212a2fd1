"""Asterisk restarted under the running hotline: the ARI application and the monitor come back by themselves.

Asterisk is stopped (`core stop now`, so its ARI WebSocket and AMI sessions close) while the stack's
ARI app and monitor keep running; each test waits until the process has been refused a few times with a
growing delay, starts Asterisk again, and checks that the same process reconnects and does its work:
the app answers a call and runs the IVR; the monitor logs in to AMI again and the next operator change
reaches Redis (`[redis] live_channel` and its snapshot). Queue members come back as after any restart of
Asterisk (`restore_logins`, as `hotline up` does).
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.support.calls import call, menu_starts
from tests.support.cli import hotline
from tests.support.stack import Stack, wait_for
from tooling.sipp.scenario import HangUp, Keys, Wait

pytestmark = pytest.mark.asterisk

#: ari_app/app.py: "ARI unavailable (…); retrying in 1.0 s", the delay doubling (±20 %) up to 10 s.
ARI_RETRY = re.compile(rb"ARI unavailable \(.*\); retrying in ([\d.]+) s")
#: hotline/adapters/ami/listener.py: "AMI not reachable at HOST:PORT; next try in 2 s", doubling up to 30 s.
AMI_RETRY = re.compile(rb"AMI not reachable at \S+; next try in (\d+) s")
OPERATOR = "op-rc-son"


def read_from(path: Path, offset: int) -> bytes:
    with path.open("rb") as f:
        f.seek(offset)
        return f.read()


def size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def restart_asterisk(stack: Stack, while_down: Callable[[], None]) -> None:
    """Stop Asterisk, run ``while_down``, start it again and put the logged-in operators back in its queue."""
    assert stack.asterisk is not None
    stack.asterisk.stop()
    try:
        while_down()
    finally:
        stack.asterisk.start()
        stack.operators.restore_logins()


def delays(pattern: re.Pattern[bytes], log: Path, mark: int, at_least: int) -> list[float] | None:
    """The retry delays logged since ``mark``, once there are ``at_least`` of them."""
    found = [float(d) for d in pattern.findall(read_from(log, mark))]
    return found if len(found) >= at_least else None


def test_the_ari_app_reconnects_with_backoff_and_answers_the_next_call(open_hours: Stack, workdir: Path) -> None:
    stack = open_hours
    log, app = stack.logs / "ari_app.log", stack.procs["ari_app"]
    mark = size(log)
    refused: list[float] = []

    def down() -> None:
        refused.extend(wait_for(lambda: delays(ARI_RETRY, log, mark, 3), 30,
                                "the ARI app to be refused three times"))
    restart_asterisk(stack, down)
    wait_for(lambda: b"connected to ARI as app" in read_from(log, mark), 30, "the ARI app to connect again")
    wait_for(stack.app_registered, 20, "Asterisk to list the app again")

    assert app.poll() is None and stack.procs["ari_app"] is app        # the same process came back by itself
    # each delay about twice the one before (a random ±20 %), never above the cap
    assert all(b >= 1.5 * a or b >= 8.0 for a, b in zip(refused, refused[1:], strict=False)), refused
    assert all(d <= 12.0 for d in refused), refused
    result = call(stack, [Wait(menu_starts(stack)), Keys("9"), Wait(2), HangUp()], caller="0910000555",
                  workdir=workdir)
    assert result.ok, result.problems
    row = stack.ended_call("0910000555")
    assert row["disposition"] == "abandoned_ivr"                        # not the dialplan's app_fallback
    assert [(step["node"], step["keys"]) for step in row["ivr_path"]] == [("main", "9")]


@pytest.fixture()
def operator(stack: Stack) -> Iterator[str]:
    hotline(stack, "operators", "add", OPERATOR, "--name", "Võ Văn Sơn", "--contact",
            f"sip:{OPERATOR}@127.0.0.1:5999")
    try:
        yield OPERATOR
    finally:
        listed = {row["name"]: row for row in json.loads(hotline(stack, "operators", "list", "--json"))}
        if listed[OPERATOR]["state"] != "logged_out":
            hotline(stack, "operators", "logout", OPERATOR)
        hotline(stack, "operators", "remove", OPERATOR)


def test_the_monitor_logs_in_to_ami_again_and_the_next_change_reaches_redis(stack: Stack, operator: str) -> None:
    log, monitor = stack.logs / "monitor.log", stack.procs["monitor"]
    mark = size(log)
    refused: list[float] = []

    def down() -> None:
        wait_for(lambda: b"AMI connection lost" in read_from(log, mark), 15, "the monitor to see AMI go")
        refused.extend(wait_for(lambda: delays(AMI_RETRY, log, mark, 2), 30,
                                "the monitor to be refused twice"))
    restart_asterisk(stack, down)
    wait_for(lambda: b"AMI logged in" in read_from(log, mark), 60, "the monitor to log in to AMI again")
    assert monitor.poll() is None and stack.procs["monitor"] is monitor
    assert refused[:2] == [2, 4], refused                                # the delay doubles

    client = redis.Redis.from_url(stack.redis_url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(stack.ctx.settings.live_node_channel)
    try:
        pubsub.get_message(timeout=1.0)         # the subscription is confirmed before the change
        hotline(stack, "operators", "login", operator)
        wait_for(lambda: _about(pubsub, operator, "available"), 10, f"the monitor to publish {operator}'s login")
        snapshot = json.loads(client.get(stack.ctx.settings.live_snapshot_key) or b"{}")
        assert {"operator": operator, "state": "available"}.items() <= next(
            o for o in snapshot["operators"] if o["operator"] == operator).items()
    finally:
        pubsub.close()
        client.close()


def _about(pubsub: Any, operator: str, state: str) -> dict[str, Any] | None:
    """The next message on the channel if it says ``operator`` is now in ``state``."""
    message = pubsub.get_message(timeout=0.2)
    if message is None:
        return None
    data = json.loads(message["data"])
    wanted = data.get("type") == "operator" and data.get("operator") == operator and data.get("state") == state
    return data if wanted else None
