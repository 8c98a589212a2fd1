"""The production units (tooling/system/units.py, issue 13 item 1): one per process of the assembly under
hotline.target, checked by systemd's own ``systemd-analyze verify``.

This machine runs no systemd (its first process is not systemd): ``verify`` still loads unit files given by
path, checks every key and value and that each Exec*= program exists, and exits non-zero on a missing
program. It does not resolve User= (systemd 252), so no ``hotline`` user is needed here; the warnings it
prints for an unknown key or a bad value leave its exit code 0, so the tests also require it to print
nothing.
"""
from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

from hotline.config.settings import load_settings
from hotline.heartbeat import EVERY
from tooling.system import production, units
from tooling.system.assembly import HEARTBEATS, PROCESSES
from tooling.system.asterisk import AsteriskInstall

REDIS_PASSWORD = "r3dis-Pa55"
DB_PASSWORD = "db$pa%ss\"w"
ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
PYTHON_PROCESSES = [units.unit_name(n) for n in PROCESSES]


def _plan(tmp: Path, *, root: Path | None = Path("/srv/asterisk-root"), env: dict[str, str] | None = None,
          **overrides: str) -> units.Plan:
    state, recordings = tmp / "state", tmp / "recordings"
    settings = load_settings(env={"HOTLINE_STATE_DIR": str(state), "HOTLINE_RECORDINGS_ROOT": str(recordings),
                                  # SQLite in a folder of its own: the state directory itself stays root's
                                  "HOTLINE_DATABASE_URL": f"sqlite:///{state}/db/hotline.db", **overrides})
    return production.plan(settings, f"redis://:{REDIS_PASSWORD}@127.0.0.1:6380/0", AsteriskInstall(root=root),
                           {"HOTLINE_STATE_DIR": str(state), **(env or {})}, tmp / "etc")


def _service(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str    # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return parser


def _verify(folder: Path) -> subprocess.CompletedProcess[str]:
    files = sorted(str(p) for p in folder.iterdir())
    return subprocess.run([ANALYZE, "verify", "--man=no", *files], capture_output=True, text=True, timeout=120,
                          cwd=folder)


def test_every_process_of_the_assembly_has_a_unit_wanted_by_hotline_target(tmp_path: Path) -> None:
    rendered = units.render(_plan(tmp_path))
    services = [n for n in rendered if n.endswith(".service")]
    assert set(PYTHON_PROCESSES) <= set(services)
    assert {"hotline-asterisk.service", "hotline-redis.service", "hotline-sip-guard.service"} <= set(services)
    target = _service(rendered["hotline.target"])
    assert target["Unit"]["Wants"].split() == sorted(services)
    assert target["Install"]["WantedBy"] == "multi-user.target"     # started at boot
    for name in services:
        unit = _service(rendered[name])
        assert unit["Unit"]["PartOf"] == "hotline.target", name
        assert unit["Install"]["WantedBy"] == "hotline.target", name
        assert unit["Service"]["Restart"] == "on-failure", name


def test_systemd_analyze_verify_passes_on_the_units(tmp_path: Path) -> None:
    the_plan = _plan(tmp_path, root=Path("/"))    # chroot's argument is not checked, the program is
    folder = tmp_path / "units"
    units.write(units.render(the_plan), folder)
    done = _verify(folder)
    assert done.returncode == 0 and done.stdout == "" and done.stderr == "", done.stdout + done.stderr


def test_verify_would_see_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a missing program fails verify, an unknown key is printed."""
    folder = tmp_path / "units"
    rendered = units.render(_plan(tmp_path, root=Path("/")))
    broken = rendered["hotline-agi.service"].replace("Restart=on-failure", "Restart=on-failure\nRestartt=always")
    units.write({"hotline-agi.service": broken}, folder)
    done = _verify(folder)
    assert "Unknown key 'Restartt'" in done.stderr
    (folder / "hotline-agi.service").write_text(broken.replace("ExecStart=/", "ExecStart=/nonexistent/"))
    assert _verify(folder).returncode != 0


def test_verify_passes_with_spaces_percent_and_dollar_signs_in_the_paths(tmp_path: Path) -> None:
    odd = tmp_path / "tỉnh 100% $mới"
    folder = tmp_path / "units"
    rendered = units.render(_plan(odd, root=Path("/")))
    units.write(rendered, folder)
    done = _verify(folder)
    assert done.returncode == 0 and done.stdout == "" and done.stderr == "", done.stdout + done.stderr
    agi = _service(rendered["hotline-agi.service"])["Service"]
    assert f'"{str(odd).replace("%", "%%")}/state/alerts"' in agi["ReadWritePaths"]
    assert f'Environment="HOTLINE_STATE_DIR={str(odd).replace("%", "%%")}/state"\n' in \
        rendered["hotline-agi.service"]       # $ as it is: Environment= expands no variable
    assert "$$mới" in _service(rendered["hotline-asterisk.service"])["Service"]["ExecStart"]   # not a variable


def test_python_processes_run_as_hotline_with_a_watchdog_where_their_loop_beats(tmp_path: Path) -> None:
    rendered = units.render(_plan(tmp_path))
    for name in PROCESSES:
        service = _service(rendered[units.unit_name(name)])["Service"]
        assert (service["User"], service["Group"]) == ("hotline", "hotline"), name
        # the worker deletes recordings and rotates Asterisk's log; the console and hotline watch need not
        assert service.get("SupplementaryGroups") == ("asterisk" if name in units.ASTERISK_GROUP else None), name
        assert service["NoNewPrivileges"] == "yes" and service["ProtectSystem"] == "strict"
        assert service["PrivateTmp"] == "yes" and service["ProtectHome"] == "yes"
        assert service["CapabilityBoundingSet"] == ""
        if name in HEARTBEATS:
            assert service["Type"] == "notify"
            assert float(service["WatchdogSec"]) == HEARTBEATS[name] >= 5 * EVERY
        else:
            assert service["Type"] == "exec" and "WatchdogSec" not in service
    redis = _service(rendered["hotline-redis.service"])["Service"]
    assert (redis["User"], redis["Type"]) == ("hotline", "notify")
    assert "--supervised systemd" in redis["ExecStart"] and "--daemonize no" in redis["ExecStart"]
    asterisk = _service(rendered["hotline-asterisk.service"])["Service"]
    assert "User" not in asterisk       # root prepares its root; Asterisk drops to asterisk.conf's runuser


def test_asterisk_runs_the_command_hotline_up_runs(tmp_path: Path) -> None:
    the_plan = _plan(tmp_path)
    service = _service(units.render(the_plan)["hotline-asterisk.service"])["Service"]
    conf = tmp_path / "state" / "asterisk" / "asterisk.conf"
    assert service["ExecStart"] == f"{shutil.which('chroot')} /srv/asterisk-root /usr/sbin/asterisk -f -n -C {conf}"
    assert service["ExecStartPre"].endswith("-m hotline.cli.main unit asterisk-prepare --root /srv/asterisk-root")
    assert service["ExecStopPost"].endswith("unit asterisk-release --root /srv/asterisk-root")
    native = _service(units.render(_plan(tmp_path, root=None))["hotline-asterisk.service"])["Service"]
    assert native["ExecStart"] == f"/usr/sbin/asterisk -f -n -C {conf}"
    assert native["ExecStartPre"].endswith("unit asterisk-prepare")


def test_no_secret_is_in_a_unit_but_in_the_root_only_environment_file(tmp_path: Path) -> None:
    db_url = f"postgresql://hotline:{DB_PASSWORD}@10.0.0.5/hotline"
    the_plan = _plan(tmp_path, env={"HOTLINE_DATABASE_URL": db_url})
    rendered = units.render(the_plan)
    for name, text in rendered.items():
        assert REDIS_PASSWORD not in text and "db$pa" not in text and "db$$pa" not in text, name
    for name in PYTHON_PROCESSES:
        service = _service(rendered[name])["Service"]
        assert service["EnvironmentFile"] == str(tmp_path / "etc" / "hotline.env")
        assert REDIS_PASSWORD not in service["ExecStart"]
    env_file = tmp_path / "hotline.env"
    env_file.write_text(units.env_file_text(the_plan))
    # read back as a shell would (systemd's environment files use the same double-quote escapes)
    shown = subprocess.run(["bash", "-c", f'set -a; . "{env_file}"; printf "%s\\n%s" "$HOTLINE_DATABASE_URL" '
                            '"$RQ_REDIS_URL"'], capture_output=True, text=True, check=True).stdout
    assert shown.splitlines() == [db_url, f"redis://:{REDIS_PASSWORD}@127.0.0.1:6380/0"]


def test_read_write_paths_cover_what_the_processes_write(tmp_path: Path) -> None:
    the_plan = _plan(tmp_path, HOTLINE_DATABASE_URL=f"sqlite:///{tmp_path}/db/hotline.db")
    state, recordings = tmp_path / "state", tmp_path / "recordings"
    for name in PYTHON_PROCESSES:
        paths = [Path(p) for p in _service(units.render(the_plan)[name])["Service"]["ReadWritePaths"].split()]
        for needed in [state / "spool" / "calllog", state / "alerts", state / "log", recordings, tmp_path / "db"]:
            assert any(needed.is_relative_to(p) for p in paths), (name, needed)
        assert not any(p.is_relative_to(q) for p in paths for q in paths if p != q)    # none inside another
        # root-run steps read the state directory (fail2ban's, Asterisk's configuration): not the hotline's
        for kept in [state, state / "fail2ban", state / "asterisk", state / "redis", state / "run", state / "astdb"]:
            assert not any(kept.is_relative_to(p) for p in paths), (name, kept)
    redis = _service(units.render(the_plan)["hotline-redis.service"])["Service"]
    assert redis["ReadWritePaths"] == str(state / "redis")
    elsewhere = tmp_path / "elsewhere" / "calllog"
    assert set(units.python_writable(state, recordings, [elsewhere, state / "alerts", state / "alerts" / "x"])) == \
        {state / "log", recordings, elsewhere, state / "alerts"}


def test_a_checkout_in_a_home_directory_gets_home_read_only_not_hidden(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    moved = units.Plan(**{**plan.__dict__, "workdir": Path("/root/hotline-1022")})
    assert _service(units.render(moved)["hotline-agi.service"])["Service"]["ProtectHome"] == "read-only"


def test_a_provinces_own_redis_and_no_sip_guard_leave_their_units_out(tmp_path: Path) -> None:
    rendered = units.render(_plan(tmp_path, HOTLINE_REDIS_URL="redis://10.0.0.7:6379/0"))
    assert "hotline-redis.service" not in rendered
    assert "hotline-redis.service" not in _service(rendered["hotline-agi.service"])["Unit"]["After"]
