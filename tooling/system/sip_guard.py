"""The SIP edge's guard: Debian's fail2ban with a jail on Asterisk's security log, and nftables rules.

Per Asterisk instance (by its SIP port) one nftables table holds:
- ``banned`` / ``banned6``: sources fail2ban bans (``[security] ban_minutes``); their packets to the SIP
  port are dropped, so a banned source's next REGISTER or INVITE gets no answer;
- a per-source limit on INVITEs to the SIP port (``[security] invites_per_second``, burst twice that):
  Asterisk has no per-source limit of its own, and a flood of INVITEs to 1022 would otherwise each be
  answered, recorded and, at night, become a ticket.

fail2ban runs in the foreground (``-f``) with a configuration of its own rendered into
``<state_dir>/fail2ban`` (socket, pid and database there too), so ``hotline up``'s Supervisor restarts it
like any child; no systemd is needed, and a host's own fail2ban service is left alone. The jail uses
Debian's ``asterisk`` filter, which reads the security events (InvalidPassword, ChallengeResponseFailed,
InvalidAccountID, FailedACL) with the source address.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tooling.system import apt
from tooling.system.shell import Progress, SetupError

PACKAGES = ("fail2ban", "nftables")
DEBIAN_FILTERS = Path("/etc/fail2ban/filter.d")
JAIL = "hotline-sip"
#: The machine itself (the console's TLS proxy, local tools) is never banned.
IGNORED = "127.0.0.1/32 ::1"


@dataclass(frozen=True)
class Guard:
    """One Asterisk's guard: its SIP port, the security log fail2ban reads, and the limits."""

    sip_port: int
    security_log: Path
    conf_dir: Path
    ban_minutes: int = 60
    max_failures: int = 5
    find_seconds: int = 60
    invites_per_second: int = 20
    #: Sources never banned nor limited: on a cluster's node, Kamailio ([cluster] registrar), which carries every
    #: caller's INVITE and any caller's wrong password (banning it would take the line off the air).
    exempt: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Any, state_dir: Path) -> Guard:
        s = settings.security
        registrar = settings.cluster.registrar
        exempt = (registrar.rsplit(":", 1)[0],) if registrar else ()
        return cls(int(settings.sip.port), state_dir / "log" / "security.log", state_dir / "fail2ban",
                   s.ban_minutes, s.max_failures, s.find_seconds, s.invites_per_second, exempt)

    @property
    def table(self) -> str:
        return f"hotline_sip_{self.sip_port}"


def ensure_packages(progress: Progress) -> None:
    """Install fail2ban and nftables where they are missing (Debian's packages)."""
    apt.install(PACKAGES, progress)


def nft_ruleset(guard: Guard) -> str:
    """The nftables script that (re)creates the guard's table: bans, then the INVITE limit."""
    port, table = guard.sip_port, guard.table
    rate = guard.invites_per_second
    invite = '@th,64,48 0x494e56495445'   # a UDP payload that starts with "INVITE"
    exempt = (f"        meta l4proto {{ udp, tcp }} th dport {port} ip saddr {{ {', '.join(guard.exempt)} }} accept\n"
              if guard.exempt else "")
    limit = (f"        udp dport {port} {invite} update @invites {{ ip saddr limit rate over {rate}/second "
             f"burst {2 * rate} packets }} counter drop\n" if rate else "")
    return (f"table inet {table} {{}}\ndelete table inet {table}\n"
            f"table inet {table} {{\n"
            "    set banned { type ipv4_addr; flags timeout; }\n"
            "    set banned6 { type ipv6_addr; flags timeout; }\n"
            "    set invites { type ipv4_addr; size 65535; flags dynamic,timeout; timeout 1m; }\n"
            "    chain input {\n"
            "        type filter hook input priority -10; policy accept;\n"
            f"{exempt}"
            f"        meta l4proto {{ udp, tcp }} th dport {port} ip saddr @banned drop\n"
            f"        meta l4proto {{ udp, tcp }} th dport {port} ip6 saddr @banned6 drop\n"
            f"{limit}"
            "    }\n}\n")


def install_firewall(guard: Guard) -> None:
    """Create (or replace, emptied) the guard's nftables table."""
    done = subprocess.run(["nft", "-f", "-"], input=nft_ruleset(guard), capture_output=True, text=True)
    if done.returncode != 0:
        raise SetupError(f"nftables refused the SIP guard's rules: {done.stderr.strip()}. Is this a container "
                         "without CAP_NET_ADMIN? Set [security] sip_guard = false and use the host's firewall.")


def remove_firewall(guard: Guard) -> None:
    """Delete the guard's table (its bans with it); nothing if there is none."""
    subprocess.run(["nft", "delete", "table", "inet", guard.table], capture_output=True)


def banned(guard: Guard) -> set[str]:
    """The addresses banned now (read from nftables)."""
    found: set[str] = set()
    for name in ("banned", "banned6"):
        done = subprocess.run(["nft", "-j", "list", "set", "inet", guard.table, name], capture_output=True, text=True)
        if done.returncode == 0:
            found |= _elements(done.stdout)
    return found


def _elements(nft_json: str) -> set[str]:
    import json

    found: set[str] = set()
    for item in json.loads(nft_json).get("nftables", []):
        for element in item.get("set", {}).get("elem", []):
            value = element.get("elem", {}).get("val") if isinstance(element, dict) else element
            found.add(str(value))
    return found


def render_fail2ban(guard: Guard) -> Path:
    """Write fail2ban's configuration for the guard into ``guard.conf_dir``; returns that directory."""
    conf = guard.conf_dir
    # Made anew each time, root's: fail2ban runs as root and reads every *.local, jail.d/ and action.d/ file
    # there, so nothing another user left in it (an install older than the state directory being root's) stays.
    if conf.is_symlink():
        conf.unlink()
    elif conf.exists():
        shutil.rmtree(conf)
    (conf / "filter.d").mkdir(parents=True, mode=0o755)
    (conf / "action.d").mkdir(mode=0o755)
    for name in ("asterisk.conf", "common.conf"):
        (conf / "filter.d" / name).symlink_to(DEBIAN_FILTERS / name)
    (conf / "fail2ban.conf").write_text(_server_conf(conf), encoding="utf-8")
    (conf / "jail.conf").write_text(_jail_conf(guard), encoding="utf-8")
    (conf / "action.d" / "hotline-nft.conf").write_text(_action_conf(guard), encoding="utf-8")
    _ensure_log(guard.security_log)
    return conf


def _ensure_log(path: Path) -> None:
    """fail2ban's jail needs its log to exist before Asterisk first writes it: an empty one, owned as its folder
    (Asterisk's log directory is Asterisk's), so Asterisk can still append to it."""
    if path.exists() or path.is_symlink():     # a link left as it is: root creates nothing where it points
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    try:
        folder = path.parent.stat()
        os.fchown(fd, folder.st_uid, folder.st_gid)
    finally:
        os.close(fd)


def fail2ban_command(guard: Guard) -> list[str]:
    """fail2ban in the foreground on the guard's configuration (what hotline up supervises)."""
    server = shutil.which("fail2ban-server") or "/usr/bin/fail2ban-server"
    return [server, "-f", "-x", "-c", str(guard.conf_dir), "start"]


def _server_conf(conf: Path) -> str:
    return ("# Rendered by the hotline (tooling/system/sip_guard.py); edits are overwritten.\n"
            "[Definition]\nloglevel = INFO\nlogtarget = STDOUT\nsyslogsocket = auto\nallowipv6 = auto\n"
            f"socket = {conf}/fail2ban.sock\npidfile = {conf}/fail2ban.pid\n"
            f"dbfile = {conf}/fail2ban.sqlite3\ndbpurgeage = 1d\n")


def _jail_conf(guard: Guard) -> str:
    return ("# Rendered by the hotline from [security] in province.toml; edits are overwritten.\n"
            "[DEFAULT]\nbackend = polling\n"
            f"\n[{JAIL}]\nenabled = true\nfilter = asterisk\nlogpath = {guard.security_log}\n"
            f"maxretry = {guard.max_failures}\nfindtime = {guard.find_seconds}\n"
            f"bantime = {guard.ban_minutes * 60}\nignoreip = {' '.join((IGNORED, *guard.exempt))}\n"
            f"action = hotline-nft[table={guard.table}]\n")


def _action_conf(guard: Guard) -> str:
    """Ban and unban through the guard's sets; the element's own timeout unbans even if fail2ban is gone."""
    return ("# Rendered by the hotline; edits are overwritten.\n[Definition]\n"
            "actionstart =\nactionstop =\nactioncheck =\n"
            "_set = $(case '<ip>' in *:*) echo banned6;; *) echo banned;; esac)\n"
            "actionban = nft add element inet <table> %(_set)s { <ip> timeout <bantime>s }\n"
            "actionunban = nft delete element inet <table> %(_set)s { <ip> } || true\n"
            f"\n[Init]\ntable = {guard.table}\n")
