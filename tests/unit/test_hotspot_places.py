"""The place a hotspot shows (hotline.domain.tickets.places): the street, commune or ward (and the district of an
old three-tier address), never the citizen's house number, alley, hamlet, name or phone number. Vietnamese
addresses as citizens write them: two tiers and three, with and without diacritics, with the usual abbreviations;
communes and districts written as the transfer directory names them (the shipped sample's districts, the merged
Đồng Tháp's communes)."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hotline.domain.directory import load_directory
from hotline.domain.tickets.nearby import Nearby, Place, hotspots, place_names, place_of
from hotline.domain.tickets.places import UNKNOWN, place_label

ROOT = Path(__file__).resolve().parents[2]
NAMES = place_names(e.name for d in (ROOT / "transfer_directory", ROOT / "samples/dong-thap-2025/transfer_directory")
                    for e in load_directory(d).entries if e.kind in ("commune", "district"))


@pytest.mark.parametrize(("address", "label"), [
    # three tiers (before 1 July 2025): street, ward, district; the province left out
    ("Số 12 đường Nguyễn Huệ, phường 1, thành phố Cao Lãnh", "Đường Nguyễn Huệ, Phường 1, Thành phố Cao Lãnh"),
    ("số nhà 45A đường Lê Lợi, phường 2, TP. Sa Đéc, tỉnh Đồng Tháp", "Đường Lê Lợi, Phường 2, Thành phố Sa Đéc"),
    ("12/3 hẻm 5 Trần Phú, P.3, Q.10, TP.HCM", "Phường 3, Quận 10"),
    ("45 Tô Hiến Thành, P13, Q10", "Phường 13, Quận 10"),     # no đường: no street
    ("Ấp Mỹ Hòa, xã Mỹ Hiệp, huyện Cao Lãnh, Đồng Tháp", "Xã Mỹ Hiệp, Huyện Cao Lãnh"),
    ("Tổ 5, khu phố 3, phường Tân Phong, thành phố Biên Hòa", "Phường Tân Phong, Thành phố Biên Hòa"),
    ("Ngõ 5 phố Huế, phường Hai Bà Trưng, quận Hai Bà Trưng, Hà Nội",
     "Phố Huế, Phường Hai Bà Trưng, Quận Hai Bà Trưng"),
    ("kiệt 45 Hùng Vương, phường Hải Châu 1, quận Hải Châu, thành phố Đà Nẵng",
     "Phường Hải Châu 1, Quận Hải Châu"),
    # two tiers (since 1 July 2025): street and commune or ward, then the province
    ("hẻm 12/3 đường Trần Phú, phường Mỹ Tho, tỉnh Đồng Tháp", "Đường Trần Phú, Phường Mỹ Tho"),
    ("Số 7, ngõ 15, ngách 4 phố Quán Thánh, phường Ba Đình, Hà Nội", "Phố Quán Thánh, Phường Ba Đình"),
    ("thôn Đông, xã Tân Thành, tỉnh Đồng Tháp", "Xã Tân Thành"),
    ("Quốc lộ 30, ấp 3, xã Mỹ Hiệp", "Quốc lộ 30, Xã Mỹ Hiệp"),
    ("Đường số 5, phường Bình Trị Đông, Thành phố Hồ Chí Minh", "Đường số 5, Phường Bình Trị Đông"),
    ("Xa lộ Hà Nội, phường Thủ Đức, TP Hồ Chí Minh", "Xa lộ Hà Nội, Phường Thủ Đức"),
    ("Chợ phường 2, thành phố Sa Đéc", "Phường 2, Thành phố Sa Đéc"),
    ("đặc khu Phú Quốc, tỉnh An Giang", "Đặc khu Phú Quốc"),
    # without diacritics: a commune or district of the directory gets its own name back
    ("so 7 duong le loi, phuong my tho", "Đường Le Loi, Phường Mỹ Tho"),
    ("ap my hoa, xa my hiep, huyen cao lanh", "Xã Mỹ Hiệp, Huyện Cao Lãnh"),
    ("hem 12/3 duong tran phu, p.3, q.10", "Đường Tran Phu, Phường 3, Quận 10"),
    ("to 3, thon dong, xa tan thanh", "Xã Tân Thành"),
    # a person, a house, a phone number written in the address: gone
    ("Nhà ông Nguyễn Văn Ba, số 12 đường Lê Lợi, phường 2", "Đường Lê Lợi, Phường 2"),
    ("đường Lê Lợi nhà bà Tư 0912345678, phường 2", "Đường Lê Lợi, Phường 2"),
    ("0912 345 678 - 20 Nguyễn Trãi, xã Tân Phú", "Xã Tân Phú"),
    ("đường Trần Hưng Đạo chị Lan, phường 2 ông Ba", "Đường Trần Hưng Đạo, Phường 2"),
    ("Đường Bà Triệu, phường Bà Rịa, thành phố Bà Rịa", "Đường Bà Triệu, Phường Bà Rịa, Thành phố Bà Rịa"),
    # only a place of the directory: that place (of two of one name, the first listed: the shipped districts')
    ("Chợ Sa Đéc", "Thành phố Sa Đéc"),
    ("Khu dân cư Mỹ Hiệp, Đồng Tháp", "Xã Mỹ Hiệp"),
])
def test_an_address_becomes_its_street_and_commune(address: str, label: str) -> None:
    assert place_label(address, NAMES) == label


@pytest.mark.parametrize("address", ["Nhà ông Ba, ấp 3", "0912345678", "Chị Lan, tổ 5", "", "  ,  "])
def test_an_address_that_names_no_street_commune_or_district_has_no_label(address: str) -> None:
    assert place_label(address, NAMES) == ""


def test_the_label_is_the_text_s_commune_when_the_address_names_none() -> None:
    place = place_of("Nhà ông Ba, ấp 3", None, None, "Cầu ở xã Mỹ Hiệp bị sụt lún", NAMES)
    assert place.key == "nha ong ba ap 3" and place.label == "Xã Mỹ Hiệp"      # clustered by the address


# what a security review found shown, each with its label now: the place's name only, no phone, house, flat or
# person (in any case), and no digit but a numbered ward's own
@pytest.mark.parametrize(("address", "label"), [
    ("Đường Lê Lợi 0912.345.678", "Đường Lê Lợi"),
    ("Phường Tân Định +84 912 345 678", "Phường Tân Định"),
    ("phường 1 zalo 0912 345 678", "Phường 1"),
    ("Phường 2 Nguyễn Thị Lan 0912 345 678", "Phường 2"),
    ("Xã An Bình Ông Nguyễn Văn A", "Xã An Bình"),
    ("thôn 3 xã An Bình Nguyễn Văn A", "Xã An Bình"),
    ("đường Trần Phú Anh Nam", "Đường Trần Phú"),
    ("Đường Lê Lợi 12", "Đường Lê Lợi"),
    ("đường Lê Lợi căn hộ 1203", "Đường Lê Lợi"),
    ("Phường 3 K12/5", "Phường 3"),
    ("12 Nguyễn Văn A, xã Mỹ Hiệp", "Xã Mỹ Hiệp"),            # no đường: a person's name is no street
    ("12 Nguyễn Văn A", ""),
    ("xã Mỹ Hiệp Nguyễn Văn A 0912345678", "Xã Mỹ Hiệp"),    # the directory's commune, then nothing
    ("Quốc lộ 912 345 678, xã Mỹ Hiệp", "Xã Mỹ Hiệp"),       # a number followed by more is no road's
    ("đường Nguyễn Thị Minh Khai Trần Văn B, P.3", "Đường Nguyễn Thị Minh Khai, Phường 3"),
    ("ĐƯỜNG LÊ LỢI ÔNG TƯ, PHƯỜNG 2", "Đường LÊ LỢI, Phường 2"),
    ("duong le loi sdt 0912345678, phuong 2", "Đường Le Loi, Phường 2"),
])
def test_a_label_keeps_the_place_s_name_and_nothing_else(address: str, label: str) -> None:
    shown = place_label(address, NAMES)
    assert shown == label
    assert not re.search(r"\d", re.sub(r"(?:Phường|Quận) \d{1,2}\b", "", shown))
    people = {"Ông", "ÔNG", "Bà", "Anh", "Chị", "Văn", "Lan", "Nam", "Tư", "TƯ", "A", "B", "Zalo", "Căn"}
    assert not people & set(shown.replace(",", " ").split())


_PHONES = ["0912345678", "0912.345.678", "0912 345 678", "+84 912 345 678", "84912345678", "(+84) 912-345-678"]
_PLACES = ["đường Lê Lợi {}, phường 2", "Đường Trần Phú {} Phường Tân Định", "phường 1 {}", "xã Mỹ Hiệp {}",
           "{} - 20 Nguyễn Trãi, xã Tân Phú", "Quốc lộ 30 {}, huyện Cao Lãnh", "P.3 Q.10 sđt {}",
           "số 12 đường Lê Lợi anh Nam {}", "Ấp 3 xã An Bình chị Lan ĐT {}", "duong so 5 {} phuong 13"]


@pytest.mark.parametrize("address", [p.format(n) for p in _PLACES for n in _PHONES])
def test_no_phone_number_in_any_grouping_reaches_a_label(address: str) -> None:
    shown = place_label(address, NAMES)
    assert not re.search(r"\d{3}", shown.replace(" ", "").replace(".", "")), shown
    assert all(group not in shown for group in ("912", "345", "678", "0912", "84")), shown


def _ticket(i: int, place: Place, category: str = "infrastructure") -> Nearby:
    return Nearby(i, f"000000{i}", datetime(2026, 12, 1, tzinfo=UTC) + timedelta(hours=i), place=place,
                  category=category)


def test_a_hotspot_shows_its_tickets_commonest_label_and_never_an_address() -> None:
    addresses = ["Số 12 đường Nguyễn Huệ, phường 1, thành phố Cao Lãnh", "12 Nguyễn Huệ, phường 1",
                 "số nhà 12 đường Nguyễn Huệ, phường 1, thành phố Cao Lãnh"]
    [spot] = hotspots([_ticket(i, place_of(a, None, None, names=NAMES)) for i, a in enumerate(addresses)], 3)
    assert spot.place == "Đường Nguyễn Huệ, Phường 1, Thành phố Cao Lãnh" and spot.count == 3
    assert "12" not in spot.place


def test_of_labels_given_as_often_a_hotspot_shows_the_shortest() -> None:
    labels = ["Đường Nguyễn Huệ Văn, Phường 1", "Phường 1", "Đường Nguyễn Huệ, Phường 1"]
    [spot] = hotspots([_ticket(i, Place("duong nguyen hue phuong 1", label, None, None))
                       for i, label in enumerate(labels)], 3)
    assert spot.place == "Phường 1"                                         # the one that says least


def test_a_hotspot_without_a_label_shows_an_area_or_that_its_place_is_unknown() -> None:
    points = [Place("", "", 10.46012 + i / 100000, 105.63047) for i in range(3)]
    [spot] = hotspots([_ticket(i, p) for i, p in enumerate(points)], 3)
    assert spot.place == "Khu vực quanh 10.460, 105.630"                     # about 100 m, not a house
    [unknown] = hotspots([_ticket(i, place_of("Nhà ông Ba, ấp 3", None, None)) for i in range(3)], 3)
    assert unknown.place == UNKNOWN == "(không rõ địa điểm)"
