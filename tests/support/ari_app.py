"""The ARI app's objects on a fake ARI client, the shipped flow and a real SQLite call log (unit tests)."""
from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ari_app.app import HotlineApp
from ari_app.call import CallerHungUp
from ari_app.reconcile import Reconciler
from ari_app.services import CallLog, CallServices
from hotline.adapters.db.repository import CallRepository
from hotline.adapters.db.spool import Spool
from hotline.context import Context, load_context
from hotline.domain.flows.engine import FlowEngine

from .fake_ari import FakeAri

#: Wednesday 10:00 in the province: the hotline is staffed.
OPEN = datetime.fromisoformat("2026-11-25T10:00:00+07:00")


class NoJobs:
    """The worker's queue, unreachable: work is left for the worker's sweep (as when Redis is away)."""

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def refuse(*_args: Any, **_kwargs: Any) -> Any:
            raise ConnectionError("no Redis in unit tests")
        return refuse


@dataclass
class AppUnderTest:
    """A HotlineApp and its parts, ready for one test's event loop."""

    ctx: Context
    ari: FakeAri
    services: CallServices
    app: HotlineApp
    repo: CallRepository

    async def settle(self, condition: Callable[[], Any], what: str, timeout: float = 5.0) -> Any:
        """Let the app's tasks run until ``condition`` holds."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            if value := condition():
                return value
            await asyncio.sleep(0.01)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")

    async def flush(self) -> None:
        await self.services.log.flush()

    async def close(self) -> None:
        """The callers still on the line hang up; wait until every call is closed in the log."""
        for call in list(self.app.calls.values()):
            call.post(CallerHungUp(None))
        await asyncio.wait_for(asyncio.gather(*self.app.tasks, return_exceptions=True), 10)
        await self.flush()


def build_app(tmp: Path, now: datetime = OPEN, *, node: str | None = None, database_url: str | None = None,
              recordings: Path | None = None) -> AppUnderTest:
    """Build the app as ari_app.main does, on ``tmp`` (call it inside the test's event loop); ``node``
    (``[cluster] node``, default this host's name), ``database_url`` and ``recordings`` (the recordings
    root, default ``tmp/recordings``) for several nodes sharing a database and a recordings root."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update({"HOTLINE_STATE_DIR": str(tmp / "state"),
                "HOTLINE_RECORDINGS_ROOT": str(recordings or tmp / "recordings"),
                "HOTLINE_DATABASE_URL": database_url or f"sqlite:///{tmp}/hotline.db"})
    if node is not None:
        env["HOTLINE_NODE"] = node
    ctx = load_context(env=env)
    sessions = ctx.sessions()
    ari = FakeAri(ctx.settings.asterisk.ari_app)
    call_log = CallLog(CallRepository(sessions, node=ctx.settings.cluster.node), Spool(ctx.settings.call_log_spool))
    call_log.start()
    engine = FlowEngine(ctx.flow, ctx.directory, lambda: ctx.hours.closed_reason(now))
    services = CallServices(settings=ctx.settings, ari=ari, engine=engine, log=call_log,  # type: ignore[arg-type]
                            now=lambda: now, prompts_dir=tmp / "prompts", tickets=ctx.tickets(sessions),
                            jobs=NoJobs(), file_wait=0.05, recording_report_wait=0.05)  # type: ignore[arg-type]
    return AppUnderTest(ctx, ari, services, HotlineApp(services, Reconciler(services)), call_log.repo)


def run_app(tmp: Path, scenario: Callable[[AppUnderTest], Awaitable[None]], now: datetime = OPEN) -> None:
    """Run ``scenario`` on a new app in its own event loop, then close what is still open."""
    async def main() -> None:
        t = build_app(tmp, now)
        try:
            await scenario(t)
        finally:
            await t.close()
    asyncio.run(main())
