"""The knowledge base: articles on administrative procedures (documents, fees, time limits, desk).

Operators search it during a call; supervisors and admins edit it. ``hotline kb import FILE``
loads articles from YAML (the sample set: ``knowledge_base.yaml``); an article with the same
title is updated, not duplicated.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from hotline.adapters.db.models import Article
from hotline.domain.errors import ConfigError, HotlineError
from hotline.domain.yamlio import load_yaml

FIELDS = ("title", "category", "summary", "documents", "fees", "time_limit", "desk")


class ArticleError(HotlineError):
    """An article that cannot be saved (no title, unknown category or desk); its message is Vietnamese."""

    def __init__(self, message: str) -> None:
        super().__init__(message, vi=message)


@dataclass(frozen=True)
class ArticleView:
    id: int
    title: str
    category: str
    summary: str
    documents: str
    fees: str
    time_limit: str
    desk: str | None
    updated_at: datetime
    updated_by: str

    @classmethod
    def of(cls, a: Article) -> ArticleView:
        return cls(a.id, a.title, a.category, a.summary, a.documents, a.fees, a.time_limit, a.desk,
                   a.updated_at, a.updated_by)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "updated_at": self.updated_at.isoformat()}


class KnowledgeBase:
    def __init__(self, sessions: sessionmaker[Session], now: Callable[[], datetime],
                 categories: Any, desk_known: Callable[[str], bool]) -> None:
        self.sessions, self.now, self.categories, self.desk_known = sessions, now, categories, desk_known

    def search(self, text: str = "", *, category: str | None = None, limit: int = 20) -> list[ArticleView]:
        """Articles with every word of ``text`` in the title, summary, documents or fees (any case)."""
        q = select(Article).order_by(Article.title).limit(limit)
        if category:
            q = q.where(Article.category == category)
        for word in text.split()[:8]:
            like = f"%{word.lower().replace('%', '').replace('_', '')}%"
            q = q.where(or_(*(func.lower(getattr(Article, f)).like(like)
                              for f in ("title", "summary", "documents", "fees"))))
        with self.sessions() as s:
            return [ArticleView.of(a) for a in s.scalars(q)]

    def get(self, article_id: int) -> ArticleView | None:
        with self.sessions() as s:
            a = s.get(Article, article_id)
            return ArticleView.of(a) if a else None

    def save(self, fields: dict[str, Any], *, actor: str, article_id: int | None = None) -> ArticleView:
        values = {k: (str(fields.get(k) or "").strip()) for k in FIELDS}
        if not values["title"]:
            raise ArticleError("bài viết cần có tiêu đề")
        if values["category"] not in self.categories:
            raise ArticleError(f"lĩnh vực {values['category']!r} không có trong ticket_categories.yaml")
        desk = values["desk"] or None
        if desk and not self.desk_known(desk):
            raise ArticleError(f"đầu mối {desk!r} không có trong danh bạ chuyển cuộc gọi")
        with self.sessions.begin() as s:
            a = s.get(Article, article_id) if article_id else s.scalar(select(Article).where(
                Article.title == values["title"]))
            if article_id and a is None:
                raise ArticleError(f"không có bài viết {article_id}")
            if a is None:
                a = Article(updated_at=self.now(), updated_by=actor)
                s.add(a)
            for k in FIELDS:
                setattr(a, k, desk if k == "desk" else values[k])
            a.updated_at, a.updated_by = self.now(), actor
            s.flush()
            return ArticleView.of(a)

    def import_file(self, path: Path, *, actor: str = "import") -> int:
        data = load_yaml(path)
        items = data.get("articles") if hasattr(data, "get") else None
        if not isinstance(items, list) or not items:
            raise ConfigError(path, None, "no 'articles:' list", "write articles: followed by entries with title, "
                              "category, summary, documents, fees, time_limit, desk")
        for item in items:
            try:
                self.save(dict(item), actor=actor)
            except ArticleError as exc:
                raise ConfigError(path, getattr(item, "line", None), str(exc), "fix that article") from None
        return len(items)
