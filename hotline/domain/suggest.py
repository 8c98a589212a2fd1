"""Suggesting a ticket's category and competent agency from its text: pure code, no database, no file.

Two linear models (logistic regression), one for the category (ticket_categories.yaml's codes) and one for
the agency ("department:03", "district:05"), over the same features of the Vietnamese text: word 1-2-grams
and character 2-5-grams (within words) of the lower-cased text with its diacritics, and word 1-2-grams of the
text without them (callers and transcripts do not always write them). ``seed_examples`` gives what the
province's files say of each category and agency; the ticket service adds what operators decided.
A suggestion is only ever shown: the operator confirms it or not (hotline.services.suggest).
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from hotline.domain.directory import Directory, fold
from hotline.domain.tickets.categories import Categories

MIN_WORDS = 2          # fewer words than this (empty, one word): no suggestion
FORMAT = 1             # the saved model's layout; another one is trained again
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Example:
    """A text with what it is about: its category, its agency (either may be unknown: None)."""

    text: str
    category: str | None = None
    agency: str | None = None


@dataclass(frozen=True)
class Guess:
    label: str
    confidence: float       # the model's probability, 0 to 1


@dataclass(frozen=True)
class Suggestion:
    """What the models say of one text: the category and the agency at or above the threshold (or None), and
    the three likeliest agencies whatever their confidence."""

    category: Guess | None
    agency: Guess | None
    agencies: tuple[Guess, ...] = ()


def normalise(text: str) -> str:
    """Lower case, diacritics kept (composed, NFC), one space between words."""
    return " ".join(unicodedata.normalize("NFC", text).lower().split())


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def _features() -> FeatureUnion:
    return FeatureUnion([
        ("words", TfidfVectorizer(preprocessor=normalise, ngram_range=(1, 2), sublinear_tf=True)),
        ("chars", TfidfVectorizer(preprocessor=normalise, analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)),
        ("folded", TfidfVectorizer(preprocessor=fold, ngram_range=(1, 2), sublinear_tf=True)),
    ])


class Classifier:
    """One target's model: texts to labels, ranked with their probability."""

    def __init__(self, texts: Sequence[str], labels: Sequence[str]) -> None:
        self.labels = sorted(set(labels))
        self.pipeline: Pipeline | None = None
        if len(self.labels) > 1:
            self.pipeline = Pipeline([("features", _features()), ("model", LogisticRegression(C=20, max_iter=3000))])
            self.pipeline.fit(list(texts), list(labels))

    def rank(self, text: str, n: int = 3) -> list[Guess]:
        """The ``n`` likeliest labels of ``text``, likeliest first."""
        if self.pipeline is None:
            return [Guess(label, 1.0) for label in self.labels[:n]]
        probabilities = self.pipeline.predict_proba([text])[0]
        classes = self.pipeline.classes_
        order = probabilities.argsort()[::-1][:n]
        return [Guess(str(classes[i]), float(probabilities[i])) for i in order]

    def confidence(self, text: str, label: str) -> float:
        """The probability the model gives ``label`` for ``text`` (0 for a label it does not know)."""
        return next((g.confidence for g in self.rank(text, len(self.labels)) if g.label == label), 0.0)


@dataclass
class SuggestModel:
    """Both models, when they were trained and on how much."""

    category: Classifier
    agency: Classifier
    trained_at: datetime
    examples: int
    format: int = FORMAT

    def suggest(self, text: str, min_confidence: float) -> Suggestion | None:
        """The suggestion for ``text``; None for fewer than MIN_WORDS words or nothing confident enough."""
        if len(words(text)) < MIN_WORDS:
            return None
        ranked = self.category.rank(text, 1)
        agencies = tuple(self.agency.rank(text, 3))
        category = ranked[0] if ranked and ranked[0].confidence >= min_confidence else None
        agency = agencies[0] if agencies and agencies[0].confidence >= min_confidence else None
        suggestion = Suggestion(category, agency, agencies)
        return suggestion if suggestion.category or suggestion.agency else None

    @property
    def sizes(self) -> dict[str, int]:
        return {"examples": self.examples, "categories": len(self.category.labels),
                "agencies": len(self.agency.labels)}


def train(examples: Iterable[Example], now: datetime) -> SuggestModel:
    """Both models from ``examples`` (those with a word; each model on those it has a label of)."""
    usable = [e for e in examples if words(e.text)]
    cats = [e for e in usable if e.category]
    agencies = [e for e in usable if e.agency]
    return SuggestModel(Classifier([e.text for e in cats], [str(e.category) for e in cats]),
                        Classifier([e.text for e in agencies], [str(e.agency) for e in agencies]),
                        now, len(usable))


def seed_examples(categories: Categories, directory: Directory) -> list[Example]:
    """What the province's files say: each category's name and each phrase of its description, and each
    agency's name (also without its kind's word: "Tư pháp", "Cao Lãnh")."""
    out: list[Example] = []
    for c in categories.entries:
        out.append(Example(f"{c.name}. {c.description}", category=c.code))
        out += [Example(p.strip(), category=c.code) for p in re.split(r"[,;]", c.description) if p.strip()]
    for a in directory.entries:
        key = f"{a.kind}:{a.code}"
        bare = re.sub(r"^(sở|huyện|thành phố|thị xã|xã|phường|đặc khu|ban quản lý)\s+", "", a.name, flags=re.I)
        out += [Example(a.name, agency=key), Example(bare, agency=key)]
    return out
