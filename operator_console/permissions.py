"""Who may do what in the console: one table, enforced on the server for every route.

Every view is declared with ``@requires(PERMISSION)`` (``operator_console.auth``); a route with
no declaration is refused to everyone, and the table-driven test (tests/unit/test_console.py)
walks every route of the application against this table.
"""
from __future__ import annotations

from typing import Any

from hotline.adapters.db.models import Role
from hotline.domain.redact import masked_number

OP, SUP, ADM, AG = Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN, Role.AGENCY

#: permission -> the roles that hold it.
PERMISSIONS: dict[str, frozenset[str]] = {
    "console.open": frozenset({OP, SUP, ADM, AG}),          # the home page, their own profile
    "tickets.view": frozenset({OP, SUP, ADM, AG}),          # agency: their agency's tickets only
    "tickets.write": frozenset({OP, SUP, ADM}),             # create, categorise, assign, close
    "tickets.answer": frozenset({OP, SUP, ADM, AG}),        # agency: their agency's tickets only
    "calls.view": frozenset({OP, SUP, ADM}),                # call history of a number
    "phone.use": frozenset({OP, SUP, ADM}),                 # the softphone (users linked to an operator)
    "calls.place": frozenset({OP, SUP}),                    # call a citizen (back) and say what came of it
    "recordings.play": frozenset({SUP, ADM}),               # any recording: search, replay, download (AccessLog)
    "tickets.audio": frozenset({SUP, ADM, AG}),             # a ticket's call recording and voicemail, on its
                                                            # page (AccessLog with the ticket); agency: its own
    "wallboard.view": frozenset({SUP, ADM}),                # the floor, live
    "calls.supervise": frozenset({SUP, ADM}),               # listen, whisper, barge (AccessLog)
    "reports.view": frozenset({SUP, ADM}),                  # figures, charts, CSV / XLSX
    "kb.view": frozenset({OP, SUP, ADM, AG}),               # the knowledge base
    "kb.edit": frozenset({SUP, ADM}),
    "answers.publish": frozenset({SUP, ADM}),               # approve or withdraw an answer on the public page
    "users.manage": frozenset({ADM}),
    "privacy.export": frozenset({ADM}),                     # a citizen's data, as one archive (AccessLog)
    "access_log.view": frozenset({ADM}),                    # the AccessLog: who read which personal data; CSV
}

#: The routes open to anyone, signed in or not (``@public``; the gate refuses a ``@public`` view not listed
#: here): endpoint -> why.
PUBLIC: dict[str, str] = {
    "auth.login": "the sign-in page",
    "api.openapi": "the API's description (no data)",
    "health.healthz": "the hotline's health for monitoring: parts up or down, counts and ages, no personal data",
}

#: Roles that see a caller's full number, and may search by it; the others see it masked (*******678).
FULL_NUMBERS = frozenset({OP, SUP, ADM})


def allowed(role: str | None, permission: str) -> bool:
    return role is not None and role in PERMISSIONS.get(permission, frozenset())


def mask_number(number: str | None, role: str | None) -> str:
    """A caller's number as ``role`` may see it: whole, or only its last 3 digits (never the rest: a masked
    number must not be recoverable from what an agency sees)."""
    if number and role in FULL_NUMBERS:
        return number
    return masked_number(number)


def for_role(ticket: dict[str, Any], role: str | None) -> dict[str, Any]:
    """A ticket as ``role`` may see it (pages and API alike): for the roles without full numbers (agencies), the
    citizen's number, e-mail and name and the thread's addresses masked (the hotline writes back, not they), and
    no channel's error text; the place the request is about stays: the agency goes there."""
    if role in FULL_NUMBERS:
        return ticket
    name = ticket.get("contact_name")
    out = {**ticket, "caller": masked_number(ticket.get("caller")),
           "contact_email": masked_number(ticket.get("contact_email")),
           "contact_name": f"{name.split()[-1][:1]}." if name else name}
    if "messages" in ticket:
        out["messages"] = [{**m, "address": masked_number(m["address"]), "error": None} for m in ticket["messages"]]
    return out
