"""Declarative IVR flows: the YAML format, its loader and validator, and the flow model."""
from __future__ import annotations

from hotline.domain.flows.loader import SPECS, FlowReport, check_flow, load_flow
from hotline.domain.flows.model import (
    CallbackNode,
    CodeEntryNode,
    Flow,
    HangupNode,
    HoursNode,
    MenuNode,
    Node,
    PlayNode,
    QueueNode,
    SurveyNode,
    TicketStatusNode,
    TransferNode,
    VoicemailNode,
)
from hotline.domain.flows.validate import (
    DTMF_KEYS,
    GENERATED_PROMPTS,
    PLACEHOLDERS,
    links,
    prompt_refs,
    reachable,
)

NODE_TYPES: dict[str, type] = {name: spec[0] for name, spec in SPECS.items()}
"""Node type as written after ``type:`` -> its dataclass."""

__all__ = [
    "DTMF_KEYS",
    "GENERATED_PROMPTS",
    "NODE_TYPES",
    "PLACEHOLDERS",
    "CallbackNode",
    "CodeEntryNode",
    "Flow",
    "FlowReport",
    "HangupNode",
    "HoursNode",
    "MenuNode",
    "Node",
    "PlayNode",
    "QueueNode",
    "SurveyNode",
    "TicketStatusNode",
    "TransferNode",
    "VoicemailNode",
    "check_flow",
    "links",
    "load_flow",
    "prompt_refs",
    "reachable",
]
