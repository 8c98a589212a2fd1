"""The knowledge base in the console: search (also while on a call), read, and edit (supervisors)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from hotline.domain.errors import for_people
from hotline.services.knowledge import ArticleError, KnowledgeBase

from .auth import requires
from .services import services

bp = Blueprint("kb", __name__, url_prefix="/kb")


def kb() -> KnowledgeBase:
    return services().knowledge


@bp.route("/")
@requires("kb.view")
def index() -> Any:
    q = request.args.get("q", "")
    category = request.args.get("category") or None
    return render_template("kb.html", articles=kb().search(q, category=category), q=q, category=category,
                           categories=services().ctx.categories.entries)


@bp.route("/search")
@requires("kb.view")
def search() -> Any:
    """JSON for the softphone's search box: the articles matching ``q``."""
    return jsonify(articles=[a.to_dict() for a in kb().search(request.args.get("q", ""), limit=8)])


@bp.route("/<int:article_id>")
@requires("kb.view")
def show(article_id: int) -> Any:
    article = kb().get(article_id)
    if article is None:
        abort(404)
    return render_template("kb_article.html", a=article, categories=services().ctx.categories)


@bp.route("/new", methods=["GET", "POST"])
@bp.route("/<int:article_id>/edit", methods=["GET", "POST"])
@requires("kb.edit")
def edit(article_id: int | None = None) -> Any:
    base = kb()
    article = base.get(article_id) if article_id else None
    if article_id and article is None:
        abort(404)
    if request.method == "POST":
        try:
            saved = base.save(request.form.to_dict(), actor=current_user.name, article_id=article_id)
        except ArticleError as exc:
            flash(f"Chưa lưu được: {for_people(exc)}", "error")
            return render_template("kb_edit.html", a=request.form, article_id=article_id,
                                   categories=services().ctx.categories.entries,
                                   agencies=services().ctx.directory.entries), 400
        flash("Đã lưu bài viết.", "info")
        return _to(saved.id)
    return render_template("kb_edit.html", a=article.to_dict() if article else {}, article_id=article_id,
                           categories=services().ctx.categories.entries, agencies=services().ctx.directory.entries)


def _to(article_id: int) -> Response:
    return redirect(url_for("kb.show", article_id=article_id))
