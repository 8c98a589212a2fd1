"""`hotline status` and the console's /healthz with each part stopped in turn, and the supervisors' alert
e-mails (issue 12, item 8), on the real stack: its Asterisk, ARI app, AGI server, monitor, RQ worker and
Redis, a real `hotline console` and a real `hotline watch` e-mailing a real SMTP server (aiosmtpd).

A part killed (SIGKILL, as a crash; the stack's own Redis stopped) is said down by both, `hotline status`
exits 1 and /healthz answers 503; restarted, both say all is well again (after Redis, which keeps nothing on
disk here, the worker registers in it again). A part down longer than ``[alerts] after_seconds`` sends one
alert e-mail and shows the wallboard's banner; its return sends one "resolved", and nothing more.
"""
from __future__ import annotations

import json
import logging
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hotline.services.alerts import AlertStore, alerts_dir, banner
from tests.support.browser import serve_console
from tests.support.health import status, watch_settings
from tests.support.smtp import SmtpSink, smtp_sink
from tests.support.stack import Stack, wait_for
from tooling.system.assembly import command

log = logging.getLogger("tests.faults.status")
AFTER_SECONDS = 4.0
CHECK_SECONDS = 1.0


def healthz(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def all_well(stack: Stack, url: str) -> bool:
    code, report = status(stack)
    http, public = healthz(url)
    return code == 0 and report["ok"] and http == 200 and public["ok"]


def down_in_both(stack: Stack, url: str, part: str) -> bool:
    code, report = status(stack)
    http, public = healthz(url)
    return (code == 1 and not report[part]["ok"] and bool(report[part]["problems"])
            and http == 503 and not public["components"][part]["ok"])


@pytest.fixture(scope="module")
def console(stack: Stack) -> Iterator[str]:
    stack.start_worker()
    with serve_console(stack) as url:
        yield url
    stack.kill("worker", signal.SIGTERM)


def stop(stack: Stack, part: str) -> None:
    if part == "redis":
        stack.stop_redis()
    else:
        stack.kill(part)


def restart(stack: Stack, part: str) -> None:
    if part == "worker":
        stack.start_worker()
    elif part == "redis":
        stack.start_redis()
    else:
        stack.start_proc(part, stack.app_env)


#: What else is down while a part is: the monitor's beat and the workers are read from Redis.
WITH = {"redis": {"monitor", "worker"}}


@pytest.mark.parametrize("part", ["ari_app", "agi", "monitor", "worker", "redis"])
def test_status_and_healthz_say_a_stopped_part_is_down_then_well_after_its_restart(stack: Stack, console: str,
                                                                                   part: str) -> None:
    wait_for(lambda: all_well(stack, console), 60, "hotline status and /healthz to say all is well", interval=1)
    code, report = status(stack)
    a = report["asterisk"]
    assert a["version"].startswith("22.") and a["uptime_seconds"] > 0 and a["channels"] >= 0, a
    assert report["worker"]["workers"] >= 1 and report["database"]["ok"] and report["disk"]["free_mb"] > 0
    stop(stack, part)
    killed = time.monotonic()
    # the monitor is seen by the age of its snapshot (rewritten every 5 s): at most MONITOR_STALE + a check
    wait_for(lambda: down_in_both(stack, console, part), 40, f"{part} said down by status and /healthz", interval=1)
    seen = time.monotonic() - killed
    assert seen < (30 if part == "monitor" else 10), f"{part} seen down after {seen:.1f} s"
    log.info("%s killed: said down by hotline status and /healthz after %.1f s", part, seen)
    code, report = status(stack)
    others = [name for name, value in report.items() if isinstance(value, dict) and not value["ok"]]
    assert set(others) == {part, *WITH.get(part, ())}, report       # nothing else is reported down
    restart(stack, part)
    restarted = time.monotonic()
    wait_for(lambda: all_well(stack, console), 60, f"all well after {part} restarted", interval=1)
    log.info("%s restarted: all well again after %.1f s", part, time.monotonic() - restarted)


# -- the alerts ------------------------------------------------------------------------------------

@pytest.fixture()
def sink() -> Iterator[SmtpSink]:
    with smtp_sink() as found:
        yield found


def test_a_part_down_longer_than_after_seconds_sends_one_alert_and_one_resolved(
        stack: Stack, console: str, sink: SmtpSink, tmp_path: Path) -> None:
    store = AlertStore(alerts_dir(stack.ctx.settings.paths.state_dir))
    env = {**stack.app_env, "HOTLINE_SETTINGS": str(watch_settings(tmp_path, sink.port, AFTER_SECONDS, CHECK_SECONDS))}
    wait_for(lambda: all_well(stack, console), 60, "all well before the watch starts", interval=1)
    stack.start_proc("watch", env, argv=command("watch", stack.redis_url, stack.ctx.settings.transcription.queue))
    try:
        def ticked_after(t: float) -> bool:
            state = store.read()
            return float(state.get("checked_at") or 0) > t and not state.get("open")
        started = time.time()
        wait_for(lambda: ticked_after(started), 20, "the watch to see all well")
        stack.kill("agi")
        killed = time.time()
        wait_for(lambda: sink.messages, AFTER_SECONDS + 20, "the alert e-mail")
        arrived = time.time()
        assert arrived - killed >= AFTER_SECONDS, "alerted before [alerts] after_seconds"
        log.info("AGI killed: alert e-mail after %.1f s ([alerts] after_seconds = %.0f)", arrived - killed,
                 AFTER_SECONDS)
        assert sink.subjects() == ["[1022] CẢNH BÁO (hotline1): Máy chủ AGI (tra cứu phản ánh qua điện thoại)"]
        assert sink.recipients == [["giamsat@example.vn"]]
        assert "nothing accepts on" in sink.messages[0].get_content()
        lines = banner(store.read(), stack.ctx.settings.tz)
        assert [line["key"] for line in lines] == ["agi"] and "không hoạt động từ" in lines[0]["text"]
        mark = time.time()
        wait_for(lambda: float(store.read().get("checked_at") or 0) > mark + 3 * CHECK_SECONDS, 20,
                 "three more ticks of the watch")
        assert len(sink.messages) == 1, sink.subjects()          # one e-mail, however long it stays down
        stack.start_proc("agi", stack.app_env)
        back = time.time()
        wait_for(lambda: len(sink.messages) >= 2, 30, "the resolved e-mail")
        log.info("AGI back: resolved e-mail after %.1f s", time.time() - back)
        mark = time.time()
        wait_for(lambda: float(store.read().get("checked_at") or 0) > mark + 3 * CHECK_SECONDS, 20,
                 "three more ticks of the watch")
        assert sink.subjects()[1:] == ["[1022] ĐÃ KHẮC PHỤC (hotline1): Máy chủ AGI (tra cứu phản ánh qua điện thoại)"]
        assert banner(store.read(), stack.ctx.settings.tz) == []
    finally:
        stack.kill("watch", signal.SIGTERM)
        if "agi" not in stack.procs:
            stack.start_proc("agi", stack.app_env)
