"""The transfer directory: the shipped Đồng Tháp data, and every mistake reported with file and line."""
from __future__ import annotations

from pathlib import Path

import pytest

from hotline.config.settings import REPO_ROOT
from hotline.domain.directory import Agency, Desk, Directory, load_directory
from hotline.domain.errors import ConfigError, ConfigErrors

SHIPPED = REPO_ROOT / "transfer_directory"

OFFICES = """\
entries:
  - code: "01"
    kind: provincial_office
    name: "Văn phòng UBND tỉnh"
    desk: {endpoint: desk-vp}
  - code: "01"
    kind: postal_service
    name: "Bưu điện tỉnh"
    desk: {endpoint: desk-bd}
"""


def department(code: str = '"01"', name: str = "Sở Tư pháp", desk: str = "endpoint: desk-d01",
               extra: str = "") -> str:
    return (f"  - code: {code}\n    kind: department\n    name: \"{name}\"\n"
            f"    desk:\n      {desk}\n{extra}")


def make_dir(tmp_path: Path, departments: str, offices: str = OFFICES) -> Path:
    (tmp_path / "departments.yaml").write_text("entries:\n" + departments, encoding="utf-8")
    (tmp_path / "offices.yaml").write_text(offices, encoding="utf-8")
    return tmp_path


def errors_of(path: Path) -> list[ConfigError]:
    with pytest.raises(ConfigErrors) as caught:
        load_directory(path)
    return caught.value.errors


def only_error(path: Path) -> ConfigError:
    errors = errors_of(path)
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0]


def test_shipped_directory_has_17_departments_12_districts_and_the_offices() -> None:
    d = load_directory(SHIPPED)
    departments, districts = d.of_kind("department"), d.of_kind("district")
    assert [a.code for a in departments] == [f"{i:02d}" for i in range(1, 18)]
    assert [a.code for a in districts] == [f"{i:02d}" for i in range(1, 13)]
    assert len(d.entries) == 17 + 12 + 2
    assert d.find("department", "01") == departments[0]
    assert departments[0].name == "Sở Tư pháp"
    assert {"Sở Nông nghiệp và Môi trường", "Sở Văn hóa, Thể thao và Du lịch", "Công an tỉnh"} <= {
        a.name for a in departments}
    assert districts[0].name == "Thành phố Cao Lãnh"
    assert districts[11].name == "Huyện Châu Thành"
    assert d.provincial_office.name == "Văn phòng UBND tỉnh Đồng Tháp"
    assert d.postal_service.name == "Bưu điện tỉnh Đồng Tháp"
    assert d.find("postal_service", "01") is d.postal_service
    assert d.find("department", "18") is None


def test_shipped_entries_have_desks_and_fictional_focal_points() -> None:
    d = load_directory(SHIPPED)
    endpoints = [a.desk.endpoint for a in d.endpoints()]
    assert len(endpoints) == len(set(endpoints)) == 31
    first = d.find("department", "01")
    assert first is not None
    assert first.desk == Desk(endpoint="desk-d01", contact=None, dial="PJSIP/desk-d01")
    assert first.source == str(SHIPPED / "departments.yaml")
    assert first.line == 7
    for agency in d.entries:
        assert agency.focal_points, agency.name
        assert all(f.email.endswith("@example.gov.vn") for f in agency.focal_points)


def test_to_json_lists_every_entry() -> None:
    data = load_directory(SHIPPED).to_json()
    assert len(data) == 31
    assert data[0] == {
        "code": "01", "kind": "department", "name": "Sở Tư pháp",
        "desk": {"endpoint": "desk-d01", "contact": None, "dial": "PJSIP/desk-d01"},
        "focal_points": [{"name": "Nguyễn Văn A", "email": "tuphap-1022@example.gov.vn", "phone": "02770000101"}],
    }
    assert data[-1]["kind"] == "postal_service"


def test_single_file_and_dial_and_contact_desks(tmp_path: Path) -> None:
    text = ("entries:\n" + department() +
            department('"02"', "Sở Tài chính", 'dial: "PJSIP/02773851234@provincial-pbx"') +
            department('"03"', "Sở Xây dựng", "endpoint: desk-d03\n      contact: sip:127.0.0.1:5071") +
            OFFICES.removeprefix("entries:\n"))
    path = tmp_path / "all.yaml"
    path.write_text(text, encoding="utf-8")
    d = load_directory(path)
    assert d.find("department", "02") == Agency(
        "02", "department", "Sở Tài chính", Desk(None, None, "PJSIP/02773851234@provincial-pbx"), (), 7, str(path))
    three = d.find("department", "03")
    assert three is not None and three.desk.contact == "sip:127.0.0.1:5071" and three.desk.dial == "PJSIP/desk-d03"
    assert [a.code for a in d.endpoints()] == ["01", "03", "01", "01"]


def test_duplicate_code_names_both_lines(tmp_path: Path) -> None:
    path = make_dir(tmp_path, department() + department('"01"', "Sở Tài chính", "endpoint: desk-d02"))
    err = only_error(path)
    assert (err.file, err.line) == (str(path / "departments.yaml"), 7)
    assert "departments.yaml:7: department code '01' is used twice (also by 'Sở Tư pháp' at " in str(err)
    assert str(err).endswith("departments.yaml:2) — give each agency of a kind its own code")


def test_unquoted_code_says_to_quote_it(tmp_path: Path) -> None:
    path = make_dir(tmp_path, department() + department("07", "Sở Nội vụ", "endpoint: desk-d07"))
    err = only_error(path)
    assert err.line == 7
    assert err.message == "code 7 is a number: YAML drops the leading zero"
    assert err.hint == 'put the code in quotes: code: "07"'
    assert "departments.yaml:7: code 7" in str(err)


def test_unknown_kind(tmp_path: Path) -> None:
    path = make_dir(tmp_path, department().replace("kind: department", "kind: ministry"))
    err = only_error(path)
    assert err.line == 3
    assert "unknown kind 'ministry'" in err.message and "postal_service" in err.hint


@pytest.mark.parametrize(("desk", "line", "message"), [
    ('endpoint: desk-d01\n      dial: "PJSIP/x@trunk"', 5, "exactly one of endpoint or dial"),
    ("contact: sip:127.0.0.1:5071", 5, "exactly one of endpoint or dial"),
    ("endpoint: Desk_01", 6, "endpoint 'Desk_01' is not a valid name"),
    ('dial: "02773851234"', 6, "is not an Asterisk dial string"),
    ('dial: "PJSIP/x@trunk"\n      contact: sip:127.0.0.1:5071', 7, "contact needs an endpoint"),
    ("endpoint: desk-d01\n      port: 5071", 7, "unknown key 'port' in desk"),
])
def test_bad_desk(tmp_path: Path, desk: str, line: int, message: str) -> None:
    err = only_error(make_dir(tmp_path, department(desk=desk)))
    assert err.line == line, str(err)
    assert message in err.message
    assert err.file == str(tmp_path / "departments.yaml")


def test_duplicate_endpoint(tmp_path: Path) -> None:
    path = make_dir(tmp_path, department() + department('"02"', "Sở Tài chính"))
    err = only_error(path)
    assert err.line == 7 and "endpoint 'desk-d01' is used twice" in err.message


def test_bad_name_and_focal_points(tmp_path: Path) -> None:
    focal = ('    focal_points:\n      - name: "Nguyễn Văn A"\n        email: not-an-address\n'
             "        phone: 02770000101\n        fax: x\n")
    errors = errors_of(make_dir(tmp_path, department(name="So Tu phap", extra=focal)))
    by_line = {e.line: e.message for e in errors}
    assert "has no Vietnamese diacritics" in by_line[4]
    assert "email 'not-an-address'" in by_line[9]
    assert "is not a phone number in quotes" in by_line[10]
    assert "unknown key 'fax'" in by_line[11]
    assert len(errors) == 4


def test_all_errors_are_reported_at_once_across_files(tmp_path: Path) -> None:
    path = make_dir(tmp_path, department("1") + department('"02"', "Sở Tài chính", "endpoint: desk-d02",
                                                          extra="    colour: red\n"),
                    offices=OFFICES.replace("postal_service", "post_office"))
    errors = errors_of(path)
    where = sorted((Path(e.file or "").name, e.line) for e in errors)
    assert where == [("departments.yaml", 2), ("departments.yaml", 12), ("offices.yaml", 7), (tmp_path.name, None)]
    assert any("the directory has no postal_service" in e.message for e in errors)


def test_second_provincial_office(tmp_path: Path) -> None:
    offices = OFFICES + '  - code: "02"\n    kind: provincial_office\n    name: "Văn phòng khác"\n' \
                        "    desk: {endpoint: desk-vp2}\n"
    err = only_error(make_dir(tmp_path, department(), offices))
    assert err.line == 10 and "a second provincial_office" in err.message


def test_yaml_syntax_error_and_missing_entries(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text('entries:\n  - code: "01\n', encoding="utf-8")
    (tmp_path / "empty.yaml").write_text("# nothing yet\n", encoding="utf-8")
    (tmp_path / "offices.yaml").write_text(OFFICES, encoding="utf-8")
    errors = errors_of(tmp_path)
    assert [Path(e.file or "").name for e in errors] == ["broken.yaml", "empty.yaml"]
    assert "not valid YAML" in errors[0].message
    assert "entries:" in errors[1].message


def test_empty_folder(tmp_path: Path) -> None:
    err = only_error(tmp_path)
    assert "no *.yaml files" in err.message


def test_directory_without_offices_raises_on_lookup() -> None:
    d = Directory(())
    with pytest.raises(LookupError):
        _ = d.provincial_office
