"""Generated credentials: created once, kept private, the same on every call."""
from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest

from hotline.config.secrets import load_or_create_secrets
from hotline.domain.errors import ConfigError


def test_created_once_and_kept(tmp_path: Path) -> None:
    state = tmp_path / "var"
    first = load_or_create_secrets(state)
    path = state / "secrets.toml"
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first.ari_password) >= 30 and len(first.ami_password) >= 30
    assert first.ari_password != first.ami_password
    again = load_or_create_secrets(state)
    assert (again.ari_password, again.ami_password) == (first.ari_password, first.ami_password)
    stored = tomllib.loads(path.read_text())
    assert stored["ari_password"] == first.ari_password


def test_endpoint_password_is_generated_on_first_ask_and_persisted(tmp_path: Path) -> None:
    secrets = load_or_create_secrets(tmp_path)
    desk = secrets.endpoint_password("desk-d01")
    assert desk == secrets.endpoint_password("desk-d01")
    assert desk != secrets.endpoint_password("desk-d02")
    reloaded = load_or_create_secrets(tmp_path)
    assert reloaded.endpoint_password("desk-d01") == desk
    assert reloaded.endpoint_names() == ["desk-d01", "desk-d02"]
    assert stat.S_IMODE((tmp_path / "secrets.toml").stat().st_mode) == 0o600


def test_two_holders_do_not_lose_each_others_endpoints(tmp_path: Path) -> None:
    one, two = load_or_create_secrets(tmp_path), load_or_create_secrets(tmp_path)
    a = one.endpoint_password("desk-d01")
    b = two.endpoint_password("op-1001")
    assert two.endpoint_password("desk-d01") == a
    assert load_or_create_secrets(tmp_path).endpoint_names() == ["desk-d01", "op-1001"]
    assert load_or_create_secrets(tmp_path).endpoint_password("op-1001") == b


def test_no_temporary_files_left_behind(tmp_path: Path) -> None:
    load_or_create_secrets(tmp_path).endpoint_password("desk-d01")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secrets.toml", "secrets.toml.lock"]


def test_wider_permissions_are_tightened(tmp_path: Path) -> None:
    load_or_create_secrets(tmp_path)
    (tmp_path / "secrets.toml").chmod(0o644)
    load_or_create_secrets(tmp_path)
    assert stat.S_IMODE((tmp_path / "secrets.toml").stat().st_mode) == 0o600


def test_bad_endpoint_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        load_or_create_secrets(tmp_path).endpoint_password('x" = 1\n[evil')


def test_damaged_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "secrets.toml").write_text("ari_password = \n")
    with pytest.raises(ConfigError) as caught:
        load_or_create_secrets(tmp_path)
    assert "delete it" in caught.value.hint


def test_repr_hides_the_passwords(tmp_path: Path) -> None:
    secrets = load_or_create_secrets(tmp_path)
    assert secrets.ari_password not in repr(secrets)


def test_the_console_key_survives_a_new_endpoint_password(tmp_path: Path) -> None:
    """Adding a desk or an operator rewrites the file: the console's session key must stay the same."""
    first = load_or_create_secrets(tmp_path)
    key = first.console_secret_key
    assert len(key) >= 32
    first.endpoint_password("op-lan")
    again = load_or_create_secrets(tmp_path)
    assert again.console_secret_key == key and again.endpoint_password("op-lan") == first.endpoint_password("op-lan")


def test_each_ami_account_gets_its_own_password_kept_beside_the_endpoints(tmp_path: Path) -> None:
    secrets = load_or_create_secrets(tmp_path)
    desk = secrets.endpoint_password("desk-d01")
    monitor = secrets.for_ami("monitor")
    assert (monitor.ami_account, secrets.ami_account) == ("monitor", "cli")
    assert monitor.own_ami_password == secrets.ami_password_of("monitor") != secrets.own_ami_password
    again = load_or_create_secrets(tmp_path)
    assert again.ami_password_of("monitor") == monitor.own_ami_password
    assert again.endpoint_password("desk-d01") == desk
    assert tomllib.loads((tmp_path / "secrets.toml").read_text())["ami"]["monitor"] == monitor.own_ami_password


def test_an_older_file_gains_a_redis_password_and_keeps_the_rest(tmp_path: Path) -> None:
    (tmp_path / "secrets.toml").write_text('ari_password = "a"\nami_password = "b"\nconsole_secret_key = "k"\n'
                                           '\n[endpoints]\n"desk-d01" = "d"\n')
    (tmp_path / "secrets.toml").chmod(0o600)
    upgraded = load_or_create_secrets(tmp_path)
    assert (upgraded.ari_password, upgraded.endpoint_password("desk-d01")) == ("a", "d")
    assert len(upgraded.redis_password) >= 30
    again = load_or_create_secrets(tmp_path)
    assert again.redis_password == upgraded.redis_password
    assert stat.S_IMODE((tmp_path / "secrets.toml").stat().st_mode) == 0o600
    assert "redis_password" not in repr(again)


def test_a_new_password_keeps_the_files_owner_and_mode(tmp_path: Path) -> None:
    """Under systemd the processes run as ``hotline`` and read the file (0640 root:hotline); root adding an
    operator writes a new desk password into it, which must not take it from them."""
    import os
    state = tmp_path / "var"
    load_or_create_secrets(state)
    path = state / "secrets.toml"
    if os.getuid() == 0:
        os.chown(path, 0, 4321)          # a group of its own, as the set-up gives it hotline's
    path.chmod(0o640)
    load_or_create_secrets(state).endpoint_password("op-lan")
    assert "op-lan" in tomllib.loads(path.read_text())["endpoints"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    if os.getuid() == 0:
        assert (path.stat().st_uid, path.stat().st_gid) == (0, 4321)


def test_every_table_is_kept_when_another_is_written(tmp_path: Path) -> None:
    """Kamailio's database password, a channel's credential and an Open311 key survive any later write (the
    file was once rewritten with [endpoints] and [ami] only, and Kamailio's password changed at each start)."""
    first = load_or_create_secrets(tmp_path)
    kamailio = first.kamailio_db_password
    first.set_channel_secret("zalo_secret_key", "khóa-bí-mật")
    key = first.open311_key("cong-dich-vu-cong")
    first.endpoint_password("desk-d02")        # a later write of another table
    again = load_or_create_secrets(tmp_path)
    assert again.kamailio_db_password == kamailio
    assert again.channel_secret("zalo_secret_key") == "khóa-bí-mật"
    assert again.channel_secret("sms_token") == ""
    assert again.open311_client(key) == "cong-dich-vu-cong"
    assert again.open311_client(key + "x") is None


def test_an_open311_key_made_by_another_process_is_known_without_a_restart(tmp_path: Path) -> None:
    running = load_or_create_secrets(tmp_path)
    key = load_or_create_secrets(tmp_path).open311_key("a-client")     # the CLI, meanwhile
    assert running.open311_client(key) == "a-client"
    with pytest.raises(ValueError):
        running.open311_key("../etc")
