"""A citizen's data rights in the console (admins): the archive of everything kept about a number.

The same service as ``hotline privacy export`` (hotline.services.privacy); each export is an AccessLog
row with the admin's name and the client's address. Erasure stays on the command line, where its reason
and its --force are asked for explicitly.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from flask import Blueprint, after_this_request, render_template, request, send_file
from flask_login import current_user
from werkzeug.wrappers import Response

from hotline.services.privacy import PrivacyError, PrivacyService

from .auth import requires
from .services import services

bp = Blueprint("privacy", __name__, url_prefix="/privacy")


@bp.route("/")
@requires("privacy.export")
def page() -> Any:
    return render_template("privacy.html", error=None, caller="")


@bp.route("/export", methods=["POST"])
@requires("privacy.export")
def export() -> Any:
    """The zip of everything kept about the number in the form (calls, recordings, messages, tickets)."""
    svc = services()
    caller = (request.form.get("caller") or "").strip()
    privacy = PrivacyService(svc.sessions, Path(svc.ctx.settings.paths.recordings_root), svc.ctx.clock.now,
                             svc.ctx.settings.paths.attachments)
    folder = Path(tempfile.mkdtemp(prefix="hotline-export-"))
    archive = folder / f"du-lieu-{caller[-3:]}-{svc.ctx.clock.now():%Y%m%d-%H%M%S}.zip"
    try:
        privacy.export(caller, archive, actor=current_user.name, remote_addr=request.remote_addr)
    except PrivacyError as exc:
        folder.rmdir()
        return render_template("privacy.html", error=exc.vi, caller=caller), 400

    @after_this_request
    def _remove(response: Response) -> Response:
        archive.unlink(missing_ok=True)    # the file is open for sending; the archive lives only in the download
        folder.rmdir()
        return response
    return send_file(archive, mimetype="application/zip", as_attachment=True, download_name=archive.name,
                     max_age=0)
