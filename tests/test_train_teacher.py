"""train_teacher.py end to end on the synthetic corpus: it learns, it exports, it resumes, it explains bad input."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from conftest import QUICK, TINY_WAV2VEC2, interrupted_then_resumed
from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

import train_teacher
from data.cremad import EMOTIONS, load_cremad
from litecnn_ser.transforms import AudioCollator, AudioTransform


def test_tiny_teacher_learns_clearly_above_chance(tiny_teacher):
    _, metrics = tiny_teacher
    # chance is 1/6; on 58 validation clips a model that learned nothing reaches 0.30 with p < 0.01
    assert metrics["eval_accuracy"] >= 0.30, metrics
    assert metrics["eval_uar"] >= 0.30, metrics


def test_exported_teacher_reloads_and_predicts_what_was_reported(tiny_teacher, corpus_dir, dataset_cache):
    folder, metrics = tiny_teacher
    for name in (
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
        "all_results.json",
        "confusion_matrix.json",
        "confusion_matrix.png",
    ):
        assert (folder / name).is_file(), name
    model = AutoModelForAudioClassification.from_pretrained(folder).eval()
    extractor = AutoFeatureExtractor.from_pretrained(folder)
    assert [model.config.id2label[i] for i in range(6)] == list(EMOTIONS)
    record = model.config.training_data
    assert (record["split"], record["seed"], record["max_duration_s"]) == ("stratified", 42, 1.0)
    assert extractor.sampling_rate == 16000 and extractor.do_normalize

    validation = load_cremad(corpus_dir, cache_dir=dataset_cache)["validation"]
    rows = AudioTransform(extractor, 16000)(validation[:])
    batch = AudioCollator(extractor)([dict(zip(rows, values)) for values in zip(*rows.values())])
    labels = batch.pop("labels")
    with torch.no_grad():
        predictions = model(**batch).logits.argmax(-1)
    assert (predictions == labels).float().mean().item() == pytest.approx(metrics["eval_accuracy"], abs=1e-6)

    matrix = json.loads((folder / "confusion_matrix.json").read_text())
    assert matrix["labels"] == list(EMOTIONS)
    assert np.trace(matrix["matrix"]) == round(metrics["eval_accuracy"] * len(validation))


def test_resume_after_an_interruption_ends_like_an_uninterrupted_run(corpus_dir, dataset_cache, tmp_path, monkeypatch):
    common = [
        "--config_name",
        str(TINY_WAV2VEC2),
        "--data_dir",
        str(corpus_dir),
        "--dataset_cache_dir",
        dataset_cache,
        "--num_train_epochs",
        "3",
        "--learning_rate",
        "3e-3",
        *QUICK,
        "--save_total_limit",
        "3",
    ]
    uninterrupted = train_teacher.main([*common, "--output_dir", str(tmp_path / "full")])

    steps_per_epoch = int(np.ceil(230 / 32))
    resumed = interrupted_then_resumed(train_teacher.main, common, tmp_path / "killed", monkeypatch, steps_per_epoch)
    assert resumed["eval_accuracy"] == uninterrupted["eval_accuracy"]
    assert resumed["eval_loss"] == pytest.approx(uninterrupted["eval_loss"], abs=1e-5)


def test_missing_data_dir_is_one_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit, match="--data_dir is required"):
        train_teacher.main(["--config_name", str(TINY_WAV2VEC2), "--output_dir", str(tmp_path)])
    with pytest.raises(SystemExit, match=r"--data_dir .*nowhere: .*nowhere: no such folder or file"):
        train_teacher.main(
            [
                "--config_name",
                str(TINY_WAV2VEC2),
                "--data_dir",
                str(tmp_path / "nowhere"),
                "--output_dir",
                str(tmp_path),
            ]
        )


def test_hub_id_offline_says_how_to_proceed(corpus_dir, dataset_cache, tmp_path):
    with pytest.raises(SystemExit) as error:
        train_teacher.main(
            [
                "--model_name_or_path",
                "facebook/wav2vec2-base",
                "--data_dir",
                str(corpus_dir),
                "--dataset_cache_dir",
                dataset_cache,
                "--output_dir",
                str(tmp_path),
            ]
        )
    message = str(error.value)
    assert "--model_name_or_path facebook/wav2vec2-base" in message
    assert "unreachable" in message and "--config_name" in message
    assert not list(tmp_path.glob("checkpoint-*"))  # nothing trained


def test_missing_config_file_and_empty_split(corpus_dir, dataset_cache, tmp_path):
    with pytest.raises(SystemExit, match="--config_name .*missing.json: no such file"):
        train_teacher.main(
            [
                "--config_name",
                str(tmp_path / "missing.json"),
                "--data_dir",
                str(corpus_dir),
                "--dataset_cache_dir",
                dataset_cache,
                "--output_dir",
                str(tmp_path),
            ]
        )
    one_actor = tmp_path / "one_actor"
    one_actor.mkdir()
    for clip in corpus_dir.glob("1001_*.wav"):
        shutil.copy(clip, one_actor / clip.name)
    with pytest.raises(SystemExit, match="speaker split needs at least 2 actors"):
        train_teacher.main(
            [
                "--config_name",
                str(TINY_WAV2VEC2),
                "--data_dir",
                str(one_actor),
                "--split",
                "speaker",
                "--dataset_cache_dir",
                dataset_cache,
                "--output_dir",
                str(tmp_path / "out"),
            ]
        )


def test_corrupt_clip_is_reported_and_training_goes_on(corpus_dir, tmp_path, caplog):
    corpus = tmp_path / "corpus"
    shutil.copytree(corpus_dir, corpus)
    (corpus / "1003_WSI_ANG_XX.wav").write_bytes(b"\x00" * 100)
    with caplog.at_level("WARNING"):
        metrics = train_teacher.main(
            [
                "--config_name",
                str(TINY_WAV2VEC2),
                "--data_dir",
                str(corpus),
                "--dataset_cache_dir",
                str(tmp_path / "cache"),
                "--output_dir",
                str(tmp_path / "out"),
                "--max_steps",
                "2",
                *QUICK,
            ]
        )
    assert "used 288 clips, skipped 1: 1003_WSI_ANG_XX.wav (cannot decode audio" in caplog.text
    assert metrics["eval_samples_per_second"] > 0
