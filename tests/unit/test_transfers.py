"""Operators' transfers: the pure parts (extensions, the operator's channel, outcomes)."""
from __future__ import annotations

import pytest

from hotline.services.transfers import TransferError, consulting_channel, dial_outcome, operator_channel, transfer_exten

CHANNELS = [
    {"Channel": "PJSIP/anonymous-00000001", "Uniqueid": "hotline1-1.1", "BridgeId": "b1"},
    {"Channel": "PJSIP/op-lan-00000002", "Uniqueid": "hotline1-1.2", "BridgeId": "b1"},
    {"Channel": "PJSIP/anonymous-00000003", "Uniqueid": "hotline1-1.3", "BridgeId": ""},
    {"Channel": "PJSIP/op-lanh-00000004", "Uniqueid": "hotline1-1.4", "BridgeId": "b2"},
]


def test_extensions_are_digits_by_kind_and_code() -> None:
    assert transfer_exten("department", "02") == "102"
    assert transfer_exten("district", "11") == "211"
    assert transfer_exten("provincial_office", "01") == "301"
    assert transfer_exten("postal_service", "01") == "401"
    with pytest.raises(TransferError):
        transfer_exten("ward", "01")


def test_operator_channel_is_the_peer_in_the_callers_bridge() -> None:
    assert operator_channel(CHANNELS, "hotline1-1.1", "op-lan") == "PJSIP/op-lan-00000002"


@pytest.mark.parametrize("call_id, operator, message", [
    ("nope", "op-lan", "not in progress"),
    ("hotline1-1.3", "op-lan", "in no bridge"),
    ("hotline1-1.1", "op-lanh", "not on call"),
])
def test_operator_channel_says_why_not(call_id: str, operator: str, message: str) -> None:
    with pytest.raises(TransferError, match=message):
        operator_channel(CHANNELS, call_id, operator)


def test_consulting_channel_is_the_operators_channel_of_the_call_out_of_the_callers_bridge() -> None:
    during = [{"Channel": "PJSIP/anonymous-00000001", "Linkedid": "hotline1-1.1", "BridgeId": "b1"},
              {"Channel": "PJSIP/op-lanh-00000005", "Linkedid": "hotline1-1.9", "BridgeId": "b3"},
              {"Channel": "PJSIP/op-lan-00000002", "Linkedid": "hotline1-1.1", "BridgeId": "b4"},
              {"Channel": "Local/0@hotline-desk-transfer-00000001;2", "Linkedid": "hotline1-1.1", "BridgeId": ""}]
    assert consulting_channel(during, "hotline1-1.1", "op-lan") == "PJSIP/op-lan-00000002"
    with pytest.raises(TransferError, match="no channel in call") as refused:
        consulting_channel(during, "hotline1-1.9", "op-lan")
    assert refused.value.vi and "cuộc gọi" in refused.value.vi


def test_dial_status_outcomes() -> None:
    assert [dial_outcome(s) for s in ("ANSWER", "BUSY", "NOANSWER", "CANCEL", "", "CHANUNAVAIL", "CONGESTION")] == \
        ["answered", "busy", "noanswer", "abandoned", "abandoned", "failed", "failed"]


def test_an_operator_s_channel_is_never_another_whose_name_it_begins() -> None:
    """op-hoa is not on the call op-hoa-2 talks in: a transfer by op-hoa finds no channel of its own there."""
    from hotline.adapters.ami.messages import endpoint_channel, is_endpoint_channel
    rows = [{"Channel": "PJSIP/op-hoa-2-0000001c", "BridgeId": "b1", "Uniqueid": "x", "Linkedid": "l1"}]
    assert endpoint_channel(rows, "op-hoa", bridge="b1") is None
    assert endpoint_channel(rows, "op-hoa-2", bridge="b1") == "PJSIP/op-hoa-2-0000001c"
    assert is_endpoint_channel("PJSIP/op-hoa-0000001c", "op-hoa")
    assert not is_endpoint_channel("PJSIP/op-hoa-0000001c;2", "op-hoa") and not is_endpoint_channel("PJSIP/op-h", "op")
