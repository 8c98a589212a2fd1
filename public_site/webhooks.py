"""The channels' webhooks: the SMS gateway, Zalo OA and Facebook Page (to be filled in: issue 15, items 4-5)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("webhooks", __name__)
