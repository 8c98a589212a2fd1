"""``hotline setup`` and ``hotline up``: the two commands that install and run the whole hotline."""
from __future__ import annotations

import ipaddress
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import click

from hotline.cli.errors import as_click_error
from hotline.config.redis_url import is_own
from hotline.config.redis_url import redis_url as redis_url_of
from hotline.domain.errors import HotlineError
from hotline.domain.redact import redact_url
from tooling.system import production, sip_guard
from tooling.system.assembly import asterisk_process, process_specs, render_asterisk_config, switched_on
from tooling.system.asterisk import AsteriskInstall, AsteriskProcess, asterisk_version, ensure_asterisk
from tooling.system.services import OwnRedis, ensure_postgres, ensure_redis, ensure_redis_installed, is_postgres_url
from tooling.system.shell import Progress, SetupError
from tooling.system.supervisor import ProcessSpec, Supervisor
from tooling.system.watchdog import Watchdog, WatchedAsterisk

log = logging.getLogger("hotline.up")

APP_READY_WARNING = 30.0   # seconds before `up` says the ARI app has not connected yet


@dataclass
class SetupResult:
    """What ``hotline setup`` made sure of."""

    install: AsteriskInstall
    version: tuple[int, int, int]
    redis_url: str
    directory: Any
    prompts: dict[str, Path]


def echo(message: str) -> None:
    click.echo(message)


def run_setup(settings: Any, progress: Progress, *, start_redis: bool = True, user: str | None = None) -> SetupResult:
    """Ensure Asterisk, Redis, PostgreSQL (if configured) and the rendered voice prompts.

    ``start_redis``: start the hotline's own Redis when no ``[redis] url`` is set (``hotline up``, which then
    supervises it). ``hotline setup`` passes False: it installs redis-server and leaves the server to
    ``hotline up``, so that no Redis outlives a set-up (a second checkout's set-up, with its own password,
    would find the fixed port taken). A province's own Redis is checked either way. ``user``: the system user
    the hotline's own Redis runs as (``hotline up``'s processes' user)."""
    if os.geteuid() != 0:
        raise SetupError("The set-up installs packages, mounts directories and runs Asterisk in a chroot: "
                         "run it as root (sudo).")
    from hotline.adapters.asterisk_config import prompts_dir
    from hotline.adapters.prompts import render_prompts
    from hotline.adapters.queue_sounds import render_queue_sounds
    from hotline.domain.directory import load_directory
    from hotline.domain.flows.loader import load_flow

    state_dir = Path(settings.paths.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    production.move_old_database(settings, progress)
    # The province's files first: a mistake there stops set-up before anything is installed.
    from hotline.domain.tickets.categories import load_categories
    directory = load_directory(settings.paths.directory)
    categories = [c.code for c in load_categories(settings.paths.categories).entries]
    flow = load_flow(settings.paths.flow, directory=directory, recorded_prompts_dir=settings.paths.prompts_dir,
                     categories=categories)
    install = ensure_asterisk(settings, progress)
    version = asterisk_version(install)
    progress(f"[setup] Asterisk {'.'.join(map(str, version))} ready ({install.describe()})")
    from hotline.config.secrets import load_or_create_secrets
    secrets = load_or_create_secrets(state_dir)
    if start_redis or not is_own(settings.redis):
        redis_url = ensure_redis(settings.redis, secrets, state_dir, progress, user)
        progress(f"[setup] Redis answers at {redact_url(redis_url)}")
    else:
        redis_url = redis_url_of(settings.redis, secrets)
        ensure_redis_installed(progress)
        progress(f"[setup] Redis: the hotline's own, started by hotline up on 127.0.0.1:{settings.redis.port} "
                 f"with the password in {secrets.path}")
    if settings.security.sip_guard:
        sip_guard.ensure_packages(progress)
    if is_postgres_url(settings.database.url):
        ensure_postgres(settings.database.url, progress)
        progress("[setup] PostgreSQL database ready")
    prompts = render_prompts(settings, flow, directory, prompts_dir(settings), progress)
    progress(f"[setup] {len(prompts)} voice prompts ready in {prompts_dir(settings)}")
    sounds = render_queue_sounds(settings, progress)
    progress(f"[setup] {len(sounds)} Vietnamese queue sounds ready")
    from hotline.adapters.asterisk_config import dtls_certificate
    cert = dtls_certificate(state_dir / "asterisk")
    progress(f"[setup] DTLS certificate of the console's softphones: {cert['dtls_cert']}")
    _report_speech_engine(settings, progress)
    return SetupResult(install, version, redis_url, directory, prompts)


def _report_speech_engine(settings: Any, progress: Progress) -> None:
    from hotline.adapters.speech.engines import describe, engine_problem
    problem = engine_problem(settings.transcription)
    if problem is None:
        progress(f"[setup] Voicemail transcription: {describe(settings.transcription)}")
    else:
        progress(f"[setup] Voicemail transcription cannot run yet ({problem}): messages become tickets marked "
                 "'waiting for transcription' and are transcribed, without a restart, once it can "
                 "(README.md, Transcription)")


def sip_uris(settings: Any) -> list[str]:
    """The SIP addresses callers reach, one per hotline number ("sip:1022@127.0.0.1:5060")."""
    host = str(settings.sip.bind)
    address = ipaddress.ip_address(host)
    if address.is_unspecified:
        host = "127.0.0.1" if address.version == 4 else "::1"
    if ":" in host:
        host = f"[{host}]"
    return [f"sip:{number}@{host}:{settings.sip.port}" for number in settings.province.hotline_numbers]


def answering_banner(settings: Any, version: tuple[int, int, int]) -> str:
    """The line printed once the hotline answers calls."""
    numbers = list(settings.province.hotline_numbers)
    uris = sip_uris(settings)
    listed = " và ".join([", ".join(uris[:-1]), uris[-1]] if len(uris) > 1 else uris)
    return (f"Tổng đài {numbers[0]} đang trả lời: {listed} (UDP) — "
            f"Asterisk {'.'.join(map(str, version))}")


def _load_settings() -> Any:
    from hotline.config.settings import load_settings

    return load_settings()


@click.command("setup")
@click.option("--systemd", "with_systemd", is_flag=True,
              help="Also install the production units: the hotline user, one systemd unit per process under "
                   "hotline.target (enabled where systemd runs).")
@click.option("--units-dir", type=click.Path(path_type=Path), default=production.UNITS_DIR, show_default=True,
              help="Where the units are written (with --systemd).")
@click.option("--etc-dir", type=click.Path(path_type=Path), default=production.ETC_DIR, show_default=True,
              help="Where the units' secrets are written, readable by root alone (with --systemd).")
def setup_command(with_systemd: bool, units_dir: Path, etc_dir: Path) -> None:
    """Install and prepare everything the hotline needs (safe to run again)."""
    with as_click_error():
        settings = _load_settings()
        result = run_setup(settings, echo, start_redis=False)
        if with_systemd:
            production.install(settings, result.install, result.redis_url, echo, units_dir=units_dir,
                               etc_dir=etc_dir)


class _Watch:
    """Checked by the supervisor: announce once the ARI app has connected (Asterisk's own Watchdog restarts it)."""

    def __init__(self, asterisk: AsteriskProcess, app_name: str, banner: str, app_log: Path) -> None:
        self.asterisk, self.app_name, self.banner, self.app_log = asterisk, app_name, banner, app_log
        self.started = time.monotonic()
        self.next_look = 0.0
        self.announced = self.warned = False

    def __call__(self) -> str | None:
        now = time.monotonic()
        if self.announced or now < self.next_look:
            return None
        self.next_look = now + 1.0
        try:
            apps = self.asterisk.rx("ari show apps", timeout=5)
        except SetupError:
            apps = ""
        if any(line.strip() == self.app_name for line in apps.splitlines()):
            self.announced = True
            echo(self.banner)
            echo("Nhấn Ctrl-C để dừng (press Ctrl-C to stop).")
        elif not self.warned and now - self.started > APP_READY_WARNING:
            self.warned = True
            echo(f"[up] The call application has not connected to Asterisk yet; see {self.app_log}")
        return None


def _raise_interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@click.command("up")
@click.option("--fake-now", metavar="ISO", default=None,
              help="Run the hotline's clock from this time, e.g. 2027-02-05T23:05:00+07:00 (for tests and demos).")
def up_command(fake_now: str | None) -> None:
    """Set up, then run Asterisk and the hotline's processes until Ctrl-C."""
    run_until_stopped(_up, fake_now)


def run_until_stopped(up: Callable[[str | None, Callable[[str], None]], int], fake_now: str | None) -> None:
    """Run ``up`` (one of the `up` commands' bodies) until Ctrl-C or SIGTERM, both a clean stop (exit 0); a
    set-up error is the command's error, and ``up``'s own non-zero code its exit status."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        with as_click_error():
            code = up(fake_now, echo)
    except KeyboardInterrupt:
        code = 0
    if code:
        sys.exit(code)


def _operators(settings: Any, secrets: Any, clock: Any, directory: Any) -> Any:
    from hotline.adapters.db import open_database
    from hotline.services.operators import operator_service

    return operator_service(settings, secrets, clock, directory, open_database(settings.database.url))


def _restore_logins(operators: Any, progress: Progress) -> None:
    """Operators logged in (the database says so) are put back in the queue."""
    try:
        restored = operators.restore_logins()
    except HotlineError as exc:
        progress(f"[up] Could not put logged-in operators back in the queue: {exc}")
        return
    if restored:
        progress(f"[up] Operators back in the queue: {', '.join(restored)}")


def _watchdogs(settings: Any, secrets: Any, asterisk: AsteriskProcess, redis_url: str, operators: Any,
               progress: Progress, owner: tuple[int, int] | None = None) -> list[Watchdog]:
    """Asterisk restarted when it dies or stops answering ARI (operators then back in the queue), and the
    Redis the hotline started for itself, if it did."""
    a = settings.asterisk
    host = "127.0.0.1" if ipaddress.ip_address(str(a.http_bind)).is_unspecified else str(a.http_bind)
    watched = WatchedAsterisk(asterisk, f"http://{host}:{a.http_port}", a.ari_user, secrets.ari_password)

    def after_restart() -> None:
        _restore_logins(operators, progress)
        if owner:   # a journal this root process made is the hotline user's, as the database
            production.give_database(settings, owner)
    dogs = [Watchdog(watched, after_restart=after_restart)]
    redis = OwnRedis.find(redis_url, Path(settings.paths.state_dir), production.USER if owner else None)
    if redis is not None:
        redis.persist()
        dogs.append(Watchdog(redis))
    return dogs


def first_admin(settings: Any, progress: Progress, env: Mapping[str, str]) -> None:
    """While the console has no admin, print the one command that makes one (README: The first sign-in)."""
    from datetime import UTC, datetime

    from hotline.adapters.db import open_database
    from hotline.services.users import UserService, first_admin_hint

    program = Path(sys.executable).with_name("hotline")
    users = UserService(open_database(settings.database.url), lambda: datetime.now(UTC))
    url = f"http://{settings.console.bind}:{settings.console.port}/"
    for line in first_admin_hint(users, str(program) if program.exists() else "hotline", env, url):
        progress(f"[up] {line}")


def prepare(settings: Any, fake_now: str | None, progress: Progress) -> tuple[dict[str, str], Any, str | None, Any]:
    """What both `up` commands do before they start anything: the fake clock (``--fake-now``) in this process's
    environment and its children's, the least privilege the machine allows, and the set-up. Returns the
    children's extra environment, the hotline user's ids (None: this user), that user's name, the set-up's
    result."""
    from hotline.domain.clock import fake_clock_env, parse_fake_now
    env: dict[str, str] = {}
    if fake_now:
        env.update(fake_clock_env(parse_fake_now(fake_now, settings.tz)))
        os.environ.update(env)
    owner = _least_privilege(settings, progress)
    user = production.USER if owner else None
    return env, owner, user, run_setup(settings, progress, user=user)


def _up(fake_now: str | None, progress: Progress, supervisor_factory: Callable[[Path], Supervisor] = Supervisor) -> int:
    from hotline.config.secrets import load_or_create_secrets
    from hotline.context import setup_logging
    from hotline.domain.clock import clock_from_env

    setup_logging("up")
    settings = _load_settings()
    env, owner, user, result = prepare(settings, fake_now, progress)
    # Each child builds the same Redis URL from the settings and secrets.toml; only the worker (rq's command
    # line) is given it, in its environment (tooling/system/assembly.py), never in its argv.
    state_dir = Path(settings.paths.state_dir)
    recordings = Path(settings.paths.recordings_root)
    secrets = load_or_create_secrets(state_dir)
    clock = clock_from_env(settings.tz)
    operators = _operators(settings, secrets, clock, result.directory)
    conf = render_asterisk_config(settings, secrets, result.directory, state_dir, clock.offset_seconds(),
                                  operators.endpoints())
    asterisk = asterisk_process(result.install, conf, state_dir, recordings, settings.call_log_spool)
    try:
        progress("[up] Starting Asterisk")
        asterisk.start()
        _restore_logins(operators, progress)
        specs = [spec for spec in process_specs(env, result.redis_url, settings.transcription.queue, user=user)
                 if switched_on(spec.name, settings)]
        specs += _sip_guard(settings, state_dir, progress)
        supervisor = supervisor_factory(state_dir)
        public = (f" and the public site on http://{settings.public.bind}:{settings.public.port}/"
                  if settings.public.enabled else "")
        progress(f"[up] Starting the call application, the AGI server, the monitor, the worker, the console "
                 f"on http://{settings.console.bind}:{settings.console.port}/{public} (logs in {supervisor.log_dir})")
        first_admin(settings, progress, os.environ)
        if owner:   # after this process's own first writes: the database's files are then the user's
            production.give_folders(settings, owner, result.install.user_ids()[1], progress)
        watch = _Watch(asterisk, settings.asterisk.ari_app, answering_banner(settings, result.version),
                       supervisor.log_dir / "ari_app.log")
        dogs = _watchdogs(settings, secrets, asterisk, result.redis_url, operators, progress, owner)
        for dog in dogs:
            dog.start()
        try:
            return supervisor.run(specs, check=watch)
        finally:
            for dog in dogs:
                dog.stop()
    finally:
        progress("[up] Stopping Asterisk")
        asterisk.stop()
        if settings.security.sip_guard:
            sip_guard.remove_firewall(sip_guard.Guard.from_settings(settings, state_dir))


def _least_privilege(settings: Any, progress: Progress) -> tuple[int, int] | None:
    """The system user the hotline's Python processes run as (created if missing; uid, gid), refused with what
    to do where it could not reach the checkout, its Python or the settings; None where ``hotline up`` does not
    run as root (nothing to drop: a developer's own Asterisk-less run of the supervisor)."""
    if os.geteuid() != 0:
        return None
    state = Path(settings.paths.state_dir)
    state.mkdir(parents=True, exist_ok=True)
    owner = production.ensure_user(state, progress)
    production.check_reachable(settings, owner)
    progress(f"[up] The hotline's processes and its own Redis run as the system user {production.USER} (uid "
             f"{owner[0]}); Asterisk as its own user; the SIP guard (firewall) as root")
    return owner


def _sip_guard(settings: Any, state_dir: Path, progress: Progress) -> list[ProcessSpec]:
    """The SIP edge's nftables table, and fail2ban's jail on Asterisk's security log as a supervised child."""
    if not settings.security.sip_guard:
        return []
    guard = sip_guard.Guard.from_settings(settings, state_dir)
    sip_guard.install_firewall(guard)
    sip_guard.render_fail2ban(guard)
    progress(f"[up] SIP guard: {guard.max_failures} failed authentications in {guard.find_seconds} s ban a source "
             f"for {guard.ban_minutes} min (fail2ban); at most {guard.invites_per_second} INVITEs/s per source")
    return [ProcessSpec("sip_guard", sip_guard.fail2ban_command(guard))]
