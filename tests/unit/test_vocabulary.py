"""The shared vocabulary matches what Asterisk is given (every context name is a context of the dialplan), and
each list of words is spelled once."""
from __future__ import annotations

import re
from pathlib import Path

from hotline.adapters.asterisk_config import render
from hotline.adapters.db import models
from hotline.context import load_context
from hotline.domain.flows.model import TicketStatusNode
from hotline.domain.reports import OPEN_STATUSES
from hotline.domain.vocabulary import (
    LAST_CALL_KEY,
    LIVE_CHANNEL,
    QUEUE_NAME,
    SIGNIN_KEY_PREFIX,
    Context,
    Disposition,
    OperatorState,
    TicketStatus,
    live_snapshot_key,
)


def _rendered(tmp_path: Path, name: str) -> str:
    env = {"HOTLINE_STATE_DIR": str(tmp_path / "state"), "HOTLINE_RECORDINGS_ROOT": str(tmp_path / "rec")}
    ctx = load_context(env=env)
    conf = render(ctx.settings, ctx.secrets, ctx.directory, tmp_path / "conf")
    return (conf.parent / name).read_text()


def test_every_context_name_is_a_context_of_the_rendered_dialplan(tmp_path: Path) -> None:
    text = _rendered(tmp_path, "extensions.conf")
    contexts = set(re.findall(r"^\[([^\]]+)\]", text, re.M)) - {"general", "globals"}
    assert set(Context.ALL) == contexts


def test_the_queue_name_is_the_queue_of_queues_conf(tmp_path: Path) -> None:
    text = _rendered(tmp_path, "queues.conf")
    assert QUEUE_NAME in set(re.findall(r"^\[([^\]]+)\]", text, re.M))
    assert re.findall(r"^context = (\S+)", text, re.M) == [Context.QUEUE_KEYS]


def test_the_words_are_distinct_and_the_snapshot_key_follows_the_channel() -> None:
    assert len(set(Disposition.ALL)) == len(Disposition.ALL)
    assert len(set(OperatorState.ALL)) == len(OperatorState.ALL)
    assert len(set(TicketStatus.ALL)) == len(TicketStatus.ALL)
    assert live_snapshot_key("hotline:live") == "hotline:live:snapshot"


def test_the_redis_names_are_the_hotlines_and_distinct() -> None:
    names = (LIVE_CHANNEL, LAST_CALL_KEY, SIGNIN_KEY_PREFIX)
    assert all(name.startswith("hotline:") for name in names)
    assert len(set(names)) == len(names)


def test_the_ticket_statuses_are_spelled_once() -> None:
    assert models.TicketStatus is TicketStatus                       # the services import it from the models
    assert TicketStatusNode.STATUSES == ("new", "assigned", "in_progress", "answered", "closed", "out_of_scope",
                                         "duplicate")              # the order the readback's prompts follow
    assert set(TicketStatusNode.FINAL_WITHOUT_ANSWER) <= set(TicketStatus.FINAL)
    assert OPEN_STATUSES == TicketStatus.OPEN == ("new", "assigned", "in_progress")
