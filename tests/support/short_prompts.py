"""The test stacks' voice prompts: the shipped ones, with the longest cut to their first sentences.

A closed-hours caller hears 36 s of prompts before the beep and the main menu alone lasts 35 s: most of a
call test's time was spent listening. The stacks render these few prompts from their first sentences
(real Vietnamese speech, made by the same espeak-ng and sox as the shipped ones), and every other prompt
as shipped. Nothing else changes: a test reads its waits from the stack's rendered files
(tests/support/calls.py, prompt_seconds), so they shrink with the prompts. The shipped prompts in full are
tested by `hotline setup` (tests/integration/test_hotline_up.py) and the unit tests of the prompts.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hotline.adapters.prompts import prompt_texts, render_texts

#: prompt -> sentences kept. The menu keeps three (keys 1 to 3: 12.5 s, time enough to key or hang up
#: during it); the closed-hours notice two (9.2 s: key 6 is taken during it alone, test_postal_messages.py);
#: a list keeps three entries.
SENTENCES_KEPT = {
    "main_menu": 3,
    "closed_hours": 2,
    "leave_message": 1,
    "message_saved": 1,
    "postal_leave_message": 1,
    "postal_message_saved": 1,
    "callback_kept": 1,
    "department_list": 3,
    "district_list": 3,
}

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def first_sentences(text: str, kept: int) -> str:
    """The first ``kept`` sentences of ``text`` (all of it when it has no more)."""
    return " ".join(_SENTENCE_END.split(text.strip())[:kept])


def short_texts(texts: Mapping[str, str]) -> dict[str, str]:
    """``texts`` with the prompts of SENTENCES_KEPT cut to their first sentences."""
    return {name: first_sentences(text, SENTENCES_KEPT[name]) if name in SENTENCES_KEPT else text
            for name, text in texts.items()}


def render_test_prompts(settings: Any, flow: Any, directory: Any, out_dir: Path) -> dict[str, Path]:
    """Render the flow's prompts for a test stack into ``out_dir`` (a province's recording still wins)."""
    texts = short_texts(prompt_texts(settings, flow, directory))
    return render_texts(texts, Path(settings.paths.prompts_dir), out_dir, lambda _m: None)
