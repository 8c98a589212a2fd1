"""tooling/system/sip_guard.py: fail2ban's jail and the nftables table rendered from [security]."""
from __future__ import annotations

import configparser
from pathlib import Path

from hotline.config.settings import load_settings
from tooling.system.sip_guard import Guard, fail2ban_command, nft_ruleset, render_fail2ban


def _guard(tmp_path: Path, **limits: int) -> Guard:
    return Guard(5060, tmp_path / "log" / "security.log", tmp_path / "fail2ban", **limits)


def test_the_jail_bans_max_failures_within_find_seconds_for_ban_minutes(tmp_path: Path) -> None:
    conf = render_fail2ban(_guard(tmp_path, ban_minutes=30, max_failures=5, find_seconds=60))
    jail = configparser.ConfigParser(interpolation=None)
    jail.read(conf / "jail.conf")
    section = jail["hotline-sip"]
    assert (section["maxretry"], section["findtime"], section["bantime"]) == ("5", "60", "1800")
    assert section["filter"] == "asterisk" and section["logpath"] == str(tmp_path / "log" / "security.log")
    assert section["action"] == "hotline-nft[table=hotline_sip_5060]"
    assert (conf / "filter.d" / "asterisk.conf").resolve() == Path("/etc/fail2ban/filter.d/asterisk.conf").resolve()
    server = (conf / "fail2ban.conf").read_text()
    assert f"socket = {conf}/fail2ban.sock" in server and "logtarget = STDOUT" in server
    assert (tmp_path / "log" / "security.log").exists()      # fail2ban starts before Asterisk writes it


def test_fail2ban_runs_in_the_foreground_on_its_own_configuration(tmp_path: Path) -> None:
    argv = fail2ban_command(_guard(tmp_path))
    assert argv[1:] == ["-f", "-x", "-c", str(tmp_path / "fail2ban"), "start"]


def test_the_table_drops_banned_sources_and_limits_invites_per_source(tmp_path: Path) -> None:
    rules = nft_ruleset(_guard(tmp_path, invites_per_second=20))
    assert "delete table inet hotline_sip_5060" in rules     # re-created empty at each start
    assert "th dport 5060 ip saddr @banned drop" in rules and "ip6 saddr @banned6 drop" in rules
    assert "0x494e56495445 update @invites { ip saddr limit rate over 20/second burst 40 packets }" in rules
    assert "@invites {" not in nft_ruleset(_guard(tmp_path, invites_per_second=0))


def test_the_settings_default_to_five_failures_in_a_minute() -> None:
    s = load_settings(env={}).security
    assert (s.max_failures, s.find_seconds, s.sip_guard) == (5, 60, True) and s.ban_minutes >= 1


def test_the_configuration_is_made_anew_so_nothing_another_user_left_in_it_is_read(tmp_path: Path) -> None:
    """fail2ban runs as root and reads every jail.d/, *.local and action.d/ file of its folder."""
    conf = render_fail2ban(_guard(tmp_path))
    planted = [conf / "jail.local", conf / "jail.d" / "x.conf", conf / "action.d" / "hotline-nft.local",
               conf / "filter.d" / "asterisk.local"]
    for path in planted:
        path.parent.mkdir(exist_ok=True)
        path.write_text("[Definition]\nactionban = touch /tmp/owned\n")
    (conf / "filter.d" / "asterisk.conf").unlink()
    (conf / "filter.d" / "asterisk.conf").write_text("[Definition]\nfailregex = .*\n")   # the link replaced
    again = render_fail2ban(_guard(tmp_path))
    assert not any(p.exists() for p in planted)
    assert (again / "filter.d" / "asterisk.conf").resolve() == Path("/etc/fail2ban/filter.d/asterisk.conf").resolve()
    assert sorted(p.name for p in again.rglob("*")) == ["action.d", "asterisk.conf", "common.conf", "fail2ban.conf",
                                                        "filter.d", "hotline-nft.conf", "jail.conf"]


def test_a_cluster_node_never_bans_nor_limits_kamailio(tmp_path: Path) -> None:
    """On a cluster's node every caller's INVITE and any caller's wrong password come from Kamailio: banning it (5
    forged digest answers through Kamailio would do) would take the line off the air."""
    settings = load_settings(env={"HOTLINE_STATE_DIR": str(tmp_path), "HOTLINE_REGISTRAR": "10.22.0.1:5060"})
    guard = Guard.from_settings(settings, tmp_path)
    assert guard.exempt == ("10.22.0.1",)
    rules = nft_ruleset(guard)
    accept = "th dport 5060 ip saddr { 10.22.0.1 } accept"
    assert accept in rules and rules.index(accept) < rules.index("@banned drop") < rules.index("@invites")
    jail = configparser.ConfigParser(interpolation=None)
    jail.read(render_fail2ban(guard) / "jail.conf")
    assert jail["hotline-sip"]["ignoreip"].split() == ["127.0.0.1/32", "::1", "10.22.0.1"]
    alone = Guard.from_settings(load_settings(env={"HOTLINE_STATE_DIR": str(tmp_path)}), tmp_path)
    assert alone.exempt == () and "} accept" not in nft_ruleset(alone)
