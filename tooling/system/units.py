"""The hotline as systemd units (``hotline setup --systemd``), rendered from the one assembly ``hotline up`` runs.

One unit per process of tooling/system/assembly.py under ``hotline.target`` (started at boot through
multi-user.target): Asterisk in its root with the same command ``hotline up`` runs, the hotline's own Redis
when it has one, the SIP guard (fail2ban) when ``[security] sip_guard`` is on, and the Python processes as
the ``hotline`` system user. Those whose main loop beats (assembly.HEARTBEATS) are ``Type=notify`` with
``WatchdogSec=``: READY=1 and WATCHDOG=1 come from that loop (hotline/heartbeat.py). No secret is in a unit:
URLs with passwords go to an environment file only root reads (``/etc/hotline/hotline.env``), the Redis
password to its server on standard input from another such file; the rest is read from ``secrets.toml``.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hotline.domain.redact import redact_url
from tooling.system.assembly import ASTERISK_GROUP, HEARTBEATS, PROCESSES, command
from tooling.system.services import redis_server_argv
from tooling.system.supervisor import STARTUP_GRACE

USER = "hotline"
TARGET = "hotline.target"
ENV_FILE = Path("/etc/hotline/hotline.env")
REDIS_AUTH_FILE = Path("/etc/hotline/redis.conf")
#: Where a unit's files would be hidden by ProtectHome=yes: then it is read-only instead.
HOME_DIRS = (Path("/home"), Path("/root"), Path("/run/user"))
#: What confines a Python process and its own Redis without getting in their way: no privileges, the
#: system read-only but for ReadWritePaths=, a /tmp of their own, no devices, no kernel knobs.
HARDENING = ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes", "PrivateDevices=yes",
             "ProtectKernelTunables=yes", "ProtectKernelModules=yes", "ProtectKernelLogs=yes",
             "ProtectControlGroups=yes", "ProtectClock=yes", "RestrictSUIDSGID=yes", "RestrictRealtime=yes",
             "LockPersonality=yes", "SystemCallArchitectures=native", "CapabilityBoundingSet=",
             # netlink: glibc's getaddrinfo asks the kernel which address families are up
             "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK", "UMask=0027")
#: Not set: MemoryDenyWriteExecute= (cffi's callbacks, argon2 and libffi closures, need writable code pages).
#: Restarted for as long as it fails, 5 s apart: a start limit would leave the console or the worker failed
#: for good after a database outage longer than the limit (they exit at start while it is down).
RESTART = ("Restart=on-failure", "RestartSec=5")


@dataclass(frozen=True)
class Plan:
    """What the units are made of, found by ``hotline setup --systemd`` (tests make their own)."""

    python: Path                    # the virtual environment's interpreter (assembly's commands use it)
    workdir: Path                   # the checkout
    state_dir: Path
    recordings_root: Path
    writable: tuple[Path, ...]      # what the Python processes write (python_writable)
    redis_url: str                  # the one every client uses (with its password: it stays out of the units)
    queue: str                      # the worker's RQ queue
    asterisk: Sequence[str]         # Asterisk's command, as hotline up runs it (AsteriskProcess.command)
    asterisk_root: Path | None      # its root (None: the distribution's package)
    env: Mapping[str, str] = field(default_factory=dict)    # HOTLINE_* settings for every process
    own_redis: Sequence[str] | None = None      # the hotline's own Redis: its command (None: a province's)
    sip_guard: Sequence[str] | None = None      # fail2ban's command (None: [security] sip_guard off)
    env_file: Path = ENV_FILE
    redis_auth_file: Path = REDIS_AUTH_FILE


def unit_name(process: str) -> str:
    """``ari_app`` → ``hotline-ari-app.service``."""
    return f"hotline-{process.replace('_', '-')}.service"


def python_writable(state_dir: Path, recordings_root: Path, extra: Sequence[Path] = ()) -> tuple[Path, ...]:
    """The folders the Python processes write, fewest first: ``extra`` (the hotline user's folders of the state
    directory: the call-log spool, alerts, the SQLite database's), Asterisk's log folder (the worker rotates its
    messages.log) and the recordings root; never the state directory itself (root-run steps read it)."""
    wanted = [state_dir / "log", recordings_root, *extra]
    kept: list[Path] = []
    for path in sorted({Path(os.path.abspath(p)) for p in wanted}, key=lambda p: (len(p.parts), str(p))):
        if not any(path.is_relative_to(k) for k in kept):
            kept.append(path)
    return tuple(kept)


def secret_env(env: Mapping[str, str]) -> dict[str, str]:
    """The variables that may hold a password (URLs: the database's, a province's Redis): they go to the
    root-only environment file."""
    return {k: v for k, v in env.items() if k.endswith("_URL") or redact_url(v) != v}


def env_file_text(plan: Plan) -> str:
    """``/etc/hotline/hotline.env``: the secret variables, and the worker's Redis URL (rq reads it there)."""
    values = {**secret_env(plan.env), "RQ_REDIS_URL": plan.redis_url}
    return "".join(f"{key}={_env_quote(value)}\n" for key, value in sorted(values.items()))


def render(plan: Plan) -> dict[str, str]:
    """Every unit's file name and text."""
    units = {unit_name("asterisk"): _asterisk(plan)}
    if plan.own_redis is not None:
        units[unit_name("redis")] = _redis(plan)
    if plan.sip_guard is not None:
        units[unit_name("sip_guard")] = _sip_guard(plan)
    for name in PROCESSES:
        units[unit_name(name)] = _python(plan, name)
    units[TARGET] = _target(sorted(units))
    return units


def write(units: Mapping[str, str], dest: Path) -> list[Path]:
    """Write the units into ``dest`` (0644, as systemd's own); returns the files changed."""
    dest.mkdir(parents=True, exist_ok=True)
    changed = []
    for name, text in units.items():
        path = dest / name
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        path.write_text(text, encoding="utf-8")
        path.chmod(0o644)
        changed.append(path)
    return changed


def _target(services: Sequence[str]) -> str:
    return _unit({"Unit": ["Description=Hotline 1022: every process of the hotline",
                           f"Wants={' '.join(services)}", "After=network-online.target"],
                  "Install": ["WantedBy=multi-user.target"]})


def _python(plan: Plan, name: str) -> str:
    argv = command(name, plan.redis_url, plan.queue)
    beat = HEARTBEATS.get(name)
    after = [unit_name("asterisk"), *([unit_name("redis")] if plan.own_redis is not None else []),
             "network-online.target", "postgresql.service"]
    service = [f"Type={'notify' if beat else 'exec'}"]
    if beat:    # the beat comes every hotline/heartbeat.EVERY seconds from the loop that does the work
        service += [f"WatchdogSec={beat:.0f}", "WatchdogSignal=SIGKILL",    # as hotline up: no core dump of calls
                    # the first beat: hotline up allows STARTUP_GRACE; a migration of a large database more
                    f"TimeoutStartSec={2 * STARTUP_GRACE:.0f}"]
    groups = ["SupplementaryGroups=asterisk"] if name in ASTERISK_GROUP else []
    service += [f"User={USER}", f"Group={USER}", *groups,
                f"WorkingDirectory={_path(plan.workdir)}", *_environment(plan),
                f"EnvironmentFile={_path(plan.env_file)}",
                f"ExecStart={_exec(argv)}", *RESTART, "TimeoutStopSec=20", *HARDENING,
                f"ProtectHome={_protect_home(plan)}", f"ReadWritePaths={_paths(plan.writable)}"]
    return _unit({"Unit": [f"Description=Hotline 1022: {_DESCRIPTIONS[name]}", f"PartOf={TARGET}",
                           f"After={' '.join(after)}", "Wants=network-online.target"],
                  "Service": service, "Install": [f"WantedBy={TARGET}"]})


_DESCRIPTIONS = {"ari_app": "the call application (ARI)", "agi": "the FastAGI server", "monitor": "the AMI monitor",
                 "worker": "the background worker (RQ)", "console": "the operators' console",
                 "public": "the public site (web form, status page, Open311, webhooks)",
                 "mailbox": "the mailbox reader (e-mailed requests, IMAP)",
                 "watch": "health checks and supervisors' alerts"}


def _asterisk(plan: Plan) -> str:
    """Asterisk as ``hotline up`` starts it: root prepares its root (configuration rendered, shared folders
    mounted, owners), then the same command; Asterisk drops to its own user (asterisk.conf's runuser).
    No mount namespace (no ProtectSystem=, PrivateTmp=): the mounts must be the host's, so that
    ``hotline`` commands reach Asterisk in its root as they do under ``hotline up``."""
    step = [str(plan.python), "-m", "hotline.cli.main", "unit"]
    root = ["--root", str(plan.asterisk_root)] if plan.asterisk_root is not None else []
    service = ["Type=simple", f"WorkingDirectory={_path(plan.workdir)}", *_environment(plan),
               f"EnvironmentFile={_path(plan.env_file)}",
               f"ExecStartPre={_exec([*step, 'asterisk-prepare', *root])}", f"ExecStart={_exec(plan.asterisk)}",
               f"ExecStartPost={_exec([*step, 'asterisk-ready', *root])}",
               f"ExecStopPost={_exec([*step, 'asterisk-release', *root])}",
               # new recordings group-writable: the hotline's processes (group asterisk) delete them on time
               "UMask=0002", "NoNewPrivileges=yes", *RESTART, "TimeoutStartSec=180", "TimeoutStopSec=30"]
    return _unit({"Unit": ["Description=Hotline 1022: Asterisk 22", f"PartOf={TARGET}",
                           "After=network-online.target postgresql.service", "Wants=network-online.target"],
                  "Service": service, "Install": [f"WantedBy={TARGET}"]})


def _redis(plan: Plan) -> str:
    assert plan.own_redis is not None
    data = plan.state_dir / "redis"
    service = ["Type=notify", f"User={USER}", f"Group={USER}", f"WorkingDirectory={_path(data)}",
               # the password on standard input, from a file only root reads: never on the command line
               f"StandardInput=file:{_path(plan.redis_auth_file)}", "StandardOutput=journal",
               f"ExecStart={_exec(plan.own_redis)}", *RESTART, "TimeoutStopSec=30", *HARDENING,
               f"ProtectHome={_protect_home(plan)}", f"ReadWritePaths={_paths([data])}"]
    return _unit({"Unit": ["Description=Hotline 1022: its own Redis", f"PartOf={TARGET}",
                           "After=network-online.target"],
                  "Service": service, "Install": [f"WantedBy={TARGET}"]})


def _sip_guard(plan: Plan) -> str:
    """fail2ban on Asterisk's security log with the guard's nftables table: root (it changes the firewall)."""
    assert plan.sip_guard is not None
    step = [str(plan.python), "-m", "hotline.cli.main", "unit"]
    service = ["Type=simple", f"WorkingDirectory={_path(plan.workdir)}", *_environment(plan),
               f"EnvironmentFile={_path(plan.env_file)}", f"ExecStartPre={_exec([*step, 'sip-guard-prepare'])}",
               f"ExecStart={_exec(plan.sip_guard)}", f"ExecStopPost={_exec([*step, 'sip-guard-release'])}",
               "NoNewPrivileges=yes", "PrivateTmp=yes", "ProtectSystem=full", *RESTART, "TimeoutStopSec=20"]
    return _unit({"Unit": ["Description=Hotline 1022: SIP guard (fail2ban, nftables)", f"PartOf={TARGET}",
                           f"After={unit_name('asterisk')}"],
                  "Service": service, "Install": [f"WantedBy={TARGET}"]})


def _environment(plan: Plan) -> list[str]:
    public = {k: v for k, v in plan.env.items() if k not in secret_env(plan.env)}
    return [f"Environment={_quote(f'{k}={v}')}" for k, v in sorted({**public, "PYTHONUNBUFFERED": "1"}.items())]


def _protect_home(plan: Plan) -> str:
    used = [plan.python, plan.workdir, *plan.writable, *(Path(v) for v in plan.env.values() if v.startswith("/"))]
    hidden = any(Path(os.path.abspath(p)).is_relative_to(h) for p in used for h in HOME_DIRS)
    return "read-only" if hidden else "yes"


def _unit(sections: Mapping[str, Sequence[str]]) -> str:
    head = "# Written by `hotline setup --systemd` (tooling/system/units.py): edit province.toml and run it again.\n"
    return head + "\n".join(f"[{name}]\n" + "".join(f"{line}\n" for line in lines)
                            for name, lines in sections.items())


def _quote(value: str, dollars: bool = False) -> str:
    """One word of a list for systemd: quoted when it holds spaces or quotes, ``%`` doubled (no specifier),
    ``$`` too in a command line (``dollars``: no variable expanded)."""
    value = value.replace("%", "%%")
    if dollars:
        value = value.replace("$", "$$")
    if not value or any(c.isspace() or c in "\"'\\;" for c in value):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


def _env_quote(value: str) -> str:
    """A value of an environment file, read literally: double-quoted, with \\ " ` $ escaped (no % specifiers
    there; a password in a URL keeps its %-escapes)."""
    return '"' + "".join("\\" + c if c in '\\"`$' else c for c in value) + '"'


def _exec(argv: Sequence[str]) -> str:
    """A command line for Exec*=, its program by absolute path (as systemd wants it)."""
    program = str(argv[0]) if os.path.isabs(argv[0]) else shutil.which(argv[0]) or f"/usr/bin/{argv[0]}"
    return " ".join(_quote(str(a), dollars=True) for a in [program, *argv[1:]])


def _path(path: Path) -> str:
    """A setting that takes one path (WorkingDirectory=, EnvironmentFile=): no quotes there, ``%`` doubled."""
    return str(path).replace("%", "%%")


def _paths(paths: Sequence[Path]) -> str:
    return " ".join(_quote(str(p)) for p in paths)


def redis_command(port: int, state_dir: Path) -> list[str]:
    """The hotline's own Redis as ``hotline up`` starts it, but in the foreground and telling systemd when it
    serves (Debian's redis-server is built with systemd support); the password still comes on standard input."""
    argv = [shutil.which("redis-server") or "/usr/bin/redis-server", *redis_server_argv(port, state_dir)[1:]]
    at = argv.index("--daemonize")
    argv[at + 1] = "no"
    return [*argv, "--supervised", "systemd"]
