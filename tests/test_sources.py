"""Your own labelled clips (AudioFolder, CSV manifest) with their own label set, and training on a mix of corpora."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import soundfile as sf
from conftest import QUICK
from safetensors.torch import load_file

import eval as eval_script
import predict
import train_feature_teacher
import train_student
from data.cremad import EMOTIONS, CremaDError, split_cremad
from data.sources import CorpusError, Source, load_sources

# Three labels that are not CREMA-D's, told apart by pitch (a teacher that learns nothing scores ~1/3).
PITCH = {"calm": 140.0, "excited": 320.0, "bored": 90.0}
SPEAKERS = ("ann", "bob", "cat", "dan", "eve", "fay")


def _tone(path, pitch: float, speaker: int, take: int, rate: int = 22_050) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1000 * speaker + take)
    t = np.arange(int(0.8 * rate)) / rate
    f0 = pitch * (1 + 0.06 * speaker / len(SPEAKERS)) * (1 + 0.02 * np.sin(2 * np.pi * 3 * t + take))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    wave = sum(np.sin(k * phase) / k for k in range(1, 5)) * (0.3 + 0.2 * np.sin(np.pi * t / t[-1]))
    sf.write(path, (0.3 * wave + 0.01 * rng.standard_normal(t.size)).astype(np.float32), rate)


@pytest.fixture(scope="module")
def audiofolder(tmp_path_factory):
    """`clips/<label>/<speaker>_<take>.wav` at 22.05 kHz with metadata.csv (file_name, speaker, sex)."""
    root = tmp_path_factory.mktemp("own") / "callcentre"
    rows = []
    for s, speaker in enumerate(SPEAKERS):
        for label, pitch in PITCH.items():
            for take in range(4):
                name = f"{label}/{speaker}_{take}.wav"
                _tone(root / name, pitch, s, take)
                rows.append({"file_name": name, "speaker": speaker, "sex": "Female" if s % 2 else "Male"})
    with open(root / "metadata.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, ["file_name", "speaker", "sex"])
        writer.writeheader()
        writer.writerows(rows)
    return root


def _manifest(folder, rows: list[dict], columns: list[str]):
    path = folder / "labels.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_audiofolder_keeps_its_own_labels_and_speakers(audiofolder, tmp_path):
    assert Source.parse(str(audiofolder)).resolve_kind() == "audiofolder"
    corpus, reports = load_sources([str(audiofolder)], str(tmp_path / "cache"))
    assert corpus.features["label"].names == ["bored", "calm", "excited"]  # alphabetical: not CREMA-D's six
    assert len(corpus) == 72 and not reports[str(audiofolder)].skipped
    row = next(r for r in corpus if r["id"] == "callcentre/excited/bob_2")
    assert corpus.features["label"].names[row["label"]] == "excited" and row["speaker"] == "bob"
    assert row["corpus"] == "callcentre" and row["sex"] == "Female" and abs(row["duration_s"] - 0.8) < 0.01
    ids = {r["speaker"]: r["actor_id"] for r in corpus}
    assert len(set(ids.values())) == len(SPEAKERS) and min(ids.values()) >= 100_000  # never a corpus's 1001-4002
    splits = split_cremad(corpus, "speaker", 0.34, seed=3)
    assert not set(splits["train"]["speaker"]) & set(splits["validation"]["speaker"])
    assert set(splits["train"]["speaker"]) | set(splits["validation"]["speaker"]) == set(SPEAKERS)


def test_manifest_without_speakers_refuses_the_speaker_split_and_reports_missing_files(audiofolder, tmp_path):
    rows = [{"path": str(audiofolder / "calm" / f"{s}_0.wav"), "label": "calm"} for s in SPEAKERS]
    rows += [{"path": f"{audiofolder.parent.name}/callcentre/bored/{s}_1.wav", "label": "bored"} for s in SPEAKERS]
    rows.append({"path": "gone.wav", "label": "bored"})
    manifest = _manifest(audiofolder.parent.parent, rows, ["path", "label"])
    corpus, reports = load_sources([str(manifest)], str(tmp_path / "cache"))
    assert corpus.features["label"].names == ["bored", "calm"] and len(corpus) == 12
    assert dict(reports[str(manifest)].skipped) == {"gone.wav": "no such file"}  # reported by name, not dropped
    with pytest.raises(CremaDError, match="speaker split needs the speaker of every clip.*`speaker` column"):
        split_cremad(corpus, "speaker")
    assert len(split_cremad(corpus, "stratified", 0.5)["validation"]) == 6
    with pytest.raises(SystemExit, match="--data_dir .*labels.csv.*speaker"):
        train_student.main(["--data_dir", str(manifest), "--split", "speaker", "--output_dir", str(tmp_path / "s")])


def test_bad_sources_get_one_clear_error(tmp_path):
    bad = _manifest(tmp_path, [{"file": "a.wav", "emotion": "calm"}], ["file", "emotion"])
    with pytest.raises(CorpusError, match="labels.csv: no path, label column"):
        load_sources([str(bad)])
    with pytest.raises(CorpusError, match="unknown source kind 'voxceleb'"):
        Source.parse("voxceleb=somewhere")
    (tmp_path / "flat").mkdir()
    _tone(tmp_path / "flat" / "x.wav", 100, 0, 0)
    with pytest.raises(CorpusError, match="nor is it an AudioFolder"):
        load_sources([str(tmp_path / "flat")])


def test_mix_of_corpora_keeps_speakers_apart(corpus_dir, dataset_cache, tmp_path):
    ravdess = tmp_path / "RAVDESS"
    for actor in (1, 2, 3, 4):
        for code in ("01", "03", "04", "05", "06", "07", "08"):
            _tone(
                ravdess / f"Actor_{actor:02d}" / f"03-01-{code}-01-01-01-{actor:02d}.wav", 100 + 20 * int(code), 0, 0
            )
    specs = [str(corpus_dir), f"ravdess={ravdess}"]
    corpus, reports = load_sources(specs, dataset_cache)
    assert corpus.features["label"].names == list(EMOTIONS)
    assert len(corpus) == 288 + 24 and len(reports[specs[1]].skipped) == 4  # surprised: left out, counted
    assert set(corpus["corpus"]) == {"synthetic", "ravdess"} and set(corpus.column_names) >= {"speaker", "sex"}
    for seed in range(5):
        splits = split_cremad(corpus, "speaker", 0.25, seed)
        assert not set(splits["train"]["actor_id"]) & set(splits["validation"]["actor_id"])
    with pytest.raises(CorpusError, match="same clips appear"):
        load_sources([str(corpus_dir), str(corpus_dir)], dataset_cache)


def test_mixed_training_records_its_corpora(corpus_dir, dataset_cache, tmp_path):
    ravdess = tmp_path / "RAVDESS"
    for actor in (1, 2):
        for code in ("01", "03", "04", "05", "06", "07"):
            _tone(
                ravdess / f"Actor_{actor:02d}" / f"03-01-{code}-01-01-01-{actor:02d}.wav", 100 + 20 * int(code), 0, 0
            )
    output = tmp_path / "student"
    train_student.main(
        [
            "--data_dir",
            str(corpus_dir),
            str(ravdess),
            "--dataset_cache_dir",
            dataset_cache,
            "--output_dir",
            str(output),
        ]
        + ["--split", "speaker", "--num_train_epochs", "1", *QUICK, "--corpus_adversarial_weight", "0.5"]
    )
    config = json.loads((output / "config.json").read_text())
    record = config["training_data"]
    assert record["corpus"] == "synthetic+ravdess"
    assert record["sources"] == [
        {"corpus": "synthetic", "clips": 288, "speakers": 12},
        {"corpus": "ravdess", "clips": 12, "speakers": 2},
    ]
    card = (output / "README.md").read_text()
    assert "RAVDESS (Livingstone and Russo, 2018)" in card and "12 clips, 2 speakers of the corpus's 24" in card
    assert "model-index" not in card  # a mix publishes no CREMA-D result
    # the corpus-adversarial head: recorded and described, in the checkpoint (exact resume), not in the model
    assert config["corpus_adversarial"]["corpora"] == ["synthetic", "ravdess"]
    assert "hide which of 2 training corpora (synthetic, ravdess)" in card
    assert not any(key.startswith("corpus_head") for key in load_file(output / "model.safetensors"))
    (checkpoint,) = output.glob("checkpoint-*")
    assert any(key.startswith("corpus_head") for key in load_file(checkpoint / "model.safetensors"))


def test_the_corpus_adversarial_head_needs_a_mix(corpus_dir, dataset_cache, tmp_path):
    argv = ["--data_dir", str(corpus_dir), "--dataset_cache_dir", dataset_cache, "--output_dir", str(tmp_path / "s")]
    with pytest.raises(SystemExit, match="--corpus_adversarial_weight 0.5: the training clips come from"):
        train_student.main([*argv, *QUICK, "--corpus_adversarial_weight", "0.5"])
    assert not (tmp_path / "s").exists()


def test_own_label_set_end_to_end(audiofolder, tmp_path, capsys):
    """A classical teacher and a distilled LiteCNN on three labels of the user's own, then eval.py and predict.py."""
    cache = str(tmp_path / "cache")
    common = [
        "--data_dir",
        str(audiofolder),
        "--split",
        "speaker",
        "--test_size",
        "0.34",
        "--dataset_cache_dir",
        cache,
    ]
    teacher = tmp_path / "teacher"
    metrics = train_feature_teacher.main(
        [*common, "--feature_set", "eGeMAPSv02", "--classifier", "svm", "--output_dir", str(teacher)]
    )
    assert metrics["eval_accuracy"] >= 0.8  # pitch tells the labels apart; chance is 1/3
    assert set(metrics) >= {"eval_recall_bored", "eval_recall_calm", "eval_recall_excited"}
    student = tmp_path / "student"
    train_student.main(
        [*common, "--teacher", str(teacher), "--output_dir", str(student), "--num_train_epochs", "2", *QUICK]
    )
    config = json.loads((student / "config.json").read_text())
    assert config["id2label"] == {"0": "bored", "1": "calm", "2": "excited"}
    assert json.loads((student / "confusion_matrix.json").read_text())["labels"] == ["bored", "calm", "excited"]
    card = (student / "README.md").read_text()
    assert "`callcentre`, the user's own labelled clips (72 clips, 6 speakers)" in card
    assert "3 categories only (bored, calm, excited)" in card and "crema-d" not in card.split("---")[1]

    out = tmp_path / "eval"
    assert eval_script.main([str(student), str(audiofolder), "--output_dir", str(out), "--json"]) == 0
    result = json.loads((out / "eval_results.json").read_text())
    assert result["class_balance"] == {"bored": 24, "calm": 24, "excited": 24}
    assert set(result["metrics"]) >= {"recall_bored", "recall_excited"}
    assert eval_script.main([str(teacher), str(audiofolder), "--subset", "validation", "--json"]) == 0

    capsys.readouterr()
    assert predict.main([str(student), str(audiofolder / "excited" / "ann_0.wav"), "--json"]) == 0
    prediction = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(prediction["scores"]) == {"bored", "calm", "excited"}
