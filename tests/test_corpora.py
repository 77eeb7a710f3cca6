"""RAVDESS, SAVEE and TESS from their real names and rates (synthetic audio): labels, left-out emotions, layouts."""

from __future__ import annotations

import pytest
import soundfile as sf
from conftest import tone_clip

from data.corpora import CorpusError, detect_corpus, prepare_corpus
from data.cremad import EMOTIONS


def test_ravdess_labels_sexes_and_left_out_emotions(ravdess, tmp_path):
    assert detect_corpus(ravdess) == "ravdess"
    corpus, report = prepare_corpus(ravdess, cache_dir=str(tmp_path / "cache"))
    assert len(corpus) == 12 and report.used == 12  # 6 emotions x 2 actors
    by_id = {row["id"]: row for row in corpus}
    angry = by_id["ravdess/Actor_01/03-01-05-01-01-01-01"]
    assert EMOTIONS[angry["label"]] == "anger" and angry["corpus_emotion"] == "angry"
    assert angry["actor_id"] == 2001 and angry["sex"] == "Male" and angry["speaker"] == "Actor_01"
    assert by_id["ravdess/Actor_02/03-01-06-01-01-01-02"]["sex"] == "Female"
    assert EMOTIONS[by_id["ravdess/Actor_02/03-01-06-01-01-01-02"]["label"]] == "fear"
    assert sf.info(ravdess / "Actor_01" / "03-01-05-01-01-01-01.wav").samplerate == 48_000
    assert abs(angry["duration_s"] - 0.6) < 0.01  # resampled to 16 kHz, same length in seconds
    reasons = dict(report.skipped)
    assert (
        "calm" in reasons["Actor_01/03-01-02-01-01-01-01.wav"]
        and "left out" in reasons["Actor_01/03-01-02-01-01-01-01.wav"]
    )
    assert "surprised" in reasons["Actor_02/03-01-08-01-01-01-02.wav"]
    assert "not audio-only speech" in reasons["Actor_01/03-02-05-01-01-01-01.wav"]
    assert len(report.skipped) == 5  # 2 calm + 2 surprised + 1 song: counted, never silently dropped


def test_savee_in_both_layouts_and_tess_with_a_file_that_is_not_audio(tmp_path):
    savee = tmp_path / "SAVEE"
    tone_clip(savee / "DC" / "a01.wav", 44_100, 1)
    tone_clip(savee / "DC" / "sa02.wav", 44_100, 2)
    tone_clip(savee / "DC" / "su01.wav", 44_100, 3)
    tone_clip(savee / "JE_n05.wav", 44_100, 4)  # the flat layout
    corpus, report = prepare_corpus(savee, cache_dir=str(tmp_path / "cache"))
    rows = {row["id"]: row for row in corpus}
    assert EMOTIONS[rows["savee/DC/a01"]["label"]] == "anger" and rows["savee/DC/a01"]["actor_id"] == 3001
    assert EMOTIONS[rows["savee/DC/sa02"]["label"]] == "sadness"
    assert rows["savee/JE_n05"]["speaker"] == "JE" and rows["savee/JE_n05"]["actor_id"] == 3002
    assert [name for name, _ in report.skipped] == ["DC/su01.wav"]

    tess = tmp_path / "TESS"
    tone_clip(tess / "OAF_angry" / "OAF_back_angry.wav", 24_414, 1)
    tone_clip(tess / "YAF_sad" / "YAF_bite_Sad.wav", 24_414, 2)
    tone_clip(tess / "YAF_pleasant_surprised" / "YAF_back_ps.wav", 24_414, 3)
    (tess / "OAF_happy").mkdir()
    (tess / "OAF_happy" / "OAF_bath_happy.wav").write_bytes(b"FORM\x00\x00not really audio")
    assert detect_corpus(tess) == "tess"
    corpus, report = prepare_corpus(tess, cache_dir=str(tmp_path / "cache"))
    rows = {row["speaker"] + row["corpus_emotion"]: row for row in corpus}
    assert set(rows) == {"OAFangry", "YAFsad"} and rows["YAFsad"]["actor_id"] == 4002
    reasons = dict(report.skipped)
    assert "cannot decode" in reasons["OAF_happy/OAF_bath_happy.wav"]
    assert "left out" in reasons["YAF_pleasant_surprised/YAF_back_ps.wav"]


def test_a_folder_of_no_known_corpus_gets_one_clear_error(tmp_path):
    tone_clip(tmp_path / "clips" / "recording_001.wav", 16_000, 1)
    with pytest.raises(CorpusError, match="no CREMA-D, RAVDESS, SAVEE or TESS file names"):
        prepare_corpus(tmp_path / "clips")
    with pytest.raises(FileNotFoundError):
        detect_corpus(tmp_path / "missing")
