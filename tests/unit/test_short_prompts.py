"""The test stacks' prompts (tests.support.short_prompts): the shipped ones, the longest cut short."""
from __future__ import annotations

from hotline.adapters.prompts import prompt_texts
from hotline.context import load_context
from tests.support.short_prompts import SENTENCES_KEPT, first_sentences, short_texts


def test_first_sentences_cut_at_the_end_of_a_sentence_only() -> None:
    menu = "Để gặp Sở Tư pháp, nhấn 0 1. Để gặp Sở Tài chính, nhấn 0 2! Bấm sao? Hết."
    assert first_sentences(menu, 1) == "Để gặp Sở Tư pháp, nhấn 0 1."
    assert first_sentences(menu, 3) == "Để gặp Sở Tư pháp, nhấn 0 1. Để gặp Sở Tài chính, nhấn 0 2! Bấm sao?"
    assert first_sentences("Một câu, không dấu chấm", 1) == "Một câu, không dấu chấm"
    assert first_sentences("Giờ làm việc 7.30 đến 23.00. Xin cảm ơn.", 1) == "Giờ làm việc 7.30 đến 23.00."


def test_only_the_listed_prompts_of_the_shipped_flow_are_cut_and_each_is_really_shorter() -> None:
    """A prompt renamed in the flow but not here would go back to its full length without a word: it fails here."""
    ctx = load_context(env={})
    shipped = prompt_texts(ctx.settings, ctx.flow, ctx.directory)
    short = short_texts(shipped)
    assert set(SENTENCES_KEPT) <= set(shipped)
    assert set(short) == set(shipped)
    for name, text in shipped.items():
        if name in SENTENCES_KEPT:
            assert shipped[name].startswith(short[name]) and len(short[name]) < len(text) / 1.3, name
        else:
            assert short[name] == text, name
