"""`hotline up` as a province runs it, on the shipped settings: a caller's message left on a Saturday
is transcribed into its ticket with no manual step (no model to download, nothing to configure).

Its own state directory, recordings root, SQLite database and Redis, on ports of its own (never the
test stacks'); the real `hotline up` process with every child it starts.
"""
from __future__ import annotations

import pwd
import secrets
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from hotline.adapters.prompts import prompt_duration
from hotline.context import load_context
from tests.support.running import clean_env, integration_logs, running
from tests.support.speech_vi import joined_message, samples, score
from tests.support.stack import _free_tcp_port, stack_index, wait_for
from tooling.sipp.runner import start_caller
from tooling.sipp.scenario import AwaitHangup, CallerScript, Keys, Speak, Wait
from tooling.system.services import redis_answers, redis_server_config

pytestmark = pytest.mark.asterisk

SATURDAY = "2026-11-28T10:00:00+07:00"
PORTS = {"HOTLINE_SIP_PORT": 5460, "HOTLINE_HTTP_PORT": 8488, "HOTLINE_AMI_PORT": 5438, "HOTLINE_AGI_PORT": 4873,
         "HOTLINE_CONSOLE_PORT": 8490, "HOTLINE_PUBLIC_PORT": 8492}


@pytest.fixture(scope="module")
def hotline_up() -> Iterator[tuple[dict[str, str], Path]]:
    base = Path(tempfile.mkdtemp(prefix="hotline-up-", dir="/var/tmp"))
    base.chmod(0o755)       # Asterisk, as its own user, reaches the state directory
    redis_port, password = _free_tcp_port(), secrets.token_urlsafe(24)
    # a province's own Redis, with its own password in [redis] url (given on standard input, never in `ps`)
    redis = subprocess.Popen(["redis-server", "-", "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "",
                              "--appendonly", "no"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             start_new_session=True)
    assert redis.stdin is not None
    redis.stdin.write(redis_server_config(password).encode())
    redis.stdin.close()
    env = clean_env(base, {"HOTLINE_REDIS_URL": f"redis://:{password}@127.0.0.1:{redis_port}/0",
                           **{k: str(v + 100 * stack_index()) for k, v in PORTS.items()}})
    try:
        wait_for(lambda: redis_answers(env["HOTLINE_REDIS_URL"]), 15, "the test's Redis")
        with running(base, env, ["up", "--fake-now", SATURDAY], log="up.log", ready="đang trả lời", timeout=240,
                     artifacts=integration_logs("hotline-up")):
            yield env, base
    finally:
        redis.terminate()
        redis.wait(timeout=15)
        subprocess.run(["rm", "-rf", str(base)], check=False)


def test_hotline_up_on_the_shipped_settings_transcribes_a_vietnamese_message(
        hotline_up: tuple[dict[str, str], Path], tmp_path: Path) -> None:
    env, base = hotline_up
    ctx = load_context(env=env)
    assert ctx.settings.transcription.engine == "viet-asr"      # the shipped default, nothing set
    log = (base / "up.log").read_text(errors="replace")
    assert "[setup] Voicemail transcription: viet-asr" in log, log[-3000:]
    password = urlsplit(env["HOTLINE_REDIS_URL"]).password
    assert password and password not in log and "[setup] Redis answers at redis://:***@127.0.0.1:" in log
    prompts = Path(ctx.settings.paths.state_dir) / "prompts"
    beep = sum(prompt_duration(prompts / f"{n}.wav") for n in ("welcome", "recording_notice", "closed_hours",
                                                                  "leave_message")) + 2.0
    message = joined_message(tmp_path / "vi.wav", samples()[:3])
    script = CallerScript([Wait(beep), Speak(message), Wait(1), Keys("#"), AwaitHangup(60)])
    s = ctx.settings
    result = start_caller(s.sip.bind, s.sip.port, "1022", script, caller="0940000901", workdir=tmp_path).result()
    assert result.ok and result.ended_by_remote, result.problems
    tickets = ctx.tickets(ctx.sessions())

    def transcribed() -> dict | None:
        found = [t for t in tickets.list(limit=10) if t["caller"] == "0940000901"]
        return found[0] if found and found[0]["voicemail"]["status"] == "transcribed" else None
    found = wait_for(transcribed, 90, "the message's ticket to be transcribed by the worker `hotline up` runs")
    ticket = tickets.get(found["code"])     # again: the poll's SELECTs may straddle the worker's commit
    assert ticket is not None
    got = score([x.text for x in samples()[:3]], ticket["content"])
    assert got.wer <= 0.3 and not got.missing, (got, ticket["content"])
    assert ticket["voicemail"]["model"].startswith("viet-asr ")


def _ids(pid: int) -> dict[str, list[int]]:
    """The real, effective, saved and file-system uids and gids of a process, and its supplementary groups."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return {k: [int(x) for x in fields[k].split()] for k in ("Uid", "Gid", "Groups")}


def test_hotline_up_runs_each_process_as_its_own_user(hotline_up: tuple[dict[str, str], Path]) -> None:
    """Least privilege without systemd: the Python processes as `hotline` (those that touch Asterisk's files in
    group asterisk too, none keeps root's groups), Asterisk as `asterisk`, only fail2ban as root."""
    env, _base = hotline_up
    state = Path(load_context(env=env).settings.paths.state_dir)
    hotline, asterisk = pwd.getpwnam("hotline"), pwd.getpwnam("asterisk")
    in_asterisk_group = {"ari_app", "agi", "monitor", "worker"}
    for name in ("ari_app", "agi", "monitor", "worker", "console", "public", "watch"):
        ids = _ids(int((state / "pids" / f"{name}.pid").read_text()))
        assert ids["Uid"] == [hotline.pw_uid] * 4 and ids["Gid"] == [hotline.pw_gid] * 4, (name, ids)
        assert ids["Groups"] == ([asterisk.pw_gid] if name in in_asterisk_group else []), (name, ids)
    found = subprocess.run(["pgrep", "-f", "--", f"-f -n -C {state}/asterisk/asterisk.conf"], capture_output=True,
                           text=True)
    pids = [int(p) for p in found.stdout.split()]
    assert pids, f"no Asterisk of {state} found"
    for pid in pids:
        ids = _ids(pid)
        assert ids["Uid"] == [asterisk.pw_uid] * 4 and 0 not in ids["Groups"], ids
    # Asterisk's console socket (its whole CLI) is not open to the hotline's processes in group asterisk
    assert (state / "run" / "asterisk.ctl").stat().st_mode & 0o777 == 0o600
    # what the processes write is theirs, and the state directory stays root's
    assert (state / "db" / "hotline.db").stat().st_uid == hotline.pw_uid
    assert state.stat().st_uid == 0 and (state / "secrets.toml").stat().st_mode & 0o777 == 0o640


def test_hotline_up_says_how_to_make_the_first_admin(hotline_up: tuple[dict[str, str], Path]) -> None:
    """A new install has no console account: `hotline up` itself prints the command that makes the first admin
    (issue 17, item 8; the command's own behaviour is tests/unit/test_first_sign_in.py)."""
    _env, base = hotline_up
    log = (base / "up.log").read_text(errors="replace")
    assert "users add admin --name 'Quản trị hệ thống' --role admin" in log, log[-3000:]
