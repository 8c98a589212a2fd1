"""The ARI app's writes to the call log: in order, off the event loop, never a caller's wait.

Every write is a named repository operation (``start_call``, ``update``, ``end_call``…, plus those a
service registers, e.g. ``save_message``), tried on the database by one task in the order the calls
made them. A write the database cannot take — down, locked by another writer, or not answering
within ``deadline`` seconds — goes to the durable spool (:mod:`hotline.adapters.db.spool`), and so
does every write after it while the spool holds anything, so the order stays the order of the calls.
A background task replays the spool oldest first, retrying with a doubling delay (capped at
``retry_max``); the spool left by a previous run is replayed at start. Every operation is idempotent
(a replay after a crash half-way applies a write twice without a second row), so a write that
reached the database just as its deadline passed is simply applied again from the spool.
The database work runs on one daemon thread of its own: a write stuck on a lock never holds up the
process's exit (it is in the spool by then).
"""
from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exc as sa_exc

from hotline.adapters.db.repository import CallRepository
from hotline.adapters.db.spool import Spool, SpooledWrite

log = logging.getLogger("ari_app.call_log")

#: The repository's writes the call log makes (each one idempotent).
REPOSITORY_WRITES = ("start_call", "update", "add_step", "end_call", "add_recording", "start_transfer",
                     "finish_transfer", "transfer_bridged")
RETRY_FIRST = 0.5     # seconds before the first retry of the spool's oldest write
OUTAGE_LOG_EVERY = 60.0


class Pending:
    """What an awaited write returns when it went to the spool: it is kept, and replayed later."""

    def __repr__(self) -> str:
        return "PENDING"


PENDING = Pending()


@dataclass
class _Write:
    spooled: SpooledWrite
    result: asyncio.Future[Any] | None = None


def database_unavailable(exc: BaseException) -> bool:
    """The database could not take a write now (down, locked, connection lost), as against refusing it."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError,
                            sa_exc.TimeoutError))


class CallLog:
    """Writes to the call log in order; what the database cannot take now waits in ``spool``.

    Args:
        repo: the call log's repository.
        spool: where writes wait for the database (replayed from its oldest at start).
        deadline: seconds a write may take on the database before it, and the writes after it,
            go to the spool.
        retry_max: the longest delay between two tries of the spool's oldest write.
    """

    def __init__(self, repo: CallRepository, spool: Spool, *, deadline: float = 3.0,
                 retry_max: float = 5.0) -> None:
        self.repo = repo
        self.spool = spool
        self.deadline = deadline
        self.retry_max = retry_max
        self._ops: dict[str, Callable[..., Any]] = {name: getattr(repo, name) for name in REPOSITORY_WRITES}
        self._after_replay: dict[str, Callable[[Any], None]] = {}
        self._queue: asyncio.Queue[_Write] = asyncio.Queue()
        self._depth = spool.depth()
        self._pending: Counter[str] = spool.call_ids()   # writes not yet in the database, by call
        self._inflight: asyncio.Future[Any] | None = None  # a write past its deadline, still running
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._db = _DatabaseThread()

    def register(self, op: str, fn: Callable[..., Any], after_replay: Callable[[Any], None] | None = None) -> None:
        """Make ``fn`` (idempotent, JSON-able arguments) a write named ``op``; ``after_replay`` gets its
        result when it was applied from the spool (the live caller got PENDING instead)."""
        self._ops[op] = fn
        if after_replay is not None:
            self._after_replay[op] = after_replay

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._drain(), name="call-log"),
                       asyncio.create_task(self._replay(), name="call-log-replay")]
        if self._depth:
            log.warning("call log: %d writes in the spool %s from before; replaying", self._depth, self.spool.path)
            self._wake.set()

    # -- writes ---------------------------------------------------------------------
    def submit(self, op: str, *args: Any, **kwargs: Any) -> None:
        """Queue the write ``op(*args, **kwargs)`` (``args[0]``: the call's id); it runs after everything
        queued before it."""
        self._enqueue(op, args, kwargs, args[0] if args and isinstance(args[0], str) else None)

    async def call(self, op: str, *args: Any, **kwargs: Any) -> Any:
        """Run ``op`` after everything queued before it: its result, or PENDING when it went to the spool."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._enqueue(op, args, kwargs, args[0] if args and isinstance(args[0], str) else None, fut)
        return await fut

    def start_call(self, call_id: str, **fields: Any) -> None:
        self.submit("start_call", call_id, **fields)

    def update(self, call_id: str, **fields: Any) -> None:
        self.submit("update", call_id, **fields)

    def add_step(self, call_id: str, node: str, keys: str | None) -> None:
        self.submit("add_step", call_id, node, keys, _step_id())

    def start_transfer(self, call_id: str, key: str, **fields: Any) -> None:
        """A desk attempt named ``key`` by the caller, so that it need not wait for the row's id."""
        self.submit("start_transfer", call_id, key=key, **fields)

    def finish_transfer(self, call_id: str, key: str, **fields: Any) -> None:
        self._enqueue("finish_transfer", (key,), fields, call_id)

    def transfer_bridged(self, call_id: str, key: str, answered_at: datetime) -> None:
        """The attempt ``key`` found bridged to its desk: answered, unless logged already."""
        self._enqueue("transfer_bridged", (key,), {"answered_at": answered_at}, call_id)

    # -- what other code reads --------------------------------------------------------
    def depth(self) -> int:
        """Writes waiting in the spool for the database."""
        return self._depth

    def pending_calls(self) -> set[str]:
        """Calls with writes not yet in the database (queued, running or spooled): their rows are not
        what the calls did yet."""
        return {call_id for call_id, count in self._pending.items() if count > 0}

    async def flush(self) -> None:
        """Until every write made so far is in the database or in the spool."""
        await self._queue.join()

    async def close(self) -> None:
        await self.flush()
        if self._depth:
            log.warning("call log: %d writes left in the spool %s for the next start", self._depth, self.spool.path)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # a database write still running (a cancelled replay's) ends before the log is closed: once closed,
        # nothing of this log reaches the database (a hung database: given the write deadline, no more)
        await self._db.settled(self.deadline)
        await asyncio.to_thread(self.spool.close)

    # -- the writer ------------------------------------------------------------------------
    def _enqueue(self, op: str, args: tuple[Any, ...], kwargs: dict[str, Any], call_id: str | None,
                 fut: asyncio.Future[Any] | None = None) -> None:
        if op not in self._ops:
            raise KeyError(f"no call-log write named {op!r}")
        if call_id is not None:
            self._pending[call_id] += 1
        self._queue.put_nowait(_Write(SpooledWrite(self.spool.reserve(), op, args, kwargs, call_id), fut))

    async def _drain(self) -> None:
        while True:
            write = await self._queue.get()
            try:
                if self._depth or self._inflight is not None:
                    await self._to_spool(write)
                else:
                    await self._direct(write)
            except Exception as exc:    # the spool itself failed (its disk): nothing more to do
                log.exception("call=%s %s lost: the spool %s failed", write.spooled.call_id, write.spooled.op,
                              self.spool.path)
                self._settle(write, exc)
            finally:
                self._queue.task_done()

    async def _direct(self, write: _Write) -> None:
        fut = self._db.run(self._apply, write.spooled)
        try:
            result = await asyncio.wait_for(asyncio.shield(fut), self.deadline)
        except TimeoutError:
            log.warning("call=%s %s: no answer from the database in %.1f s; the call log goes to the spool",
                        write.spooled.call_id, write.spooled.op, self.deadline)
            self._inflight = fut      # replayed only once it is over: it must not land after a later write
            fut.add_done_callback(self._inflight_over)
            await self._to_spool(write)
        except Exception as exc:
            if not database_unavailable(exc):
                log.error("call=%s call log write %s refused, kept aside in %s: %s", write.spooled.call_id,
                          write.spooled.op, self.spool.path, exc)
                await asyncio.to_thread(self.spool.reject, write.spooled, repr(exc))
                self._settle(write, exc)
                return
            log.warning("call=%s %s: database unavailable (%s); the call log goes to the spool",
                        write.spooled.call_id, write.spooled.op, _short(exc))
            await self._to_spool(write)
        else:
            self._settle(write, result)

    def _inflight_over(self, fut: asyncio.Future[Any]) -> None:
        if not fut.cancelled():
            fut.exception()     # retrieved: the spool holds the write whatever came of it
        self._inflight = None
        self._wake.set()

    async def _to_spool(self, write: _Write) -> None:
        await asyncio.to_thread(self.spool.append, write.spooled)
        self._depth += 1
        if write.result is not None and not write.result.done():
            write.result.set_result(PENDING)
        self._wake.set()

    def _settle(self, write: _Write, outcome: Any) -> None:
        """The write is in the database, or refused: no longer pending; tell whoever awaits it."""
        if write.spooled.call_id is not None:
            self._pending[write.spooled.call_id] -= 1
            if self._pending[write.spooled.call_id] <= 0:
                del self._pending[write.spooled.call_id]
        if write.result is None or write.result.done():
            return
        if isinstance(outcome, BaseException):
            write.result.set_exception(outcome)
        else:
            write.result.set_result(outcome)

    def _apply(self, write: SpooledWrite) -> Any:
        return self._ops[write.op](*write.args, **write.kwargs)

    # -- the replay ----------------------------------------------------------------------------
    async def _replay(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._inflight is not None:
                continue        # woken again once it is over
            if self._depth:
                await self._replay_all()

    async def _replay_all(self) -> None:
        delay, replayed, began, logged_at = RETRY_FIRST, 0, time.monotonic(), 0.0
        while self._depth and self._inflight is None:
            write = await asyncio.to_thread(self.spool.first)
            if write is None:
                self._depth = 0
                break
            try:
                result = await self._db.run(self._apply, write)
            except Exception as exc:
                if database_unavailable(exc):
                    if time.monotonic() - logged_at >= OUTAGE_LOG_EVERY:
                        logged_at = time.monotonic()
                        log.warning("call log: database still unavailable (%s); %d writes in the spool, "
                                    "next try in %.1f s", _short(exc), self._depth, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.retry_max)
                    continue
                log.error("call=%s spooled %s refused by the database, kept aside in %s: %s",
                          write.call_id, write.op, self.spool.path, exc)
                await asyncio.to_thread(self.spool.reject, write, repr(exc))
            else:
                await asyncio.to_thread(self.spool.remove, write.seq)
                self._replayed(write, result)
            replayed += 1
            delay = RETRY_FIRST
            self._depth -= 1
            self._settle(_Write(write), None)
        if replayed:
            log.info("call log: %d writes replayed from the spool, %.1f s after the first try; %d left", replayed,
                     time.monotonic() - began, self._depth)

    def _replayed(self, write: SpooledWrite, result: Any) -> None:
        after = self._after_replay.get(write.op)
        if after is None:
            return
        try:
            after(result)
        except Exception:
            log.exception("call=%s after replaying %s", write.call_id, write.op)


class _DatabaseThread:
    """One daemon thread that runs the call log's database work, one piece at a time, in order."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[asyncio.Future[Any], Callable[..., Any], tuple[Any, ...]]] = \
            queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def run(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="call-log-db", daemon=True)
            self._thread.start()
        self._jobs.put((fut, fn, args))
        return fut

    async def settled(self, timeout: float) -> None:
        """Return once the work queued before now is done, or after ``timeout`` seconds (a hung database)."""
        if self._thread is None:
            return
        try:
            await asyncio.wait_for(self.run(_nothing), timeout)
        except TimeoutError:
            log.warning("call log: a database write still runs after %.1f s; closing without it", timeout)

    def _work(self) -> None:
        while True:
            fut, fn, args = self._jobs.get()
            try:
                outcome: Any = fn(*args)
            except BaseException as exc:
                outcome = exc
            try:
                fut.get_loop().call_soon_threadsafe(_deliver, fut, outcome)
            except RuntimeError:        # the loop is closed: nobody waits any more
                pass


def _nothing() -> None:
    return None


def _deliver(fut: asyncio.Future[Any], outcome: Any) -> None:
    if fut.done():
        return
    if isinstance(outcome, BaseException):
        fut.set_exception(outcome)
    else:
        fut.set_result(outcome)


def _step_id() -> str:
    return uuid.uuid4().hex[:12]


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.splitlines()[0][:120] if text else type(exc).__name__
