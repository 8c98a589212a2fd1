"""``hotline transfer CALL_ID CODE --to KIND --operator NAME [--attended]``."""
from __future__ import annotations

import click

from hotline.cli.errors import refusal_exits
from hotline.domain.directory import KINDS
from hotline.services.transfers import TransferRequest, transfer_service


@click.command("transfer")
@click.argument("call_id")
@click.argument("code")
@click.option("--to", "kind", type=click.Choice(KINDS), required=True, help="The kind of directory entry.")
@click.option("--operator", required=True, help="The operator on the call (e.g. op-lan).")
@click.option("--attended", is_flag=True, help="Talk to the desk first; hang up to hand the caller over.")
def transfer_command(call_id: str, code: str, kind: str, operator: str, attended: bool) -> None:
    """Send the caller of CALL_ID on to the one-stop desk CODE (blind, or attended with --attended)."""
    from hotline.cli.main import _context
    with refusal_exits():
        ctx = _context()
        service = transfer_service(ctx.settings, ctx.secrets, ctx.directory, ctx.sessions())
        request = TransferRequest(call_id, kind, code, operator, attended)
        channel = service.transfer(request)
    how = "attended (hang up to hand the caller over)" if attended else "blind"
    click.echo(f"✓ call {call_id}: {how} transfer to {request.target} started from {channel}")
