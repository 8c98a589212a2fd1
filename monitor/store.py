"""Writes the queue facts of calls into the call log, off the event loop and in event order."""
from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from hotline.adapters.db.models import Call

from .facts import REPLACEABLE, CallUpdate

log = logging.getLogger("monitor.store")


class CallFactsStore:
    """Applies ``CallUpdate``s to Call rows (synchronous; the worker runs it in a thread)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def apply(self, update: CallUpdate) -> bool:
        """Write one update; False when the call is not in the call log (yet)."""
        with self._sessions.begin() as s:
            call = s.scalar(select(Call).where(Call.call_id == update.call_id))
            if call is None:
                return False
            for name, value in update.first.items():
                if getattr(call, name) is None and value is not None:
                    setattr(call, name, value)
            for name, value in update.values.items():
                setattr(call, name, value)
            if update.disposition and call.disposition in REPLACEABLE:
                call.disposition = update.disposition
            return True


class StoreWorker:
    """One task that writes updates in arrival order; the loop only enqueues.

    A call whose row is not there yet (the ARI app writes it at StasisStart, through
    its own queue) is retried a few times before the update is dropped with a log line.
    """

    def __init__(self, store: CallFactsStore, retries: int = 5, retry_delay: float = 0.5) -> None:
        self._store = store
        self._queue: asyncio.Queue[CallUpdate] = asyncio.Queue()
        self._retries, self._retry_delay = retries, retry_delay

    def submit(self, update: CallUpdate) -> None:
        self._queue.put_nowait(update)

    async def run(self) -> None:
        while True:
            update = await self._queue.get()
            try:
                await self._write(update)
            finally:
                self._queue.task_done()

    async def drain(self) -> None:
        """Wait until every submitted update is written (or given up)."""
        await self._queue.join()

    async def _write(self, update: CallUpdate) -> None:
        for attempt in range(self._retries + 1):
            try:
                if await asyncio.to_thread(self._store.apply, update):
                    log.info("call=%s queue fact %s written", update.call_id, update.event)
                    return
            except SQLAlchemyError:
                log.exception("call=%s writing %s failed", update.call_id, update.event)
            if attempt < self._retries:
                await asyncio.sleep(self._retry_delay * (attempt + 1))
        log.warning("call=%s %s dropped: no such call in the call log", update.call_id, update.event)
