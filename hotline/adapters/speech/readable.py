"""Readable transcripts: spoken Vietnamese numbers as digits, sentences in sentence case."""
from __future__ import annotations

import re
import unicodedata

from hotline.adapters.speech.transcript import Word

DIGITS = {"không": 0, "một": 1, "hai": 2, "ba": 3, "bốn": 4, "năm": 5, "sáu": 6, "bảy": 7, "bẩy": 7,
          "tám": 8, "chín": 9}
# The unit after "mười" (11-19; "mười năm" is "ten years") and after "mươi" (x1-x9; "hai mươi năm" likewise).
AFTER_MUOI_10 = {**{w: d for w, d in DIGITS.items() if d and w != "năm"}, "lăm": 5, "nhăm": 5}
AFTER_MUOI = {**AFTER_MUOI_10, "mốt": 1, "tư": 4}
ZERO_TENS = ("linh", "lẻ")                      # "một trăm linh năm" 105, "hai nghìn lẻ năm" 2005
AFTER_ZERO_TENS = {**{w: d for w, d in DIGITS.items() if d}, "tư": 4}
SCALES = {"nghìn": 1000, "ngàn": 1000, "triệu": 10**6, "tỷ": 10**9, "tỉ": 10**9}
STRUCTURE = frozenset({"mươi", "trăm", *SCALES})
# After these a lone digit word is a number: "tháng ba" -> "tháng 3", "số bảy" -> "số 7".
CONTEXT = frozenset({"ngày", "tháng", "năm", "số", "nhà", "phòng", "tầng", "lầu", "tổ", "ấp", "khóm", "khu",
                     "phường", "quận", "lô", "hẻm", "kiệt", "ngõ", "ngách", "mã", "lúc", "đợt", "lần thứ",
                     "khoản", "điều", "chương", "mùng", "mồng"})
FOUR_CONTEXT = frozenset({"tháng", "lần thứ"})  # "tháng tư" (April), "lần thứ tư"
ENDINGS = (".", "?", "!", "…")

Parse = tuple[int, int]                         # (index after the number's last word, its value)


def _key(word: str) -> str:
    return unicodedata.normalize("NFC", word).strip().lower()


def _at(keys: list[str], i: int) -> str:
    return keys[i] if i < len(keys) else ""


def _tens(keys: list[str], i: int) -> list[Parse]:
    """10-99 said with "mười" or "mươi"."""
    word = _at(keys, i)
    if word == "mười":
        unit = AFTER_MUOI_10.get(_at(keys, i + 1))
        return [(i + 1, 10)] + ([(i + 2, 10 + unit)] if unit else [])
    if DIGITS.get(word, 0) >= 2 and _at(keys, i + 1) == "mươi":
        tens = DIGITS[word] * 10
        unit = AFTER_MUOI.get(_at(keys, i + 2))
        return [(i + 2, tens)] + ([(i + 3, tens + unit)] if unit else [])
    return []


def _zero_tens(keys: list[str], i: int) -> list[Parse]:
    unit = AFTER_ZERO_TENS.get(_at(keys, i + 1))
    return [(i + 2, unit)] if _at(keys, i) in ZERO_TENS and unit else []


def _group(keys: list[str], i: int, after_scale: bool) -> list[Parse]:
    """Every reading of a number below a thousand starting at ``i``."""
    parses = _tens(keys, i)
    word = _at(keys, i)
    if word in DIGITS:
        parses.append((i + 1, DIGITS[word]))
        if _at(keys, i + 1) == "trăm":
            hundreds = DIGITS[word] * 100
            parses.append((i + 2, hundreds))
            parses += [(end, hundreds + v) for end, v in _tens(keys, i + 2) + _zero_tens(keys, i + 2)]
    if after_scale:
        parses += _zero_tens(keys, i)
    return parses


def _number(keys: list[str], i: int, limit: int | None = None) -> list[Parse]:
    """Every reading of a composed number at ``i``; after a scale word, ``limit`` is that scale."""
    parses: list[Parse] = []
    for end, value in _group(keys, i, limit is not None):
        scale, after = 1, end
        while _at(keys, after) in SCALES:
            scale, after = scale * SCALES[keys[after]], after + 1
        bare = end == i + 1 and keys[i] in DIGITS
        if limit is None or not bare:    # "hai nghìn năm" is 2000 years, not 2005
            parses.append((end, value))
        if after > end and value and (limit is None or scale < limit):
            parses.append((after, value * scale))
            parses += [(e, value * scale + v) for e, v in _number(keys, after, scale)]
    return parses


def _year_digits(keys: list[str], i: int) -> bool:
    """A year read digit by digit at ``i``: "một chín chín năm", "hai không hai sáu"."""
    return keys[i:i + 1] in (["một"], ["hai"]) and _run(keys, i) == 4


def _run(keys: list[str], i: int) -> int:
    """How many digit words at ``i`` are read one by one."""
    run = 0
    while _at(keys, i + run) in DIGITS and _at(keys, i + run + 1) not in STRUCTURE:  # "... hai nghìn"
        if 0 < run < 3 and keys[i + run] == "năm" and _year_digits(keys, i + run + 1):
            break                        # "tháng ba | năm | hai không hai sáu"
        run += 1
    return run


def _number_at(keys: list[str], i: int) -> tuple[int, str]:
    """The longest number at ``i``: (how many words, its digits); (0, "") if none."""
    run = _run(keys, i)
    if run >= 3:                         # read digit by digit: a phone number, a code
        return run, "".join(str(DIGITS[k]) for k in keys[i:i + run])
    parses = _number(keys, i)
    if not parses:
        return 0, ""
    end, value = max(parses, key=lambda p: p[0])
    return end - i, str(value)


def _context(out: list[Word]) -> str:
    """The context word (or "lần thứ") just before the next word, or ""."""
    last = [_key(str(w["word"])) for w in out[-2:]]
    if last[-2:] == ["lần", "thứ"]:
        return "lần thứ"
    return last[-1] if last and last[-1] in CONTEXT else ""


def _merge(words: list[Word], text: str) -> Word:
    confs: list[float] = [w["conf"] for w in words if w.get("conf") is not None]
    conf = sum(confs) / len(confs) if len(confs) == len(words) else None   # None if any is None
    return {**words[0], "word": text, "start": words[0]["start"], "end": words[-1]["end"], "conf": conf}


def numbers_to_digits(words: list[Word]) -> list[Word]:
    """Runs of spoken number words merged into one token of digits (a new list; ``words`` untouched)."""
    keys = [_key(str(w["word"])) for w in words]
    out: list[Word] = []
    i = 0
    while i < len(keys):
        length, text = _number_at(keys, i)
        if keys[i] == "năm" and length and (_number_at(keys, i + 1)[0] > length or _year_digits(keys, i + 1)):
            length = 0                   # "năm hai nghìn ...", "năm hai không hai sáu": the year
        context = _context(out)
        if length == 1 and keys[i] in DIGITS and (not context or context == keys[i] == "năm"):
            length = 0                   # "hai người", "năm nay", "năm năm" (five years)
        if not length and keys[i] == "tư" and context in FOUR_CONTEXT:
            length, text = 1, "4"
        if length:
            out.append(_merge(words[i:i + length], text))
            i += length
        else:
            out.append(dict(words[i]))
            i += 1
    return out


def sentence_case(sentences: list[list[Word]]) -> list[list[Word]]:
    """Each non-empty sentence's first letter upper-cased and a full stop at its end (new lists)."""
    result: list[list[Word]] = []
    for sentence in sentences:
        if not sentence:
            continue
        words = [dict(w) for w in sentence]
        first = str(words[0]["word"])
        words[0]["word"] = first[:1].upper() + first[1:]
        last = str(words[-1]["word"])
        if not last.endswith(ENDINGS):
            words[-1]["word"] = last + "."
        result.append(words)
    return result


def readable(sentences: list[list[Word]]) -> list[list[Word]]:
    """The recognizer's sentences as people read them: digits, sentence case."""
    return sentence_case([numbers_to_digits(s) for s in sentences])


def normalise_text(text: str) -> str:
    """A transcript reduced for comparison (word error rate): lower case, no punctuation, digits."""
    text = unicodedata.normalize("NFC", text).lower()
    text = re.sub(r"(?<=\d)\.(?=\d{3}(?!\d))", "", text)     # 3.500.000 -> 3500000
    text = "".join(c if c.isalnum() or unicodedata.category(c).startswith("M") else " " for c in text)
    words: list[Word] = [{"word": t, "start": 0.0, "end": 0.0, "conf": None} for t in text.split()]
    return " ".join(str(w["word"]) for w in numbers_to_digits(words))
