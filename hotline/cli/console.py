"""``hotline console``: serve the browser console."""
from __future__ import annotations

import click


@click.command("console")
@click.option("--port", type=int, default=None, help="Default: [console] port (8090).")
def console_command(port: int | None) -> None:
    """Serve the browser console (waitress) on [console] bind and port."""
    from waitress import serve

    from hotline.cli.main import _context
    from operator_console import create_app
    from operator_console.serving import waitress_options
    ctx = _context()
    app = create_app(ctx)
    s = ctx.settings.console
    click.echo(f"Bảng điều khiển 1022: http://{s.bind}:{port or s.port}/")
    serve(app, host=s.bind, port=port or s.port, **waitress_options(s))
