"""Drive SIPp for integration tests, benchmarks and ``hotline call``: pcaps, scenarios, processes."""
from tooling.sipp.desk_scenario import DeskHangup, build_desk_xml, write_desk_scenario
from tooling.sipp.pcap import (
    DtmfSequencer,
    RtpPacket,
    RtpSequencer,
    read_pcap,
    ulaw_encode,
    write_audio_pcap,
    write_dtmf_pcap,
)
from tooling.sipp.process import SippProcess, SippStats, free_media_port, free_udp_port, read_stats
from tooling.sipp.runner import (
    CallerProcess,
    CallResult,
    DeskProcess,
    LoadResult,
    run_caller,
    run_load,
    start_caller,
    start_uas,
)
from tooling.sipp.scenario import (
    AwaitHangup,
    CallerScript,
    HangUp,
    Keys,
    Speak,
    Wait,
    build_caller_xml,
    write_caller_scenario,
)

__all__ = [
    "AwaitHangup", "CallResult", "CallerProcess", "CallerScript", "DeskHangup", "DeskProcess",
    "DtmfSequencer", "HangUp", "Keys", "LoadResult", "RtpPacket", "RtpSequencer", "SippProcess",
    "SippStats", "Speak", "Wait", "build_caller_xml", "build_desk_xml", "free_media_port",
    "free_udp_port", "read_pcap", "read_stats", "run_caller", "run_load", "start_caller", "start_uas",
    "ulaw_encode", "write_audio_pcap", "write_caller_scenario", "write_desk_scenario",
    "write_dtmf_pcap",
]
