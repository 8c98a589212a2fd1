"""The province settings: ``province.toml`` validated into typed objects.

One name for what the rest of the code imports: the schema (``hotline.config.schema``) and the
reading of the file with its environment overrides (``hotline.config.files``).
"""
from __future__ import annotations

from hotline.config.files import ENV_OVERRIDES, load_settings, toml_key_lines
from hotline.config.schema import (
    DEFAULT_ASTERISK_ROOT,
    REPO_ROOT,
    WEEKDAY_NAMES,
    AgencyHours,
    AgiSettings,
    AlertSettings,
    AsteriskSettings,
    CapacitySettings,
    ConsoleSettings,
    DatabaseSettings,
    HolidayEntry,
    HolidaySettings,
    IvrSettings,
    NotificationSettings,
    PathSettings,
    ProvinceSettings,
    QueueSettings,
    RecordingsSettings,
    RedisSettings,
    Settings,
    SipSettings,
    StaffedHours,
    TicketSettings,
    TranscriptionSettings,
    VoicemailSettings,
)

__all__ = [
    "DEFAULT_ASTERISK_ROOT", "ENV_OVERRIDES", "REPO_ROOT", "WEEKDAY_NAMES", "AgencyHours", "AgiSettings",
    "AlertSettings", "AsteriskSettings", "CapacitySettings", "ConsoleSettings", "DatabaseSettings", "HolidayEntry",
    "HolidaySettings", "IvrSettings",
    "NotificationSettings", "PathSettings", "ProvinceSettings", "QueueSettings", "RecordingsSettings",
    "RedisSettings", "Settings", "SipSettings", "StaffedHours", "TicketSettings", "TranscriptionSettings",
    "VoicemailSettings", "load_settings", "toml_key_lines",
]
