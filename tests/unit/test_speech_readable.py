"""Spoken Vietnamese numbers as digits, sentence case, and transcripts normalised for comparison."""
from __future__ import annotations

import copy
import unicodedata
from typing import Any

import pytest

from hotline.adapters.speech.readable import normalise_text, numbers_to_digits, readable, sentence_case


def words(text: str, conf: float | None = 0.9) -> list[dict[str, Any]]:
    """One word per 0.5 s, as a recognizer gives them."""
    return [{"word": w, "start": i * 0.5, "end": i * 0.5 + 0.4, "conf": conf} for i, w in enumerate(text.split())]


def digits(text: str) -> str:
    return " ".join(w["word"] for w in numbers_to_digits(words(text)))


@pytest.mark.parametrize("spoken, written", [
    # read digit by digit: phone numbers, codes, leading zeros kept
    ("không chín một hai ba bốn năm sáu bảy tám", "0912345678"),
    ("gọi số không chín tám bảy sáu năm bốn ba hai một nhé", "gọi số 0987654321 nhé"),
    ("mã số không không một hai ba", "mã số 00123"),
    ("một hai ba", "123"),
    ("bảy bẩy bảy", "777"),
    # composed numbers
    ("mười chín", "19"),
    ("hai mươi ba", "23"),
    ("hai mươi mốt", "21"),
    ("hai mươi một", "21"),
    ("hai mươi tư", "24"),
    ("mười lăm", "15"),
    ("mười nhăm", "15"),
    ("ba mươi lăm", "35"),
    ("năm mươi", "50"),
    ("mười", "10"),
    ("một trăm", "100"),
    ("một trăm linh năm", "105"),
    ("một trăm linh tư", "104"),
    ("chín trăm chín mươi chín", "999"),
    ("hai nghìn lẻ năm", "2005"),
    ("hai nghìn không trăm hai mươi sáu", "2026"),
    ("hai ngàn không trăm lẻ năm", "2005"),
    ("mười hai nghìn", "12000"),
    ("ba triệu năm trăm nghìn", "3500000"),
    ("năm trăm nghìn đồng", "500000 đồng"),
    ("hai tỷ ba trăm triệu", "2300000000"),
    ("một tỉ", "1000000000"),
    ("hai nghìn tỷ", "2000000000000"),
    ("đến cuối thế kỷ mười chín", "đến cuối thế kỷ 19"),
    # scale and "năm" words that are not numbers
    ("hàng trăm người", "hàng trăm người"),
    ("hàng nghìn năm", "hàng nghìn năm"),
    ("hai mươi năm", "20 năm"),
    ("mười năm", "10 năm"),
    ("một trăm năm", "100 năm"),
    ("hai nghìn năm", "2000 năm"),
    # a lone digit word stays a word
    ("một huấn luyện viên", "một huấn luyện viên"),
    ("hai người", "hai người"),
    ("năm nay", "năm nay"),
    ("trong năm năm qua", "trong năm năm qua"),
    ("tư vấn", "tư vấn"),
    ("lúc tư vấn", "lúc tư vấn"),
    ("ba mẹ", "ba mẹ"),
    # ... except after a context word
    ("tháng ba", "tháng 3"),
    ("số bảy", "số 7"),
    ("tầng không", "tầng 0"),
    ("phòng chín", "phòng 9"),
    ("lần thứ hai", "lần thứ 2"),
    ("tháng tư", "tháng 4"),
    ("lần thứ tư", "lần thứ 4"),
    ("mùng một tháng giêng", "mùng 1 tháng giêng"),
    ("sinh viên năm ba", "sinh viên năm 3"),
    ("ngày năm tháng ba", "ngày 5 tháng 3"),
    # "năm" the year
    ("năm hai nghìn không trăm hai mươi sáu", "năm 2026"),
    ("năm năm mươi", "năm 50"),
    ("năm hai không hai sáu", "năm 2026"),
    ("sinh năm một chín chín năm", "sinh năm 1995"),
    ("tháng ba năm hai không hai sáu", "tháng 3 năm 2026"),
    ("ngày mười lăm tháng ba năm hai nghìn không trăm hai mươi sáu", "ngày 15 tháng 3 năm 2026"),
    ("ngày năm tháng năm năm hai nghìn", "ngày 5 tháng 5 năm 2000"),
    ("tháng mười hai năm hai nghìn không trăm hai mươi lăm", "tháng 12 năm 2025"),
    # addresses
    ("số nhà mười hai", "số nhà 12"),
    ("hẻm ba trăm linh hai đường lê lợi", "hẻm 302 đường lê lợi"),
    ("tổ bảy khu phố ba", "tổ 7 khu phố ba"),
    # unknown words and digits pass through
    ("xin chào", "xin chào"),
    ("thế kỷ 19", "thế kỷ 19"),
    ("", ""),
    # any letter case; the words left as words keep theirs
    ("Mười Chín", "19"),
    ("THÁNG BA", "THÁNG 3"),
    ("Hai người", "Hai người"),
])
def test_numbers_to_digits(spoken: str, written: str) -> None:
    assert digits(spoken) == written


@pytest.mark.parametrize("spoken, written", [
    ("hai mươi tư", "24"),
    ("ngày mười lăm tháng ba", "ngày 15 tháng 3"),
    ("năm hai nghìn không trăm hai mươi sáu", "năm 2026"),
    ("số nhà mười hai", "số nhà 12"),
])
def test_decomposed_unicode_is_recognised(spoken: str, written: str) -> None:
    nfd = unicodedata.normalize("NFD", spoken)
    assert nfd != spoken or spoken.isascii()
    assert unicodedata.normalize("NFC", digits(nfd)) == written


def test_merged_token_timing_and_mean_confidence() -> None:
    ws = words("ngày mười lăm tháng ba")
    ws[1]["conf"], ws[2]["conf"] = 0.6, 0.8
    out = numbers_to_digits(ws)
    assert [w["word"] for w in out] == ["ngày", "15", "tháng", "3"]
    assert out[1]["start"] == 0.5 and out[1]["end"] == 1.4
    assert out[1]["conf"] == pytest.approx(0.7)
    assert out[3] == {"word": "3", "start": 2.0, "end": 2.4, "conf": 0.9}
    assert out[0] == ws[0] and out[0] is not ws[0]


def test_merged_confidence_is_none_if_any_word_lacks_one() -> None:
    ws = words("không chín một hai")
    ws[2]["conf"] = None
    out = numbers_to_digits(ws)
    assert out == [{"word": "0912", "start": 0.0, "end": 1.9, "conf": None}]
    del ws[2]["conf"]
    assert numbers_to_digits(ws)[0]["conf"] is None


def test_extra_keys_of_the_first_word_are_kept() -> None:
    ws = words("hai mươi")
    ws[0]["speaker"] = 1
    assert numbers_to_digits(ws) == [{"word": "20", "start": 0.0, "end": 0.9, "conf": 0.9, "speaker": 1}]


def test_input_is_not_mutated() -> None:
    sentences = [words("ngày mười lăm tháng ba năm hai nghìn không trăm hai mươi sáu"), [], words("đến rồi")]
    before = copy.deepcopy(sentences)
    numbers_to_digits(sentences[0])
    sentence_case(sentences)
    readable(sentences)
    assert sentences == before


@pytest.mark.parametrize("spoken", [
    "ngày mười lăm tháng ba năm hai nghìn không trăm hai mươi sáu",
    "không chín một hai ba bốn năm sáu bảy tám",
    "trong năm năm qua có hàng trăm người",
    "tháng năm năm hai nghìn",
    "số nhà mười hai",
])
def test_idempotent(spoken: str) -> None:
    once = numbers_to_digits(words(spoken))
    assert numbers_to_digits(once) == once
    sentences = readable([words(spoken)])
    assert readable(sentences) == sentences


@pytest.mark.parametrize("first, capitalised", [
    ("đến", "Đến"),
    ("ông", "Ông"),
    ("ở", "Ở"),
    ("ước", "Ước"),
    ("ấp", "Ấp"),
    ("ệ", "Ệ"),
    ("19", "19"),
    ("Xin", "Xin"),
])
def test_sentence_case_first_letter(first: str, capitalised: str) -> None:
    out = sentence_case([words(f"{first} đây")])
    assert [w["word"] for w in out[0]] == [capitalised, "đây."]


@pytest.mark.parametrize("last, ended", [
    ("rồi", "rồi."),
    ("rồi.", "rồi."),
    ("không?", "không?"),
    ("quá!", "quá!"),
])
def test_sentence_case_full_stop(last: str, ended: str) -> None:
    assert sentence_case([words(f"xong {last}")])[0][-1]["word"] == ended


def test_sentence_case_one_word_and_empty_sentences() -> None:
    out = sentence_case([[], words("alô"), []])
    assert [[w["word"] for w in s] for s in out] == [["Alô."]]
    assert out[0][0]["start"] == 0.0 and out[0][0]["end"] == 0.4
    assert sentence_case([]) == []
    assert sentence_case([[]]) == []


def test_readable() -> None:
    sentences = [words("đến cuối thế kỷ mười chín ngành đánh bắt cá được thương mại hóa"), [],
                 words("gọi lại số không chín một hai ba bốn năm sáu bảy tám"),
                 words("hai mươi ba")]
    out = readable(sentences)
    assert [" ".join(w["word"] for w in s) for s in out] == [
        "Đến cuối thế kỷ 19 ngành đánh bắt cá được thương mại hóa.",
        "Gọi lại số 0912345678.",
        "23.",
    ]
    assert out[1][-1] == {"word": "0912345678.", "start": 1.5, "end": 6.4, "conf": pytest.approx(0.9)}
    assert readable([]) == [] and readable([[]]) == []


@pytest.mark.parametrize("text, normal", [
    ("Đến cuối thế kỷ 19, ngành đánh bắt cá được thương mại hóa.",
     "đến cuối thế kỷ 19 ngành đánh bắt cá được thương mại hóa"),
    ("đến cuối thế kỷ mười chín", "đến cuối thế kỷ 19"),
    ("Ngày 15/3/2026, tháng Ba!", "ngày 15 3 2026 tháng 3"),
    ("ngày mười lăm tháng ba năm hai nghìn không trăm hai mươi sáu", "ngày 15 tháng 3 năm 2026"),
    ("Giá: 3.500.000 đồng", "giá 3500000 đồng"),
    ("ba triệu năm trăm nghìn đồng", "3500000 đồng"),
    ("  Xin   chào…  «bạn»  ", "xin chào bạn"),
    ("", ""),
    ("?!", ""),
])
def test_normalise_text(text: str, normal: str) -> None:
    assert normalise_text(text) == normal


def test_normalise_text_nfd_and_spoken_agree_with_written() -> None:
    written = "Ngày 15 tháng 3 năm 2026, số nhà 12."
    spoken = unicodedata.normalize(
        "NFD", "ngày mười lăm tháng ba năm hai nghìn không trăm hai mươi sáu số nhà mười hai")
    assert normalise_text(spoken) == normalise_text(written) == "ngày 15 tháng 3 năm 2026 số nhà 12"
