"""The bench's own hotline state: a temporary directory, its redis-server, its database, the workers' environment.

The settings are the repository's province.toml; only the environment overrides the worker reads
anyway point it elsewhere (HOTLINE_STATE_DIR, HOTLINE_RECORDINGS_ROOT, HOTLINE_DATABASE_URL,
HOTLINE_REDIS_URL) or choose the engine measured (HOTLINE_TRANSCRIPTION_ENGINE, and for Vosk
HOTLINE_VOSK_MODEL), so the bench never shares Redis, a database or a recording with a running
hotline or the test suite.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import redis
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from hotline.config.settings import REPO_ROOT
from hotline.context import Context, load_context

from .processes import RedisServer, WorkerProcess, wait_registered

READY_TIMEOUT = 180.0       # a worker loading a large model on a busy machine


def worker_env(base: Path, redis_url: str, database_url: str, engine: str,
               model_dir: Path | None) -> dict[str, str]:
    """This process's environment without any HOTLINE_* of the caller's, plus the bench's overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update(HOTLINE_SETTINGS=str(REPO_ROOT / "province.toml"), HOTLINE_STATE_DIR=str(base / "state"),
               HOTLINE_RECORDINGS_ROOT=str(base / "recordings"), HOTLINE_DATABASE_URL=database_url,
               HOTLINE_REDIS_URL=redis_url, HOTLINE_TRANSCRIPTION_ENGINE=engine, HOTLINE_LOG_LEVEL="INFO",
               PYTHONUNBUFFERED="1")
    if model_dir is not None:
        env["HOTLINE_VOSK_MODEL"] = str(model_dir)
    return env


@dataclass
class PostgresSchema:
    """A schema of the bench's own in the PostgreSQL database given (dropped at the end)."""

    url: str
    name: str = field(default_factory=lambda: f"bench_transcribe_{os.getpid()}")

    def _engine(self) -> Engine:
        return create_engine(self.url.replace("postgresql://", "postgresql+psycopg://", 1))

    def create(self) -> str:
        """Make the schema; returns a URL whose connections use it (search_path)."""
        engine = self._engine()
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.name}"'))
        engine.dispose()
        return f"{self.url}{'&' if '?' in self.url else '?'}options={quote(f'-csearch_path={self.name}')}"

    def drop(self) -> None:
        engine = self._engine()
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE'))
        engine.dispose()


@dataclass
class Instance:
    base: Path
    engine: str                     # HOTLINE_TRANSCRIPTION_ENGINE of the workers
    model_dir: Path | None          # HOTLINE_VOSK_MODEL (Vosk only)
    postgres: PostgresSchema | None
    redis_server: RedisServer
    database_url: str = ""
    env: dict[str, str] = field(default_factory=dict)
    ctx: Context | None = None
    sessions: sessionmaker[Session] | None = None
    workers: list[WorkerProcess] = field(default_factory=list)

    @classmethod
    def create(cls, engine: str, model_dir: Path | None, database_url: str | None) -> Instance:
        base = Path(tempfile.mkdtemp(prefix="hotline-transcribe-bench-"))
        for sub in ("state", "recordings/voicemail", "audio", "logs"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        postgres = PostgresSchema(database_url) if database_url else None
        return cls(base, engine, model_dir, postgres, RedisServer(base / "redis"))

    @property
    def recordings(self) -> Path:
        return self.base / "recordings"

    def start(self) -> None:
        """redis-server, then the database (migrated) and the hotline context the bench writes with."""
        self.redis_server.start()
        self.database_url = (self.postgres.create() if self.postgres is not None
                             else f"sqlite:///{self.base / 'state' / 'hotline.db'}")
        self.env = worker_env(self.base, self.redis_server.url, self.database_url, self.engine, self.model_dir)
        self.ctx = load_context(env=self.env)
        self.sessions = self.ctx.sessions()

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_server.url)

    def start_workers(self, names: list[str]) -> list[WorkerProcess]:
        """Spawn the workers together and wait until each has loaded the model and registered."""
        assert self.ctx is not None
        queue = self.ctx.settings.transcription.queue
        started = [WorkerProcess.spawn(n, self.redis_server.url, queue, self.env, self.base / "logs") for n in names]
        self.workers += started
        wait_registered(started, self.redis(), READY_TIMEOUT)
        return started

    def stop_workers(self, workers: list[WorkerProcess]) -> None:
        for w in workers:
            w.stop()
            self.workers.remove(w)

    def logs_hint(self) -> str:
        return str(self.base / "logs")

    def close(self, keep: bool) -> None:
        """Stop what the bench started, drop its schema, delete its directory (unless ``keep``)."""
        for w in list(self.workers):
            w.stop()
        self.workers.clear()
        self.redis_server.stop()
        if self.sessions is not None:
            self.sessions.kw["bind"].dispose()
        if self.postgres is not None and self.database_url:
            self.postgres.drop()
        if not keep:
            shutil.rmtree(self.base, ignore_errors=True)
