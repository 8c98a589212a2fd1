"""Voice prompts: 8 kHz mono WAV from espeak-ng or a recording, re-rendered only on change."""
from __future__ import annotations

import subprocess
import wave
from pathlib import Path
from types import SimpleNamespace

import pytest

from hotline.adapters.prompts import agency_list_text, fill, prompt_duration, render_texts, spaced_digits
from hotline.domain.errors import ConfigError

# espeak-ng and sox are installed by scripts/bootstrap: without them these tests fail, not skip.


def wav_format(path: Path) -> tuple[int, int, int]:
    with wave.open(str(path), "rb") as wav:
        return wav.getframerate(), wav.getnchannels(), wav.getsampwidth()


def test_a_prompt_renders_to_an_8khz_mono_wav(tmp_path: Path) -> None:
    out = render_texts({"welcome": "Tổng đài một không hai hai xin kính chào quý vị."}, tmp_path / "recorded",
                       tmp_path / "out", lambda _m: None)
    assert wav_format(out["welcome"]) == (8000, 1, 2)
    assert prompt_duration(out["welcome"]) > 0.5


def test_re_render_is_skipped_when_nothing_changed(tmp_path: Path) -> None:
    texts = {"no_input": "Tổng đài chưa nhận được lựa chọn của quý vị."}
    said: list[str] = []
    first = render_texts(texts, tmp_path / "recorded", tmp_path / "out", said.append)
    mtime = first["no_input"].stat().st_mtime_ns
    render_texts(texts, tmp_path / "recorded", tmp_path / "out", said.append)
    assert first["no_input"].stat().st_mtime_ns == mtime
    assert len(said) == 1   # only the first run had something to render


def test_changed_text_re_renders(tmp_path: Path) -> None:
    out = render_texts({"p": "Xin chào."}, tmp_path / "rec", tmp_path / "out", lambda _m: None)["p"]
    short = prompt_duration(out)
    render_texts({"p": "Xin chào quý vị, tổng đài đang chuyển cuộc gọi của quý vị."}, tmp_path / "rec",
                 tmp_path / "out", lambda _m: None)
    assert prompt_duration(out) > short


def test_a_recorded_wav_wins(tmp_path: Path) -> None:
    recorded = tmp_path / "rec"
    recorded.mkdir()
    # 2 s of a 440 Hz tone at 44.1 kHz stereo: the output must be that, converted to 8 kHz mono.
    subprocess.run(["sox", "-n", "-r", "44100", "-c", "2", str(recorded / "welcome.wav"), "synth", "2", "sine", "440"],
                   check=True)
    out = render_texts({"welcome": "Xin chào."}, recorded, tmp_path / "out", lambda _m: None)["welcome"]
    assert wav_format(out) == (8000, 1, 2)
    assert prompt_duration(out) == pytest.approx(2.0, abs=0.01)


def test_a_new_recording_replaces_the_spoken_prompt(tmp_path: Path) -> None:
    recorded = tmp_path / "rec"
    out = render_texts({"bye": "Xin chào."}, recorded, tmp_path / "out", lambda _m: None)["bye"]
    recorded.mkdir()
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", str(recorded / "bye.wav"), "synth", "3", "sine", "300"],
                   check=True)
    render_texts({"bye": "Xin chào."}, recorded, tmp_path / "out", lambda _m: None)
    assert prompt_duration(out) == pytest.approx(3.0, abs=0.01)


def test_prompts_no_longer_in_the_flow_are_removed(tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    render_texts({"a": "Một.", "b": "Hai."}, tmp_path / "rec", out_dir, lambda _m: None)
    render_texts({"a": "Một."}, tmp_path / "rec", out_dir, lambda _m: None)
    assert sorted(p.name for p in out_dir.glob("*.wav")) == ["a.wav"]


def test_placeholders_are_filled_and_unknown_ones_refused() -> None:
    values = {"province": "Đồng Tháp", "hotline": spaced_digits("1022")}
    assert fill("welcome", "Tổng đài {hotline} {province}", values) == "Tổng đài 1 0 2 2 Đồng Tháp"
    with pytest.raises(ConfigError, match="provinse"):
        fill("welcome", "Tổng đài {provinse}", values)


def test_the_agency_list_reads_codes_digit_by_digit() -> None:
    agencies = [SimpleNamespace(code="01", name="Sở Tư pháp"), SimpleNamespace(code="02", name="Sở Y tế")]
    assert agency_list_text(agencies) == "Để gặp Sở Tư pháp, nhấn 0 1. Để gặp Sở Y tế, nhấn 0 2."


def test_every_prompt_of_the_default_flow_gets_its_text() -> None:
    from hotline.adapters.prompts import prompt_texts
    from hotline.config.settings import load_settings
    from hotline.domain.flows.loader import load_flow

    settings = load_settings(env={})
    flow = load_flow(settings.paths.flow)
    directory = SimpleNamespace(of_kind=lambda kind: [SimpleNamespace(code="01", name=f"đơn vị {kind}")],
                                entries=[SimpleNamespace(kind="department", code="01", name="Sở Tư pháp"),
                                         SimpleNamespace(kind="district", code="02", name="Thành phố Sa Đéc")])
    texts = prompt_texts(settings, flow, directory)
    assert set(flow.prompts) | {"department_list", "district_list"} <= set(texts)
    assert "{" not in "".join(texts.values())
    assert settings.province.name in texts["welcome"]
    assert texts["department_list"] == "Để gặp đơn vị department, nhấn 0 1."
    # Every directory entry's name, for a ticket's agency read back by phone.
    assert texts["agency_department_01"] == "Sở Tư pháp."
    assert texts["agency_district_02"] == "Thành phố Sa Đéc."
    assert "gồm 7 chữ số" in texts["ticket_enter_code"]
