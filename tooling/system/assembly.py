"""How the hotline is assembled, described once: Asterisk's configuration and process, and the Python
processes with their commands.

``hotline up`` runs these under its Supervisor; the integration tests' stack (tests/support/stack.py) and
the benchmarks (through that stack) start the same commands themselves.
"""
from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tooling.system.asterisk import AsteriskInstall, AsteriskProcess
from tooling.system.asterisk_process import writable_dirs
from tooling.system.supervisor import ProcessSpec

#: The hotline's Python processes beside Asterisk, in the order they start.
PROCESSES = ("ari_app", "agi", "monitor", "worker", "console", "public", "mailbox", "watch")
#: Seconds each process may go without its heartbeat (hotline/heartbeat.py) before the Supervisor restarts
#: it: those whose main loop beats. The worker runs a job in its main loop (minutes of transcription) and
#: the console serves from waitress's threads: they are restarted when they exit, not on a heartbeat.
HEARTBEATS = {"ari_app": 20.0, "agi": 20.0, "monitor": 20.0}
#: The processes in group ``asterisk`` besides their own: the worker deletes recordings on time and rotates
#: Asterisk's messages.log (the retention sweep runs there); the call processes keep the group they had. The
#: console and ``hotline watch`` write nothing of Asterisk's (they read recordings, 0664): not in the group.
ASTERISK_GROUP = ("ari_app", "agi", "monitor", "worker")


def command(name: str, redis_url: str, queue: str) -> list[str]:
    """The command line of one of PROCESSES (the worker takes jobs from ``queue`` on ``redis_url``)."""
    if name not in PROCESSES:
        raise ValueError(f"not a process of the hotline: {name}")
    if name == "worker":
        from hotline.worker.rqworker import worker_command
        return worker_command(redis_url, queue)
    if name in ("console", "public", "mailbox"):   # the operators' console; the citizens' site; the mailbox
        return [sys.executable, "-m", "hotline.cli.main", name]
    if name == "watch":     # the health checks and the supervisors' alerts (hotline.services.alerts)
        return [sys.executable, "-m", "hotline.cli.main", "watch"]
    return [sys.executable, "-m", name]


def switched_on(name: str, settings: Any) -> bool:
    """Whether ``settings`` want process ``name`` run: the public site and the mailbox reader can be off."""
    return {"public": settings.public.enabled, "mailbox": settings.mailbox.enabled}.get(name, True)


def process_specs(env: Mapping[str, str], redis_url: str, queue: str,
                  names: Sequence[str] = PROCESSES, user: str | None = None) -> list[ProcessSpec]:
    """``names`` as the Supervisor starts them, each with ``env`` added to its environment; as ``user`` (and
    group ``asterisk`` for those of ASTERISK_GROUP) where given, as systemd runs them (tooling/system/units.py)."""
    return [ProcessSpec(name, command(name, redis_url, queue), _env(name, env, redis_url), HEARTBEATS.get(name),
                        user=user, groups=("asterisk",) if user is not None and name in ASTERISK_GROUP else ())
            for name in names]


def _env(name: str, env: Mapping[str, str], redis_url: str) -> Mapping[str, str]:
    if name != "worker":
        return env
    from hotline.worker.rqworker import worker_env
    return {**env, **worker_env(redis_url)}


def render_asterisk_config(settings: Any, secrets: Any, directory: Any, state_dir: Path, clock_offset: float,
                           operators: Sequence[Any]) -> Path:
    """Asterisk's configuration, rendered into ``state_dir``/asterisk; returns the path of asterisk.conf."""
    from hotline.adapters.asterisk_config import render
    return render(settings, secrets, directory, dest_dir=state_dir / "asterisk", clock_offset=clock_offset,
                  operators=operators)


def asterisk_process(install: AsteriskInstall, conf: Path, state_dir: Path, recordings_root: Path,
                     call_log_spool: Path | None = None, netns: list[str] | None = None,
                     shared_state: Path | None = None) -> AsteriskProcess:
    """Asterisk in its root, seeing the state directory and the recordings at the same paths as the
    Python processes, and owning the directories it writes to but the ARI app's call-log spool (inside
    Asterisk's spool by default: under systemd it is the hotline user's). A cluster's node: ``netns`` runs it in
    its network namespace, and the cluster's ``shared_state`` (which holds the node's) is mounted in its root."""
    return AsteriskProcess(install, conf, bind_paths=[shared_state or state_dir, recordings_root],
                           owned_paths=writable_dirs(state_dir, recordings_root),
                           not_owned=[call_log_spool] if call_log_spool is not None else None, netns=netns)
