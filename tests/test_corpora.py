"""RAVDESS, SAVEE and TESS from their real names and rates (synthetic audio): labels, left-out emotions, layouts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

import eval as eval_script
from data.corpora import CorpusError, detect_corpus, prepare_corpus
from data.cremad import EMOTIONS


def _clip(path, rate: int, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(0.6 * rate)) / rate
    rng = np.random.default_rng(seed)
    sf.write(path, 0.3 * np.sin(2 * np.pi * (120 + 10 * seed) * t) + 0.01 * rng.standard_normal(t.size), rate)


@pytest.fixture
def ravdess(tmp_path):
    root = tmp_path / "RAVDESS"
    for actor in (1, 2):
        for code in ("01", "02", "03", "04", "05", "06", "07", "08"):
            _clip(root / f"Actor_{actor:02d}" / f"03-01-{code}-01-01-01-{actor:02d}.wav", 48_000, int(code) + actor)
    _clip(root / "Actor_01" / "03-02-05-01-01-01-01.wav", 48_000, 0)  # song, not speech
    return root


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
    _clip(savee / "DC" / "a01.wav", 44_100, 1)
    _clip(savee / "DC" / "sa02.wav", 44_100, 2)
    _clip(savee / "DC" / "su01.wav", 44_100, 3)
    _clip(savee / "JE_n05.wav", 44_100, 4)  # the flat layout
    corpus, report = prepare_corpus(savee, cache_dir=str(tmp_path / "cache"))
    rows = {row["id"]: row for row in corpus}
    assert EMOTIONS[rows["savee/DC/a01"]["label"]] == "anger" and rows["savee/DC/a01"]["actor_id"] == 3001
    assert EMOTIONS[rows["savee/DC/sa02"]["label"]] == "sadness"
    assert rows["savee/JE_n05"]["speaker"] == "JE" and rows["savee/JE_n05"]["actor_id"] == 3002
    assert [name for name, _ in report.skipped] == ["DC/su01.wav"]

    tess = tmp_path / "TESS"
    _clip(tess / "OAF_angry" / "OAF_back_angry.wav", 24_414, 1)
    _clip(tess / "YAF_sad" / "YAF_bite_Sad.wav", 24_414, 2)
    _clip(tess / "YAF_pleasant_surprised" / "YAF_back_ps.wav", 24_414, 3)
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
    _clip(tmp_path / "clips" / "recording_001.wav", 16_000, 1)
    with pytest.raises(CorpusError, match="no CREMA-D, RAVDESS, SAVEE or TESS file names"):
        prepare_corpus(tmp_path / "clips")
    with pytest.raises(FileNotFoundError):
        detect_corpus(tmp_path / "missing")


def test_eval_scores_a_model_on_another_corpus_with_speaker_adaptation(ravdess, distilled_student, tmp_path, capsys):
    status = eval_script.main(
        [
            str(distilled_student[0]),
            str(ravdess),
            "--speaker_adaptation",
            "--json",
            "--dataset_cache_dir",
            str(tmp_path),
        ]
    )
    assert status == 0
    result = json.loads(capsys.readouterr().out)
    assert result["corpus"] == "ravdess" and result["metrics"]["num_clips"] == 12
    assert result["class_balance"] == dict.fromkeys(EMOTIONS, 2)
    assert sum("left out" in item["reason"] for item in result["skipped"]) == 4
    assert result["speaker_adapted"]["num_clips"] == 12
    with pytest.raises(SystemExit, match="was validated on .*AudioWAV, not on .*RAVDESS"):
        eval_script.main(
            [str(distilled_student[0]), str(ravdess), "--subset", "validation", "--dataset_cache_dir", str(tmp_path)]
        )


def test_cross_corpus_table_rows_match_eval(ravdess, corpus_dir, distilled_student, tmp_path, capsys):
    import cross_corpus

    rows = cross_corpus.main(
        [
            "--models",
            str(distilled_student[0]),
            "--corpora",
            f"cremad={corpus_dir}",
            f"ravdess={ravdess}",
            "--dataset_cache_dir",
            str(tmp_path),
            "--output",
            str(tmp_path / "cross.json"),
        ]
    )
    # the fixture student learnt the synthetic corpus, and its training record says so
    assert [(r["trained_on"], r["tested_on"]) for r in rows] == [("synthetic", "cremad"), ("synthetic", "ravdess")]
    assert rows[1]["clips"] == 12 and rows[1]["left_out"] == 4 and rows[0]["left_out"] == 0
    assert (
        eval_script.main([str(distilled_student[0]), str(ravdess), "--json", "--dataset_cache_dir", str(tmp_path)])
        == 0
    )
    alone = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert rows[1]["accuracy"] == alone["metrics"]["accuracy"] and rows[1]["uar"] == alone["metrics"]["uar"]
    assert json.loads((tmp_path / "cross.json").read_text()) == rows
    with pytest.raises(SystemExit, match="NAME=FOLDER"):
        cross_corpus.main(["--models", "m", "--corpora", "emodb=x"])
