"""How a command says that the hotline refused what it was asked (a HotlineError)."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

from hotline.domain.errors import HotlineError


@contextmanager
def refusal_exits() -> Iterator[None]:
    """A HotlineError in the block: ``✗ <what>`` in red on stderr, exit status 2."""
    try:
        yield
    except HotlineError as exc:
        click.secho(f"✗ {exc}", fg="red", err=True)
        sys.exit(2)


@contextmanager
def as_click_error() -> Iterator[None]:
    """A HotlineError in the block: click's own ``Error: <what>``, exit status 1."""
    try:
        yield
    except HotlineError as exc:
        raise click.ClickException(str(exc)) from None
