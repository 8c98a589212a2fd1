"""``hotline kb import FILE``: load or update knowledge-base articles from YAML."""
from __future__ import annotations

from pathlib import Path

import click

from hotline.cli.errors import refusal_exits
from hotline.services.knowledge import KnowledgeBase


@click.group("kb")
def kb_group() -> None:
    """The knowledge base operators read to callers (procedures: documents, fees, time limits)."""


@kb_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_articles(path: Path) -> None:
    """Load articles from PATH (e.g. knowledge_base.yaml); same title: updated."""
    from hotline.cli.main import _context
    ctx = _context()
    base = KnowledgeBase(ctx.sessions(), ctx.clock.now, ctx.categories,
                         lambda key: ctx.directory.find(*key.partition(":")[::2]) is not None)
    with refusal_exits():
        count = base.import_file(path)
    click.echo(f"✓ {count} articles loaded from {path}")
