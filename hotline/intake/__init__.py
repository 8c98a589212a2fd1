"""Requests in writing: every channel's door to the one ticket queue (README: Channels).

``service`` is the door itself (checks, files, the ticket and its thread, the receipt); ``voice`` is the phone's
(a voice message's rows, its ticket and its work, for the ARI app, its reconciler and the AGI fallback); ``files``
keeps photos and attachments; ``outbox`` sends the hotline's messages back through each channel (the worker's
job). Every door ends in the ticket service (hotline.services.tickets), the one place a code is given, a
TicketEvent written and the follow-up work scheduled; the console's own tickets are made there too. A
channel is an adapter that turns what it receives into a ``Request`` (the public site's form, webhooks and
Open311; the mailbox reader) plus, if the hotline can write back through it, a sender in ``outbox``.
"""
from hotline.intake.files import FileRefused, Upload
from hotline.intake.service import CHANNELS, Intake, IntakeError, Receipt, Request, is_mobile, normal_phone

__all__ = ["CHANNELS", "FileRefused", "Intake", "IntakeError", "Receipt", "Request", "Upload", "is_mobile",
           "normal_phone"]
