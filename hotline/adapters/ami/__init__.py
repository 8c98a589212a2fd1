"""The one adapter that speaks AMI (Asterisk Manager Interface), through panoramisk 1.4.

Every process that talks to Asterisk's manager goes through here:

- ``client``: ``AmiClient`` sends actions and waits for their answers (queue members, channel
  lists, Asterisk's uptime, transfers, Originate, CLI commands: only the command line's account may
  run those); ``SyncAmi.run`` runs one conversation for blocking callers (the command line, the console).
- ``listener``: ``AmiListener`` keeps one connection open for the monitor: events, a QueueStatus
  after every login, fire-and-forget actions.
- ``accounts``: the AMI account of each process and the classes it may use (manager.conf).
- ``messages``: what the others read and build, without a connection: event headers, app_queue's
  device states, queue members, channel lists, the PlayDTMF and QueuePenalty actions.
"""
from .client import (
    AmiClient,
    AmiError,
    AmiUnavailable,
    SyncAmi,
    ami_client,
    ami_login,
    endpoint_channel_on,
    node_ami,
    node_amis,
)
from .listener import AmiListener
from .messages import (
    Event,
    QueueMember,
    bridge_id,
    channel_with_id,
    device_state,
    endpoint_channel,
    field,
    number,
    play_dtmf,
    queue_penalty,
)

__all__ = ["AmiClient", "AmiError", "AmiListener", "AmiUnavailable", "Event", "QueueMember", "SyncAmi",
           "ami_client", "ami_login", "bridge_id", "channel_with_id", "device_state", "endpoint_channel",
           "endpoint_channel_on", "field", "node_ami", "node_amis", "number", "play_dtmf",
           "queue_penalty"]
