"""Province settings: defaults, environment overrides, and errors that name the line."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from hotline.config.settings import REPO_ROOT, load_settings, toml_key_lines
from hotline.domain.errors import ConfigError

SAMPLE = REPO_ROOT / "province.toml"
MINIMAL = '[province]\nname = "Đồng Tháp"\narea_code = "0277"\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "province.toml"
    path.write_text(text, encoding="utf-8")
    return path


def edited_sample(tmp_path: Path, old: str, new: str) -> Path:
    text = SAMPLE.read_text(encoding="utf-8")
    assert f"\n{old}" in text, old
    return write(tmp_path, text.replace(f"\n{old}", f"\n{new}", 1))


def line_of(path: Path, starts_with: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith(starts_with))


def error_for(path: Path, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env=env or {})
    return caught.value


def test_sample_file_loads_with_documented_values() -> None:
    s = load_settings(SAMPLE, env={})
    assert s.source == SAMPLE
    assert s.repo_root == REPO_ROOT
    assert s.province.name == "Đồng Tháp"
    assert s.province.area_code == "0277"
    assert s.province.hotline_numbers == ["1022", "02771022"]
    assert str(s.tz) == "Asia/Ho_Chi_Minh"
    assert s.staffed_hours.days == [0, 1, 2, 3, 4]
    assert (s.staffed_hours.open, s.staffed_hours.close) == (dt.time(7), dt.time(23))
    assert s.agency_hours.periods == [(dt.time(7), dt.time(11, 30)), (dt.time(13, 30), dt.time(17))]
    assert s.holidays.computed is True
    assert s.paths.state_dir == REPO_ROOT / "var"
    assert s.paths.flow == REPO_ROOT / "ivr_flows" / "hotline_1022.yaml"
    assert s.paths.directory == REPO_ROOT / "transfer_directory"
    assert s.database.url == f"sqlite:///{REPO_ROOT}/var/db/hotline.db"
    assert s.asterisk.root == Path("/var/cache/hotline-1022/asterisk-root")


def test_minimal_file_gets_every_default(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, MINIMAL), env={})
    assert s.province.hotline_numbers == ["1022", "02771022"]
    assert s.province.timezone == "Asia/Ho_Chi_Minh"
    assert (s.sip.bind, s.sip.port) == ("127.0.0.1", 5060)
    a = s.asterisk
    assert (a.system_name, a.http_port, a.ami_port, a.ari_app) == ("hotline1", 8088, 5038, "hotline")
    assert (a.ari_user, a.ami_user, a.min_version) == ("hotline", "hotline", 22)
    assert (a.rtp_start, a.rtp_end) == (10000, 20000)
    assert (s.agi.bind, s.agi.port) == ("127.0.0.1", 4573)
    assert s.paths.recordings_root == REPO_ROOT / "recordings"
    assert s.paths.prompts_dir == REPO_ROOT / "ivr_flows" / "prompts"
    assert (s.voicemail.max_seconds, s.voicemail.min_seconds) == (180.0, 2.0)
    assert (s.ivr.digit_timeout, s.ivr.transfer_ring_seconds) == (5.0, 30.0)
    assert s.queue.max_wait == 120.0
    assert (s.redis.url, s.redis.port) == ("", 6380)      # the hotline's own Redis, its password generated
    assert s.holidays.extra == [] and s.holidays.removed == []


def test_relative_paths_are_read_from_the_settings_directory(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + '[paths]\nstate_dir = "state"\nflow = "../flows/main.yaml"\n')
    s = load_settings(path, env={})
    assert s.paths.state_dir == tmp_path / "state"
    assert s.paths.flow == tmp_path.parent / "flows" / "main.yaml"
    assert s.database.url == f"sqlite:///{tmp_path}/state/db/hotline.db"


def test_environment_wins_over_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + '[sip]\nport = 5060\n[redis]\nurl = "redis://10.0.0.1:6379/0"\n')
    env = {
        "HOTLINE_SIP_PORT": "5071",
        "HOTLINE_STATE_DIR": str(tmp_path / "st"),
        "HOTLINE_RECORDINGS_ROOT": str(tmp_path / "rec"),
        "HOTLINE_FLOW": str(tmp_path / "f.yaml"),
        "HOTLINE_DIRECTORY": str(tmp_path / "dir"),
        "HOTLINE_ASTERISK_ROOT": str(tmp_path / "ast"),
        "HOTLINE_REDIS_URL": "redis://127.0.0.1:6390/3",
    }
    s = load_settings(path, env=env)
    assert s.sip.port == 5071
    assert s.paths.state_dir == tmp_path / "st"
    assert s.paths.recordings_root == tmp_path / "rec"
    assert s.paths.flow == tmp_path / "f.yaml"
    assert s.paths.directory == tmp_path / "dir"
    assert s.asterisk.root == tmp_path / "ast"
    assert s.redis.url == "redis://127.0.0.1:6390/3"
    assert s.database.url == f"sqlite:///{tmp_path}/st/db/hotline.db"
    s = load_settings(path, env={"HOTLINE_DATABASE_URL": "postgresql+psycopg://h@db/hotline"})
    assert s.database.url == "postgresql+psycopg://h@db/hotline"


def test_settings_path_comes_from_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("Đồng Tháp", "Gia Lai").replace("0277", "0269"))
    s = load_settings(env={"HOTLINE_SETTINGS": str(path)})
    assert s.source == path
    assert s.province.name == "Gia Lai"
    assert s.province.hotline_numbers == ["1022", "02691022"]


def test_bad_environment_value_names_the_variable() -> None:
    err = error_for(SAMPLE, env={"HOTLINE_SIP_PORT": "five"})
    assert err.file == "environment variable HOTLINE_SIP_PORT"
    assert "sip.port" in err.message


def test_bad_time_names_file_line_and_format(tmp_path: Path) -> None:
    path = edited_sample(tmp_path, 'open = "07:00"', 'open = "25:00"')
    err = error_for(path)
    assert (err.file, err.line) == (str(path), line_of(path, "open ="))
    assert err.message == "staffed_hours.open: '25:00' is not a time"
    assert err.hint == 'write HH:MM, e.g. "07:00"'
    assert str(err).startswith(f"{path}:{err.line}: staffed_hours.open")


def test_unquoted_area_code_asks_for_quotes(tmp_path: Path) -> None:
    path = edited_sample(tmp_path, 'area_code = "0277"', "area_code = 277")
    err = error_for(path)
    assert err.line == line_of(path, "area_code")
    assert 'area_code = "0277"' in err.hint


def test_unknown_key_lists_the_valid_keys(tmp_path: Path) -> None:
    path = edited_sample(tmp_path, "port = 5060", "port = 5060\nprot = 5061")
    err = error_for(path)
    assert err.line == line_of(path, "prot =")
    assert err.message == "sip.prot: unknown key"
    assert err.hint == "valid keys in [sip]: bind, port"


def test_unknown_table_lists_the_valid_tables(tmp_path: Path) -> None:
    err = error_for(write(tmp_path, MINIMAL + "[voicemial]\nmax_seconds = 60\n"))
    assert err.line == 4
    assert "voicemail" in err.hint and "staffed_hours" in err.hint


@pytest.mark.parametrize(("old", "new", "key", "hint_part"), [
    ('days = ["mon", "tue", "wed", "thu", "fri"]   #', 'days = ["mon", "thứ 2"]   #', "days =", '"mon"'),
    ('close = "23:00"', 'close = "06:00"', "close =", "open ="),
    ("port = 5060", "port = 70000", "port =", "port = 5060"),
    ('bind = "127.0.0.1"                 # listen', 'bind = "localhost"  # listen', "bind =", "127.0.0.1"),
    ('timezone = "Asia/Ho_Chi_Minh"', 'timezone = "Asia/Hanoi"', "timezone =", "Asia/Ho_Chi_Minh"),
    ("rtp_end = 20000", "rtp_end = 9000", "rtp_end =", "rtp_end = 20000"),
    ("min_seconds = 2.0", "min_seconds = 500", "min_seconds", "max_seconds"),
    ('# url = ""', 'url = "127.0.0.1:6379"', "url =", "redis://"),
])
def test_bad_values_point_at_their_line(tmp_path: Path, old: str, new: str, key: str, hint_part: str) -> None:
    path = edited_sample(tmp_path, old, new)
    err = error_for(path)
    assert err.line == line_of(path, key), str(err)
    assert hint_part in err.hint, str(err)


def test_overlapping_agency_periods_name_the_period_line(tmp_path: Path) -> None:
    path = edited_sample(tmp_path, 'periods = [["07:00", "11:30"], ["13:30", "17:00"]]',
                         'periods = [\n  ["07:00", "11:30"],\n  ["11:00", "17:00"],\n]')
    err = error_for(path)
    assert err.line == line_of(path, '  ["11:00"')
    assert err.message == "agency_hours.periods[1]: period 2 starts before period 1 ends"


def test_bad_holiday_entry_names_its_line(tmp_path: Path) -> None:
    path = edited_sample(tmp_path, "extra = []", 'extra = [\n  { date = 2027-02-11, name = "Nghỉ" },\n'
                                                  '  { date = "2027-13-01", name = "Sai" },\n]')
    err = error_for(path)
    assert err.line == line_of(path, '  { date = "2027-13-01"')
    assert err.message.startswith("holidays.extra[1].date:")
    assert "YYYY-MM-DD" in err.hint


def test_missing_province_name(tmp_path: Path) -> None:
    err = error_for(write(tmp_path, '[province]\narea_code = "0277"\n'))
    assert err.line == 1
    assert err.message == "province.name: missing"
    assert err.hint == 'add name = "Đồng Tháp"'


def test_several_errors_are_all_reported(tmp_path: Path) -> None:
    err = error_for(write(tmp_path, MINIMAL + '[sip]\nport = 0\n[agi]\nport = "x"\n'))
    assert err.line == 5
    assert any("agi.port" in note and ":7:" in note for note in err.__notes__)


def test_toml_syntax_error_has_the_line(tmp_path: Path) -> None:
    err = error_for(write(tmp_path, MINIMAL + 'open = "07:00\n'))
    assert err.line == 4
    assert err.message.startswith("not valid TOML")


def test_missing_file(tmp_path: Path) -> None:
    err = error_for(tmp_path / "nope.toml")
    assert "HOTLINE_SETTINGS" in err.hint


def test_key_lines_follow_tables_arrays_and_multiline_strings() -> None:
    text = ('[a]\nx = """one\n[not.a.table]\n"""\ny = [\n  { k = 1 },\n  { k = 2 }, # c\n]\n'
            '[[b.c]]\nz = 1\n[[b.c]]\n"q.r" = 2\n')
    lines = toml_key_lines(text)
    assert lines[("a", "x")] == 2
    assert ("not", "a", "table") not in lines
    assert lines[("a", "y", 1, "k")] == 7
    assert lines[("b", "c", 1)] == 11
    assert lines[("b", "c", 1, "q.r")] == 12


def test_capacity_defaults_and_asterisks_ceiling_above_admission(tmp_path: Path) -> None:
    s = load_settings(SAMPLE, env={})
    assert (s.capacity.max_calls, s.capacity.asterisk_max_calls) == (120, 240)   # the ceiling: twice
    assert s.queue.max_waiting == 50
    s = load_settings(write(tmp_path, MINIMAL + "[capacity]\nmax_calls = 0\n"), env={})
    assert (s.capacity.max_calls, s.capacity.asterisk_max_calls) == (0, 0)       # no limit at all
    path = write(tmp_path, MINIMAL + "[capacity]\nmax_calls = 100\nasterisk_max_calls = 100\n")
    error = error_for(path)
    assert error.line == line_of(path, "asterisk_max_calls") and "not above max_calls" in error.message
    assert "asterisk_max_calls = 200" in error.hint
