"""``hotline public`` (serve the public site), ``hotline mailbox`` (read the hotline's mailbox) and ``hotline
channels`` (the written channels' credentials and Open311 keys; README: Channels)."""
from __future__ import annotations

import sys

import click

from hotline.cli.errors import as_click_error

#: The credentials a channel's provider gives the province, kept in secrets.toml [channels].
CHANNEL_SECRETS = {
    "sms_token": "the token the SMS gateway sends with each text (Authorization: Bearer, or the HMAC key of "
                 "X-Signature)",
    "sms_send_token": "the SMS gateway's API key for sending",
    "zalo_secret_key": "the Zalo OA secret key, not the app's (checks each event's X-ZEvent-Signature)",
    "zalo_access_token": "the Zalo OA's access token (sends messages)",
    "facebook_app_secret": "the Facebook app's secret (checks X-Hub-Signature-256)",
    "facebook_verify_token": "the token Facebook sends when the webhook is set up",
    "facebook_page_token": "the Page access token (sends messages)",
    "mailbox_password": "the password of the hotline's mailbox (IMAP)",
}


@click.command("public")
@click.option("--port", type=int, default=None, help="Default: [public] port (8095).")
def public_command(port: int | None) -> None:
    """Serve the public site (the web form, the status page, Open311, the webhooks) on [public] bind and port."""
    from waitress import serve

    from hotline.cli.main import _context
    from public_site import create_app
    ctx = _context()
    s = ctx.settings.public
    if not s.enabled:
        click.echo("[public] enabled = false: the public site is off.")
        return
    app = create_app(ctx)
    if s.proxy_hops == 0 and s.bind in ("127.0.0.1", "::1", "localhost"):
        click.echo("[public] Listening on this machine only with proxy_hops = 0: behind the TLS proxy every citizen "
                   "seems to come from the proxy and shares one rate limit; set [public] proxy_hops = 1 there.",
                   err=True)
    click.echo(f"Trang công khai 1022: http://{s.bind}:{port or s.port}/")
    serve(app, host=s.bind, port=port or s.port, threads=16, connection_limit=200, channel_timeout=60,
          ident="hotline-1022")


@click.command("mailbox")
def mailbox_command() -> None:
    """Read [mailbox] over IMAP until stopped (SIGTERM, Ctrl-C): each e-mail a ticket, its receipt by e-mail."""
    import signal
    import threading

    from hotline.cli.main import _context
    from hotline.context import setup_logging
    from hotline.intake.mailbox import reader
    ctx = _context()
    m = ctx.settings.mailbox
    if not m.enabled:
        click.echo("[mailbox] enabled = false: the mailbox is not read.")
        return
    setup_logging("mailbox")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda _signum, _frame: stop.set())
    click.echo(f"Đọc hộp thư {m.user}@{m.host}:{m.port}/{m.folder}")
    reader(ctx, ctx.intake(ctx.sessions(tolerate_outage=True), jobs=True)).run(stop)   # the database may come later


@click.group("channels")
def channels_group() -> None:
    """The written channels: credentials and Open311 API keys."""


@channels_group.command("secret")
@click.argument("name", type=click.Choice(sorted(CHANNEL_SECRETS)))
def secret_command(name: str) -> None:
    """Keep a channel's credential in secrets.toml (read from standard input or asked, never an argument)."""
    from hotline.cli.main import _context
    value = sys.stdin.readline().strip() if not sys.stdin.isatty() else click.prompt(
        f"{name} ({CHANNEL_SECRETS[name]})", hide_input=True)
    if not value:
        raise click.UsageError("no value given; nothing changed")
    with as_click_error():
        _context().secrets.set_channel_secret(name, value)
    click.echo(f"Đã lưu {name} (secrets.toml [channels]). Khởi động lại `hotline public`, `hotline mailbox` và "
               "worker để dùng.")


@channels_group.command("open311-key")
@click.argument("client")
def open311_key_command(client: str) -> None:
    """Make (or show again) the Open311 API key of CLIENT, another system that posts requests."""
    from hotline.cli.main import _context
    with as_click_error():
        key = _context().secrets.open311_key(client)
    click.echo(key)
