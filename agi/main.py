"""Composition root of the FastAGI server: ``python -m agi``."""
from __future__ import annotations

import logging
import signal
import sys
import threading
from typing import Any

from hotline.adapters.asterisk_config import prompts_dir
from hotline.adapters.db.repository import CallRepository
from hotline.context import load_context, setup_logging
from hotline.domain.errors import HotlineError
from hotline.intake.voice import MessageIntake
from hotline.services.callbacks import Callbacks

from .admission import AdmissionHandlers
from .callbacks import CallbackHandlers
from .handlers import FallbackHandlers
from .outbound import OutboundHandlers
from .server import FastAGIServer
from .ticket_status import TicketStatusHandlers
from .transfers import TransferHandlers

log = logging.getLogger("agi")


def main() -> None:
    setup_logging("agi")
    try:
        ctx = load_context()
    except HotlineError as exc:
        print(f"agi: {exc}", file=sys.stderr)
        sys.exit(2)
    s = ctx.settings
    # Callers go on without the database; the rows it starts record this node.
    repo = CallRepository(ctx.sessions(tolerate_outage=True), node=s.cluster.node)
    messages = MessageIntake(repo, ctx.tickets(repo.sessions), s.voicemail.min_seconds, ctx.clock.now)
    handlers = FallbackHandlers(repo, s.paths.recordings_root, ctx.clock.now, messages, s.paths.state_dir,
                                min_free_mb=s.recordings.min_free_mb)
    transfers = TransferHandlers(repo, ctx.clock.now)
    ticket_status = TicketStatusHandlers(ctx.tickets(repo.sessions), ctx.flow, prompts_dir(s), s.tickets.code_digits)
    admission = AdmissionHandlers(repo, ctx.clock.now)
    outbound = OutboundHandlers(repo, s.paths.recordings_root, ctx.clock.now)
    callbacks = CallbackHandlers(Callbacks.configured(repo.sessions, ctx.clock.now, s.callback),
                                 ctx.tickets(repo.sessions, jobs=True), lambda: ctx.hours.is_open(ctx.clock.now()))
    server = FastAGIServer((s.agi.bind, s.agi.port), {**handlers.routes(), **transfers.routes(),
                                                      **ticket_status.routes(), **admission.routes(),
                                                      **outbound.routes(), **callbacks.routes()})

    def stop(_sig: int, _frame: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("FastAGI server listening on %s:%d", s.agi.bind, s.agi.port)
    server.serve_forever(poll_interval=0.5)
    server.server_close()
