"""Open311 GeoReport v2 under /open311/v2/ (to be filled in: issue 15, item 6)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
