"""``hotline unit …``: the steps systemd runs as root around Asterisk and the SIP guard (tooling/system/units.py).

The same work ``hotline up`` does around them: Asterisk's configuration rendered, its root's mounts and
owners before its command, the logged-in operators put back in the queue once it has booted, the mounts
removed after it stopped; the guard's nftables table and fail2ban configuration before fail2ban, the table
removed after. Not for people: ``hotline setup --systemd`` writes these into the units.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import click

from hotline.cli.errors import as_click_error


def say(message: str) -> None:
    click.echo(f"[unit] {message}")


def _context() -> Any:
    from hotline.context import load_context

    return load_context()


def _asterisk(ctx: Any, root: Path | None) -> Any:
    from tooling.system.assembly import asterisk_process
    from tooling.system.asterisk import AsteriskInstall

    s = ctx.settings
    state_dir = Path(s.paths.state_dir)
    install = (AsteriskInstall(root=root) if root is not None
               else AsteriskInstall(root=None, binary=shutil.which("asterisk") or "/usr/sbin/asterisk"))
    conf = state_dir / "asterisk" / "asterisk.conf"
    return asterisk_process(install, conf, state_dir, Path(s.paths.recordings_root), s.call_log_spool)


@click.group("unit", hidden=True)
def unit_group() -> None:
    """Steps of the hotline's systemd units (run by systemd as root)."""
    if os.geteuid() != 0:
        raise click.ClickException("These steps run as root, from the hotline's systemd units.")


ROOT = click.option("--root", type=click.Path(path_type=Path), default=None,
                    help="Asterisk's root (absent: the distribution's Asterisk).")


@unit_group.command("asterisk-prepare")
@ROOT
def asterisk_prepare(root: Path | None) -> None:
    """Render Asterisk's configuration, mount the shared folders in its root, give it its folders."""
    from hotline.adapters.asterisk_config import render
    from hotline.services.operators import context_service

    with as_click_error():
        ctx = _context()
        s = ctx.settings
        conf = render(s, ctx.secrets, ctx.directory, Path(s.paths.state_dir) / "asterisk",
                      clock_offset=ctx.clock.offset_seconds(), operators=context_service(ctx).endpoints())
        say(f"Asterisk's configuration rendered: {conf.parent}")
        _asterisk(ctx, root).prepare(walk_owned=False)      # set-up gave it every file once; a restart is quick
        say("Asterisk's root is ready (shared folders mounted, its folders its own)")


@unit_group.command("asterisk-ready")
@ROOT
def asterisk_ready(root: Path | None) -> None:
    """Wait until Asterisk has fully booted, then put the logged-in operators back in the queue."""
    from hotline.cli.system import _restore_logins
    from hotline.services.operators import context_service

    with as_click_error():
        ctx = _context()
        _asterisk(ctx, root).wait_booted(timeout=120)
        say("Asterisk has fully booted")
        _restore_logins(context_service(ctx), say)


@unit_group.command("asterisk-release")
@ROOT
def asterisk_release(root: Path | None) -> None:
    """After Asterisk stopped: its root's mounts removed (unless another Asterisk runs there)."""
    with as_click_error():
        _asterisk(_context(), root).release()
        say("Asterisk stopped; its root's mounts removed")


def _guard() -> Any:
    from tooling.system import sip_guard

    ctx = _context()
    return sip_guard.Guard.from_settings(ctx.settings, Path(ctx.settings.paths.state_dir))


@unit_group.command("sip-guard-prepare")
def sip_guard_prepare() -> None:
    """The SIP guard's nftables table and fail2ban's configuration."""
    from tooling.system import sip_guard

    with as_click_error():
        guard = _guard()
        sip_guard.install_firewall(guard)
        sip_guard.render_fail2ban(guard)
        say(f"SIP guard: nftables table {guard.table}, fail2ban's configuration in {guard.conf_dir}")


@unit_group.command("sip-guard-release")
def sip_guard_release() -> None:
    """The SIP guard's nftables table removed (its bans with it)."""
    from tooling.system import sip_guard

    guard = _guard()
    sip_guard.remove_firewall(guard)
    say(f"SIP guard: nftables table {guard.table} removed")
