"""``hotline watch``: check the hotline every ``[alerts] check_seconds`` and e-mail the supervisors once per
alert and once per recovery (``hotline.services.alerts``); ``hotline up`` runs it as one of its processes."""
from __future__ import annotations

import dataclasses
import logging
import signal
import threading

import click


@click.command("watch")
@click.option("--once", is_flag=True, help="Check once, send what is due, and exit (cron, tests).")
def watch_command(once: bool) -> None:
    """Watch the hotline: e-mail the supervisors once when a part is down longer than [alerts] after_seconds,
    the disk is low or a message could not be saved, and once when it is resolved."""
    from hotline.cli.main import _context
    from hotline.context import setup_logging
    from hotline.services.alerts import AlertWatch
    setup_logging("watch")
    logging.getLogger("hotline.adapters.ami").setLevel(logging.ERROR)   # a refused AMI: said once, by the alert
    ctx = _context()
    ctx = dataclasses.replace(ctx, secrets=ctx.secrets.for_ami("watch"))   # its AMI account: health checks
    watch = AlertWatch.build(ctx)
    if once:
        watch.tick()
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda _signum, _frame: stop.set())
    watch.run(ctx.settings.alerts.check_seconds, stop)
