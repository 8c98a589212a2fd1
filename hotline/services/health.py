"""Is every part of the hotline doing its work? One small check per part, each answering within a deadline.

Used by ``hotline status``, the console's ``/healthz`` and ``hotline watch`` (the supervisors' alerts).
A check returns a :class:`Check`: ``ok``, facts (counts, ages, versions; never a caller's number or a
person's name) and the problems in English for whoever runs the system. :class:`HealthProbe` runs them
all at once in threads and reports a check that does not answer by the deadline as down, so the whole
answer comes within a few seconds even when Asterisk, Redis or the database hangs.
"""
from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.pool import NullPool

from hotline.adapters.ami import AmiClient, AmiError, ami_client
from hotline.adapters.db.models import Voicemail, VoicemailStatus
from hotline.adapters.db.spool import spool_status
from hotline.adapters.disk import free_mb, message_space_problem
from hotline.domain.vocabulary import PUBLIC_REFUSALS_KEY, live_beat_key
from hotline.heartbeat import LINK_STALE, link_age, link_file

#: The parts of the hotline, in the order they are shown.
COMPONENTS = ("asterisk", "ari_app", "agi", "monitor", "worker", "redis", "database", "spool", "disk",
              "transcription", "mailbox", "public", "outbox")
OUTBOX_LATE = 3600.0   # a message to a citizen not sent this long after it was written: its channel is failing
TIMEOUT = 2.0          # seconds each check may take to connect and to get each answer
DEADLINE = 3.0         # seconds the whole status may take: a check still running then is down
MONITOR_STALE = 20.0   # the monitor rewrites its snapshot every 5 s; this long without one, it is down
SPOOL_STALE = 60.0     # a call-log write waiting this long in the spool: the database does not take it


@dataclass(frozen=True)
class Check:
    """One part's answer: ``facts`` hold no personal data; ``problems`` say what is wrong and what to do."""

    name: str
    ok: bool
    facts: dict[str, Any] = field(default_factory=dict)
    problems: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, **self.facts, "problems": list(self.problems)}

    def public(self) -> dict[str, Any]:
        """What an unauthenticated reader may see: ``ok`` and the numeric facts (no versions, no paths)."""
        numbers = {k: v for k, v in self.facts.items()
                   if v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))}
        return {"ok": self.ok, **numbers}


def _check(name: str, facts: dict[str, Any], problems: list[str]) -> Check:
    return Check(name, not problems, facts, tuple(problems))


@dataclass(frozen=True)
class Report:
    checks: dict[str, Check]
    at: datetime

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks.values())

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked_at": self.at.isoformat(),
                **{name: c.to_json() for name, c in self.checks.items()}}

    def public(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked_at": self.at.isoformat(),
                "components": {name: c.public() for name, c in self.checks.items()}}

    def problems(self) -> dict[str, str]:
        """The parts that are down, each with its problems in one line."""
        return {name: "; ".join(c.problems) for name, c in self.checks.items() if not c.ok}


# -- the checks -------------------------------------------------------------------------------------

def check_asterisk_and_app(client: AmiClient, app: str, link: Path,
                           now: Callable[[], float] = time.time) -> list[Check]:
    """Asterisk over AMI (version, channels, uptime) and whether the ARI app holds its WebSocket, as the app says
    in ``link`` (hotline/heartbeat.py's LinkBeat: why not Asterisk's own list); both down when AMI does not
    answer."""
    try:
        facts = asyncio.run(_asterisk_facts(client))
    except (AmiError, OSError) as exc:
        why = f"Asterisk does not answer on AMI ({exc})"
        return [_check("asterisk", {}, [why]), _check("ari_app", {"app": app}, [f"unknown: {why}"])]
    try:
        age = link_age(link, now())
    except OSError as exc:      # a user who may not read the ARI app's folder
        return [_check("asterisk", facts, []),
                _check("ari_app", {"app": app}, [f"unknown: cannot read {link} ({exc.strerror or exc})"])]
    return [_check("asterisk", facts, []), check_app(app, age)]


async def _asterisk_facts(client: AmiClient) -> dict[str, Any]:
    """Only ``reporting`` actions (CoreSettings, CoreStatus, CoreShowChannels, Getvar): the console's and the
    watch's AMI accounts have no ``command``."""
    async with client:
        settings = await client.action("CoreSettings")
        status = await client.action("CoreStatus")
        channels = await client.channels()
        uptime = await client.uptime(status)
    return {"version": str(settings.get("AsteriskVersion", "")), "calls": _int(status.get("CoreCurrentCalls")),
            "channels": len(channels), "uptime_seconds": uptime}


def check_app(app: str, age: float | None) -> Check:
    """The ARI app from the age of its last "connected" (None: it said its WebSocket closed, or never said)."""
    if age is not None and age <= LINK_STALE:
        return _check("ari_app", {"app": app}, [])
    said = "" if age is None else f" (it last said so {age:.0f} s ago: killed or stuck?)"
    return _check("ari_app", {"app": app}, [f"the ARI app {app!r} holds no WebSocket to Asterisk{said}: callers get "
                                            "the dialplan's fallback (is `python -m ari_app` running?)"])


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def check_agi(host: str, port: int, timeout: float = TIMEOUT) -> Check:
    """The FastAGI server accepts a connection on its port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        return _check("agi", {}, [f"nothing accepts on {host}:{port} ({exc.strerror or exc}): ticket status by "
                                  "phone and the fallback's logging stop (is `python -m agi` running?)"])
    return _check("agi", {}, [])


def check_monitor(client: redis.Redis, channel: str, now: float) -> Check:
    """The monitor's proof of life: the real time it last wrote the wallboard's snapshot to Redis."""
    try:
        raw = client.get(live_beat_key(channel))
    except (redis.RedisError, OSError) as exc:
        return _check("monitor", {"snapshot_age_seconds": None}, [f"unknown: Redis does not answer ({exc})"])
    age = round(now - float(raw), 1) if raw else None
    if age is None or age > MONITOR_STALE:
        said = "never" if age is None else f"{age:.0f} s ago"
        return _check("monitor", {"snapshot_age_seconds": age},
                      [f"the wallboard's snapshot was last written {said}: the wallboard is stale "
                       "(is `python -m monitor` running?)"])
    return _check("monitor", {"snapshot_age_seconds": age}, [])


def alive_workers(client: redis.Redis, queue: str) -> tuple[int, int]:
    """(workers alive on ``queue``, jobs waiting in it); a worker killed on this machine stays registered in
    Redis until its key expires, so its process is looked for too."""
    from rq import Queue, Worker
    host = socket.gethostname()
    workers = Worker.all(connection=client, queue=Queue(queue, connection=client))
    alive = sum(1 for w in workers if w.hostname != host or _pid_alive(w.pid))
    return alive, Queue(queue, connection=client).count


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def check_worker(client: redis.Redis, queue: str) -> Check:
    """RQ workers taking jobs from the hotline's queue, and how many jobs wait there."""
    try:
        alive, depth = alive_workers(client, queue)
    except (redis.RedisError, OSError) as exc:
        return _check("worker", {"workers": None, "queued_jobs": None}, [f"unknown: Redis does not answer ({exc})"])
    problems = [] if alive else ["no worker is running: messages are not transcribed, no e-mail is sent "
                                 "(hotline up starts one)"]
    return _check("worker", {"workers": alive, "queued_jobs": depth}, problems)


def check_redis(client: redis.Redis) -> Check:
    try:
        info = client.info("server")
    except (redis.RedisError, OSError) as exc:
        return _check("redis", {}, [f"Redis does not answer ({exc}): no jobs, no live wallboard"])
    return _check("redis", {"version": str(info.get("redis_version", ""))}, [])


def check_database(engine: Engine) -> Check:
    """A ``SELECT 1`` on a connection of its own with a short timeout."""
    started = time.monotonic()
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:   # any driver's error: said, not raised
        return _check("database", {"kind": engine.dialect.name},
                      [f"the database does not answer ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"])
    return _check("database", {"kind": engine.dialect.name,
                               "answer_ms": round((time.monotonic() - started) * 1000, 1)}, [])


def check_spool(directory: Path, now: datetime) -> Check:
    """The ARI app's call-log spool (``[database] spool_dir``): writes waiting for the database, the oldest
    one's age, and writes it refused for good."""
    status = spool_status(directory)
    oldest = None if status.oldest is None else round((now - status.oldest).total_seconds(), 1)
    problems = []
    if status.rejected:
        problems.append(f"{status.rejected} call-log write(s) refused by the database for good: see the "
                        f"`rejected` table of {directory}")
    if oldest is not None and oldest > SPOOL_STALE:
        problems.append(f"{status.depth} call-log write(s) wait for the database, the oldest for {oldest:.0f} s")
    return _check("spool", {"depth": status.depth, "oldest_seconds": oldest, "rejected": status.rejected}, problems)


def check_disk(root: Path, min_free_mb: int) -> Check:
    """Free space under the recordings root, against ``[recordings] min_free_mb``; the root writable."""
    problem = message_space_problem(root, min_free_mb)
    try:
        free: float | None = round(free_mb(root), 1)
    except OSError:
        free = None
    return _check("disk", {"free_mb": free, "min_free_mb": min_free_mb},
                  [f"{problem}: no message can be taken"] if problem else [])


def check_transcription(engine: Engine, settings: Any, workers: int | None, now: datetime) -> Check:
    """The speech engine (without loading it), the messages waiting for it and the oldest, failed ones
    (``workers``: shown; no worker is the worker check's problem, not said twice)."""
    from hotline.adapters.speech.engines import describe, engine_problem
    problems = [p for p in [engine_problem(settings)] if p]
    with engine.connect() as conn:
        waiting = conn.execute(select(func.count(), func.min(Voicemail.created_at))
                               .where(Voicemail.status.in_(VoicemailStatus.WAITING))).one()
        failed = conn.scalar(select(func.count()).where(Voicemail.status == VoicemailStatus.FAILED)) or 0
        last_error = conn.scalar(select(Voicemail.error).where(Voicemail.status.in_(VoicemailStatus.WAITING),
                                                               Voicemail.error.is_not(None))
                                 .order_by(Voicemail.id.desc()).limit(1))
    if last_error:
        problems.append(f"messages wait: {last_error}")
    oldest = waiting[1]
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return _check("transcription", {
        "engine": describe(settings), "workers": workers, "waiting": int(waiting[0]),
        "oldest_waiting_seconds": None if oldest is None else round((now - oldest).total_seconds(), 1),
        "failed": int(failed)}, problems)


def check_mailbox(settings: Any, status: dict[str, Any] | None, now: float) -> Check:
    """The mailbox reader (``hotline mailbox``), from the status file it writes after each look and each
    failure: down when it has failed for FAILING_ALERT seconds or has not written for a while; off: fine."""
    from hotline.intake.mailbox import FAILING_ALERT, LAST_RETRY
    if not settings.enabled:
        return _check("mailbox", {"enabled": False}, [])
    if status is None:
        return _check("mailbox", {"enabled": True}, ["the mailbox reader has never said how it is doing "
                                                     "(is `hotline mailbox` running?)"])
    age = round(now - float(status.get("at") or 0), 1)
    since = status.get("failing_since")
    failing = None if status.get("ok") or since is None else round(now - float(since), 1)
    facts = {"enabled": True, "status_age_seconds": age, "failing_seconds": failing}
    problems = []
    if age > 3 * max(settings.poll_seconds, LAST_RETRY) + 30:
        problems.append(f"the mailbox reader last said something {age:.0f} s ago (is `hotline mailbox` running?)")
    if failing is not None and failing >= FAILING_ALERT:
        problems.append(f"the mailbox {settings.user}@{settings.host} has not been read for {failing / 60:.0f} min: "
                        f"{status.get('error')}; e-mailed requests wait in it")
    return _check("mailbox", facts, problems)


def check_public(settings: Any, client: redis.Redis, timeout: float = TIMEOUT) -> Check:
    """The public site (``hotline public``) accepts connections; its refusals so far, by why (rate, invalid,
    a forged signature...: numbers only)."""
    if not settings.enabled:
        return _check("public", {"enabled": False}, [])
    facts: dict[str, Any] = {"enabled": True}
    try:
        refused = client.hgetall(PUBLIC_REFUSALS_KEY)
        facts.update({f"refused_{k.decode() if isinstance(k, bytes) else k}": int(v)
                      for k, v in sorted(refused.items())})
    except (redis.RedisError, OSError, ValueError):
        pass
    try:
        with socket.create_connection((settings.bind, settings.port), timeout=timeout):
            pass
    except OSError as exc:
        return _check("public", facts, [f"nothing accepts on {settings.bind}:{settings.port} "
                                        f"({exc.strerror or exc}): citizens cannot send the web form, the SMS "
                                        "gateway, Zalo and Facebook cannot deliver (is `hotline public` running?)"])
    return _check("public", facts, [])


def check_outbox(engine: Engine, now: datetime) -> Check:
    """The hotline's messages to citizens (receipts, answers) waiting to be sent: how many, how many failing,
    how many given up; down when one has waited OUTBOX_LATE or was given up."""
    from hotline.adapters.db.models import IntakeMessage
    from hotline.intake.outbox import MAX_ATTEMPTS
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(IntakeMessage.attempts, IntakeMessage.at, IntakeMessage.channel).where(
                IntakeMessage.direction == "out", IntakeMessage.sent_at.is_(None))).all()
    except Exception as exc:
        return _check("outbox", {"waiting": None}, [f"unknown: the database does not answer ({type(exc).__name__})"])
    late = [r for r in rows if (now - _aware(r.at)).total_seconds() >= OUTBOX_LATE]
    given_up = [r for r in rows if r.attempts >= MAX_ATTEMPTS]
    facts = {"waiting": len(rows), "failing": sum(1 for r in rows if r.attempts > 0), "given_up": len(given_up)}
    problems = []
    if late:
        channels = ", ".join(sorted({r.channel for r in late}))
        problems.append(f"{len(late)} message(s) to citizens unsent for over {OUTBOX_LATE / 60:.0f} min ({channels}): "
                        "see the ticket's thread for the channel's error, and its settings and credentials")
    if given_up:
        problems.append(f"{len(given_up)} message(s) given up after {MAX_ATTEMPTS} tries: tell the citizens another "
                        "way (the ticket's thread shows the error)")
    return _check("outbox", facts, problems)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


# -- running them ----------------------------------------------------------------------------------

def health_engine(url: str, timeout: float = TIMEOUT) -> Engine:
    """A database engine for the checks: no pool, a short connect and statement timeout."""
    if url.startswith("sqlite:///"):
        return create_engine(url, poolclass=NullPool, connect_args={"timeout": timeout})
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, poolclass=NullPool,
                         connect_args={"connect_timeout": max(1, int(timeout)),
                                       "options": f"-c statement_timeout={int(timeout * 1000)}"})


class HealthProbe:
    """Every check of one hotline, built once per process (the command, the console, the watch).

    Args:
        settings: the province settings; secrets: the generated ones (AMI's password).
        now: the hotline clock (the ages of messages are on it).
        deadline: seconds the whole run may take.
    """

    def __init__(self, settings: Any, secrets: Any, now: Callable[[], datetime], deadline: float = DEADLINE) -> None:
        self.settings, self.secrets, self.now, self.deadline = settings, secrets, now, deadline
        from hotline.config.redis_url import redis_url
        self.redis = redis.Redis.from_url(redis_url(settings.redis, secrets), socket_connect_timeout=TIMEOUT,
                                          socket_timeout=TIMEOUT)
        self.engine = health_engine(settings.database.url)

    def run(self) -> Report:
        """Every check at once; one that has not answered by the deadline is reported down."""
        s = self.settings
        jobs: dict[str, Callable[[], Check | list[Check]]] = {
            "asterisk": lambda: check_asterisk_and_app(ami_client(s, self.secrets, timeout=TIMEOUT),
                                                       s.asterisk.ari_app, link_file(s.call_log_spool)),
            "agi": lambda: check_agi(s.agi.bind, s.agi.port),
            "monitor": lambda: check_monitor(self.redis, s.live_node_channel, time.time()),   # this node's
            "worker": lambda: check_worker(self.redis, s.transcription.queue),
            "redis": lambda: check_redis(self.redis),
            "database": lambda: check_database(self.engine),
            "spool": lambda: check_spool(s.call_log_spool, datetime.now(UTC)),
            "disk": lambda: check_disk(Path(s.paths.recordings_root), s.recordings.min_free_mb),
            "transcription": self._transcription,
            "mailbox": self._mailbox,
            "public": lambda: check_public(s.public, self.redis),
            "outbox": lambda: check_outbox(self.engine, datetime.now(UTC)),
        }
        pool = ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="health")
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        wait(futures.values(), timeout=self.deadline)
        pool.shutdown(wait=False, cancel_futures=True)   # a hung check's thread ends with its socket timeout
        found: dict[str, Check] = {}
        for name, future in futures.items():
            found.update(_results(name, future, self.deadline))
        return Report({name: found[name] for name in COMPONENTS if name in found}, datetime.now(UTC))

    def _mailbox(self) -> Check:
        from hotline.intake.mailbox import read_status, status_file
        return check_mailbox(self.settings.mailbox, read_status(status_file(self.settings.paths.state_dir)),
                             time.time())

    def _transcription(self) -> Check:
        t = self.settings.transcription
        try:
            workers: int | None = alive_workers(self.redis, t.queue)[0]
        except (redis.RedisError, OSError):
            workers = None
        try:
            return check_transcription(self.engine, t, workers, self.now())
        except Exception as exc:    # the database is down: the database check says so too
            return _check("transcription", {"workers": workers, "waiting": None},
                          [f"unknown: the database does not answer ({str(exc).splitlines()[0][:200]})"])


def _results(name: str, future: Any, deadline: float) -> dict[str, Check]:
    if not future.done():
        late = [f"no answer within {deadline:.0f} s"]
        names = ("asterisk", "ari_app") if name == "asterisk" else (name,)
        return {n: _check(n, {}, late) for n in names}
    try:
        result = future.result()
    except Exception as exc:    # a check's own bug must not hide the others
        return {name: _check(name, {}, [f"the check failed: {type(exc).__name__}: {exc}"])}
    items = result if isinstance(result, list) else [result]
    return {c.name: c for c in items}


class CachedHealth:
    """The last report for ``ttl`` seconds, so that an open endpoint (``/healthz``) cannot load the hotline:
    however many ask, the checks run at most once per ``ttl``, one run at a time."""

    def __init__(self, probe: Any, ttl: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.probe, self.ttl, self.clock = probe, ttl, clock
        self._lock = threading.Lock()
        self._last: tuple[float, Report] | None = None

    def get(self) -> Report:
        with self._lock:
            if self._last is None or self.clock() - self._last[0] >= self.ttl:
                report = self.probe.run()
                self._last = (self.clock(), report)
            return self._last[1]
