"""eval.py and litecnn_ser.evaluation: a model's metrics on a folder as in training, on other corpora, speaker-adapted."""

from __future__ import annotations

import json
import shutil
import warnings

import pytest

import eval as eval_script
from data.cremad import EMOTIONS


def test_eval_matches_training_metrics_and_reports_bad_files(
    distilled_student, corpus_dir, dataset_cache, tmp_path, capsys
):
    folder, metrics = distilled_student
    copy = tmp_path / "corpus"
    shutil.copytree(corpus_dir, copy)
    (copy / "1099_DFA_ANG_XX.wav").write_bytes(b"not audio")  # an actor not in the corpus: changes no split
    code = eval_script.main(
        [str(folder), str(copy), "--subset", "validation", "--json", "--speaker_adaptation"]
        + ["--output_dir", str(tmp_path / "e"), "--dataset_cache_dir", dataset_cache]
    )
    assert code == 0
    output = capsys.readouterr()
    results = json.loads(output.out)
    assert results["metrics"]["accuracy"] == pytest.approx(metrics["eval_accuracy"], abs=1e-6)
    assert results["metrics"]["num_clips"] == 58
    assert "speaker_adapted" in results and results["speaker_adapted"]["num_clips"] == 58
    assert "skipped 1099_DFA_ANG_XX.wav" in output.err
    assert (tmp_path / "e" / "confusion_matrix.png").is_file()
    assert (tmp_path / "e" / "speaker_adapted" / "confusion_matrix.json").is_file()


def test_eval_scores_a_classical_teacher(feature_teachers, corpus_dir, dataset_cache, capsys):
    folder, metrics = feature_teachers["logreg"]
    args = [str(folder), str(corpus_dir), "--subset", "validation", "--json", "--dataset_cache_dir", dataset_cache]
    assert eval_script.main(args) == 0
    results = json.loads(capsys.readouterr().out)
    assert results["metrics"]["accuracy"] == pytest.approx(metrics["eval_accuracy"])
    assert "standardised per speaker" in results["heard"]


def test_eval_refuses_a_missing_folder(distilled_student, tmp_path, capsys):
    assert eval_script.main([str(distilled_student[0]), str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err


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


def test_eval_adapt_batch_norm_rescores_without_touching_the_saved_model(ravdess, distilled_student, tmp_path, capsys):
    """AdaBN on another corpus's clips: different scores, said in `heard`, and the model folder byte-identical."""
    weights = distilled_student[0] / "model.safetensors"
    before = weights.read_bytes()
    common = [str(distilled_student[0]), str(ravdess), "--json", "--dataset_cache_dir", str(tmp_path)]
    assert eval_script.main(common) == 0
    plain = json.loads(capsys.readouterr().out)
    assert eval_script.main([*common, "--adapt_batch_norm"]) == 0
    adapted = json.loads(capsys.readouterr().out)
    assert "AdaBN" in adapted["heard"] and "AdaBN" not in plain["heard"]
    assert adapted["metrics"]["num_clips"] == plain["metrics"]["num_clips"] == 12
    assert adapted["metrics"]["macro_f1"] != plain["metrics"]["macro_f1"] or adapted["metrics"] != plain["metrics"]
    assert weights.read_bytes() == before


@pytest.fixture
def leaning_scorer(monkeypatch, tmp_path):
    """A model folder whose scorer leans to anger on every clip of a recording (2 for the clip's own emotion, 6 for
    anger): what a new microphone does to a model, in the small."""
    import numpy as np

    from litecnn_ser import evaluation

    def load_scorer(model_id, batch_size, adapt_batch_norm=False):
        def score(dataset):
            truth = np.eye(len(EMOTIONS))[np.asarray(dataset["label"])]
            return 2.0 * truth + np.array([6.0, 0, 0, 0, 0, 0])

        return score, list(EMOTIONS), {}, "whole clips"

    monkeypatch.setattr(evaluation, "load_scorer", load_scorer)
    model = tmp_path / "model"
    model.mkdir()
    return model


def test_eval_adapt_recording_removes_a_bias_common_to_every_clip(ravdess, leaning_scorer, tmp_path, capsys):
    """One clip says anger; the scores centred over all the clips (as the runtimes' --adapt_recording) find each
    clip's own emotion; both reported, side by side, and only when asked."""
    common = [str(leaning_scorer), str(ravdess), "--json", "--dataset_cache_dir", str(tmp_path / "cache")]
    assert eval_script.main([*common, "--adapt_recording", "--output_dir", str(tmp_path / "e")]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["metrics"]["accuracy"] == pytest.approx(2 / 12)  # only the angry clips are right
    assert result["recording_adapted"]["accuracy"] == 1.0 and result["recording_adapted"]["num_clips"] == 12
    assert "centred over every scored clip" in result["recording_adaptation"]
    assert (tmp_path / "e" / "recording_adapted" / "confusion_matrix.json").is_file()
    assert eval_script.main(common) == 0
    assert "recording_adapted" not in json.loads(capsys.readouterr().out)  # never silently


def test_eval_adapt_recording_refuses_a_single_clip(leaning_scorer, tmp_path, capsys):
    from conftest import tone_clip

    tone_clip(tmp_path / "one" / "1001_DFA_ANG_XX.wav", 16_000, 1)
    args = [
        str(leaning_scorer),
        str(tmp_path / "one"),
        "--adapt_recording",
        "--dataset_cache_dir",
        str(tmp_path / "c"),
    ]
    with warnings.catch_warnings():  # refused before scoring: no metric of one clip is computed (sklearn warns)
        warnings.simplefilter("error")
        assert eval_script.main(args) == 2
    err = capsys.readouterr().err
    assert "one" in err and "at least 2 files" in err


def test_skipped_files_are_told_once_per_reason_and_none_is_lost(capsys):
    surprise = "left out: emotion 'surprise' is not one of the six"
    skipped = [{"file": f"DC/su{i:02d}.flac", "reason": surprise} for i in range(1, 6)]
    skipped += [{"file": "KL/a01.flac", "reason": "cannot decode"}, {"file": "JE/su01.flac", "reason": surprise}]
    eval_script.print_skipped(skipped)
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        f"skipped 6 files: {surprise}: DC/su01.flac, DC/su02.flac, DC/su03.flac and 3 more "
        "(--json or --output_dir lists every file)",
        "skipped KL/a01.flac: cannot decode",
    ]


def test_scoring_all_of_a_training_corpus_is_flagged_and_nothing_else_is():
    from litecnn_ser.evaluation import heard_in_training

    mix = {"corpus": "cremad+savee+tess", "split": "speaker", "validation_corpus": "cremad"}
    savee = heard_in_training("savee", "all", mix)
    assert "trained on savee (cremad+savee+tess in its training data)" in savee and "--subset validation" not in savee
    assert "--subset validation scores its held-out speakers" in heard_in_training("cremad", "all", mix)
    assert heard_in_training("cremad", "validation", mix) is None  # the held-out actors: a fair number
    fold = {"corpus": "cremad+tess", "split": "speaker", "validation_corpus": "cremad"}  # loco.py's savee fold
    assert heard_in_training("savee", "all", fold) is None
    assert heard_in_training("ravdess", "all", {"corpus": "cremad", "split": "speaker"}) is None
    assert "held-out speakers" in heard_in_training("cremad", "all", {"corpus": "cremad", "split": "speaker"})
