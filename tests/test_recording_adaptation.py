"""Adapting to a new recording setup from its unlabelled files, never silently: predict.py --adapt_batch_norm (AdaBN
on the model in memory, the saved files untouched) and --adapt_recording in both runtimes (scores centred over the
files, one shared function)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import ROOT
from transformers import Wav2Vec2FeatureExtractor

import predict
from configuration_litecnn import LiteCNNConfig
from data.audio import SAMPLING_RATE
from litecnn_ser import onnx_runtime
from litecnn_ser.adaptation import ADAPTATION_ASSUMPTION
from litecnn_ser.scoring import (
    RECORDING_ASSUMPTION,
    AdaptationError,
    adapt_to_recording,
    centre_over_recording,
)
from modeling_litecnn import LiteCNNForAudioClassification

LABELS = ["angry", "disgust", "fear", "happy", "neutral", "sad"]


@pytest.fixture
def tiny_model(tmp_path):
    """A tiny saved LiteCNN (fresh batch-norm statistics: mean 0, variance 1, far from any real input's)."""
    torch.manual_seed(0)
    folder = tmp_path / "tiny"
    config = LiteCNNConfig(
        stem_channels=8,
        block_channels=[8, 16, 16],
        classifier_hidden_size=32,
        num_labels=6,
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
    )
    LiteCNNForAudioClassification(config).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(sampling_rate=SAMPLING_RATE, do_normalize=True).save_pretrained(folder)
    return folder


@pytest.fixture
def clips(tmp_path):
    """Four clips of one "recording setup" (a hum under noise), at most 1 s each: one window per file, so a
    file's mean log-probability is the log of its probabilities."""
    folder = tmp_path / "clips"
    folder.mkdir()
    paths = []
    for seed, seconds in enumerate([1.0, 0.8, 0.9, 0.7]):
        rng = np.random.default_rng(seed)
        t = np.arange(int(seconds * SAMPLING_RATE)) / SAMPLING_RATE
        wave = 0.3 * np.sin(2 * np.pi * (120 + 40 * seed) * t) + 0.05 * rng.standard_normal(t.size)
        paths.append(folder / f"clip{seed}.wav")
        sf.write(paths[-1], wave.astype(np.float32), SAMPLING_RATE)
    return paths


def _messages(err: str) -> list[str]:
    """stderr's lines without transformers' progress bars (loading the weights)."""
    return [line for line in err.replace("\r", "\n").splitlines() if line.strip() and "%|" not in line]


def _json_results(capsys) -> tuple[dict, str]:
    captured = capsys.readouterr()
    return {r["file"]: r for r in map(json.loads, captured.out.splitlines())}, "\n".join(_messages(captured.err))


def test_predict_adapt_batch_norm_changes_the_scores_not_the_saved_model(tiny_model, clips, capsys):
    files = list(map(str, clips))
    weights = (tiny_model / "model.safetensors").read_bytes()
    assert predict.main(["--model", str(tiny_model), *files, "--json"]) == 0
    plain, err = _json_results(capsys)
    assert all("adaptation" not in r for r in plain.values()) and "adapted" not in err  # never unless asked for

    assert predict.main(["--model", str(tiny_model), *files, "--json", "--adapt_batch_norm"]) == 0
    adapted, err = _json_results(capsys)
    assert err.strip() == (
        f"adapted batch-norm statistics on {len(files)} windows of {len(files)} files (AdaBN): "
        "scores use all these files, not one clip each"
    )
    assert all(r["adaptation"] == "batch_norm" for r in adapted.values())
    difference = max(abs(adapted[f]["scores"][e] - plain[f]["scores"][e]) for f in files for e in LABELS)
    assert difference > 1e-3
    assert (tiny_model / "model.safetensors").read_bytes() == weights  # the saved model untouched

    # both adaptations: batch norm first, then the scores centred over the files
    assert predict.main(["--model", str(tiny_model), *files, "--json", "--adapt_batch_norm", "--adapt_recording"]) == 0
    both, err = _json_results(capsys)
    assert all(r["adaptation"] == "batch_norm+recording" for r in both.values())
    assert len(err.strip().splitlines()) == 2
    expected = adapt_to_recording(np.log([[adapted[f]["scores"][e] for e in LABELS] for f in files]))
    np.testing.assert_allclose([[both[f]["scores"][e] for e in LABELS] for f in files], expected, atol=1e-5)


def test_predict_adapt_batch_norm_refusals_are_one_line(tiny_model, clips, capsys):
    model = ["--model", str(tiny_model)]
    for argv, reason in [
        ([*model, str(clips[0]), str(clips[1]), "--adapt_batch_norm", "--stream"], "does not combine with --stream"),
        ([*model, str(clips[0]), "--adapt_batch_norm"], "needs at least 2 files"),
        ([*model, str(clips[0]), str(clips[1]), "--adapt_recording", "--speaker_from", "folder"], "choose one"),
    ]:
        assert predict.main(argv) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and reason in captured.err
        assert len(_messages(captured.err)) == 1 and _messages(captured.err)[0].startswith("error: ")


def test_adapt_batch_norm_refuses_a_model_without_batch_norm_and_states_its_assumption(monkeypatch, capsys):
    classifier = SimpleNamespace(model=torch.nn.Linear(4, 2), feature_extractor=None)
    with pytest.raises(AdaptationError, match="no batch-norm layer"):
        predict.adapt_pipeline_batch_norm(classifier, [[np.zeros(4)], [np.ones(4)]])
    with pytest.raises(AdaptationError, match="at least 2 files"):
        predict.adapt_pipeline_batch_norm(classifier, [[np.zeros(4), np.ones(4)]])

    monkeypatch.setenv("COLUMNS", "100000")  # no line breaks inside hyphenated words
    for main, assumptions in [
        (predict.main, [ADAPTATION_ASSUMPTION, RECORDING_ASSUMPTION]),
        (onnx_runtime.main, [RECORDING_ASSUMPTION]),
    ]:
        with pytest.raises(SystemExit):
            main(["--help"])
        text = " ".join(capsys.readouterr().out.split())
        for assumption in assumptions:
            assert " ".join(assumption.split()) in text, main.__module__


def test_centring_over_the_recording_removes_a_common_bias_exactly():
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(6), size=5)
    log_probabilities = np.log(probabilities)
    centred = centre_over_recording(log_probabilities)
    np.testing.assert_allclose(centred.mean(axis=0), 0, atol=1e-6)  # zero mean per label over the files

    adapted = adapt_to_recording(log_probabilities)
    np.testing.assert_allclose(adapted.sum(axis=1), 1, atol=1e-6)
    bias = np.array([3.0, -2.0, 0.5, 0.0, 1.5, -4.0])  # the setup's pull towards some emotions, on every file
    np.testing.assert_allclose(adapt_to_recording(log_probabilities + bias), adapted, atol=1e-6)
    np.testing.assert_allclose(adapt_to_recording(log_probabilities + 7.0), adapted, atol=1e-6)  # unnormalised rows

    # a file's adapted scores: its own log-probabilities minus the mean over the files, renormalised
    expected = np.exp(log_probabilities - log_probabilities.mean(axis=0))
    np.testing.assert_allclose(adapted, expected / expected.sum(axis=1, keepdims=True), atol=1e-6)
    with pytest.raises(AdaptationError, match="at least 2 files"):
        adapt_to_recording(log_probabilities[:1])


def test_predict_adapt_recording_centres_the_files_scores(tiny_model, clips, capsys):
    files = list(map(str, clips))
    assert predict.main(["--model", str(tiny_model), *files, "--json"]) == 0
    plain, _ = _json_results(capsys)
    assert predict.main(["--model", str(tiny_model), *files, "--json", "--adapt_recording"]) == 0
    adapted, err = _json_results(capsys)
    assert "centred over 4 files" in err and "not one clip each" in err
    assert all(r["adaptation"] == "recording" and r["windows"] == 1 for r in adapted.values())
    log_adapted = np.log([[adapted[f]["scores"][e] for e in LABELS] for f in files])
    # the centred log-probabilities have zero mean over the files per label: up to each file's normalising
    # constant, the same mean for every label
    assert np.ptp(log_adapted.mean(axis=0)) < 1e-5
    expected = adapt_to_recording(np.log([[plain[f]["scores"][e] for e in LABELS] for f in files]))
    np.testing.assert_allclose(np.exp(log_adapted), expected, atol=1e-5)
    assert all(adapted[f]["label"] == LABELS[int(np.argmax(row))] for f, row in zip(files, expected))

    assert predict.main(["--model", str(tiny_model), files[0], "--adapt_recording"]) == 2
    messages = _messages(capsys.readouterr().err)
    assert len(messages) == 1 and messages[0].startswith("error: --adapt_recording needs at least 2 files")


class FakeOnnxClassifier:
    """OnnxClassifier's interface with probabilities from the clip's loudness and pitch: no export needed."""

    labels = LABELS
    window_s = stream_window_s = 1.0
    trim_silence = False

    def __init__(self, path, threads=None):
        pass

    def probabilities(self, clips):
        logits = [
            [np.std(c), np.mean(np.abs(np.diff(c))) * 10, 0.5, -np.std(c), c.size / SAMPLING_RATE, 0] for c in clips
        ]
        logits = np.asarray(logits) * 3
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)


def test_onnx_runtime_adapt_recording_is_explicit_and_shared(clips, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(onnx_runtime, "OnnxClassifier", FakeOnnxClassifier)
    model, files = str(tmp_path / "model.onnx"), list(map(str, clips))
    assert onnx_runtime.main([model, *files, "--json"]) == 0
    plain, err = _json_results(capsys)
    assert all("adaptation" not in r for r in plain.values()) and "adapted" not in err
    assert onnx_runtime.main([model, *files, "--json", "--adapt_recording"]) == 0
    adapted, err = _json_results(capsys)
    assert all(r["adaptation"] == "recording" for r in adapted.values())
    assert err.strip().startswith("adapted to the recording setup: log-probabilities centred over 4 files")
    expected = adapt_to_recording(np.log([[plain[f]["scores"][e] for e in LABELS] for f in files]))
    np.testing.assert_allclose([[adapted[f]["scores"][e] for e in LABELS] for f in files], expected, atol=1e-5)

    scored, probabilities = [], FakeOnnxClassifier.probabilities
    monkeypatch.setattr(
        FakeOnnxClassifier, "probabilities", lambda self, c: scored.append(c) or probabilities(self, c)
    )
    for argv, reason in [
        ([model, files[0], "--adapt_recording"], "needs at least 2 files"),
        ([model, *files, "--adapt_recording", "--stream"], "does not combine with --stream"),
    ]:
        assert onnx_runtime.main(argv) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.startswith("error: ") and reason in captured.err
    assert scored == []  # refused before any file was scored


def test_the_recording_adaptation_imports_no_torch():
    script = (
        "import sys; sys.modules['torch'] = None; sys.modules['transformers'] = None\n"
        "from litecnn_ser import onnx_runtime, reporting, scoring, speaker_adaptation\n"
        "print(scoring.adapt_to_recording([[0.0, -1.0], [-1.0, 0.0]]).round(3).tolist())\n"
    )
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[[0.731, 0.269], [0.269, 0.731]]"


def test_a_saved_calibration_scores_later_clips_one_at_a_time_as_centring_did(clips, tmp_path, monkeypatch, capsys):
    """--adapt_recording --save_calibration on a setup's files, then --calibration on each file alone (and per hop
    with --stream): the same scores as centring over all of them, one file at a time."""
    monkeypatch.setattr(onnx_runtime, "OnnxClassifier", FakeOnnxClassifier)
    model, files, saved = str(tmp_path / "model.onnx"), list(map(str, clips)), tmp_path / "setup.json"
    assert onnx_runtime.main([model, *files, "--json", "--adapt_recording", "--save_calibration", str(saved)]) == 0
    adapted, err = _json_results(capsys)
    assert f"saved the setup's calibration (4 files) to {saved}" in err
    record = json.loads(saved.read_text())
    assert record["labels"] == LABELS and record["files"] == 4 and record["assumption"] == RECORDING_ASSUMPTION
    for file in files:
        assert onnx_runtime.main([model, file, "--json", "--calibration", str(saved)]) == 0
        alone, err = _json_results(capsys)
        assert alone[file]["adaptation"] == "calibration" and "not one clip each" in err
        np.testing.assert_allclose(
            [alone[file]["scores"][e] for e in LABELS], [adapted[file]["scores"][e] for e in LABELS], atol=1e-5
        )
        assert alone[file]["label"] == adapted[file]["label"]

    assert onnx_runtime.main([model, files[0], "--json", "--stream", "--window_s", "0.4", "--hop_s", "0.2"]) == 0
    plain_hops = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (
        onnx_runtime.main(
            [model, files[0], "--json", "--stream", "--window_s", "0.4", "--hop_s", "0.2", "--calibration", str(saved)]
        )
        == 0
    )
    hops = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(hops) == len(plain_hops) > 1
    offset = np.asarray(record["mean_log_probability"])
    for plain, hop in zip(plain_hops, hops):
        expected = np.exp(np.log([plain["scores"][e] for e in LABELS]) - offset)  # log-normalised already
        expected /= expected.sum()
        np.testing.assert_allclose([hop["scores"][e] for e in LABELS], expected, atol=1e-5)
        assert hop["adaptation"] == "calibration"


def test_calibration_refusals_name_the_flag_and_score_nothing(clips, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(onnx_runtime, "OnnxClassifier", FakeOnnxClassifier)
    model, files = str(tmp_path / "model.onnx"), list(map(str, clips))
    other_labels = tmp_path / "other.json"
    other_labels.write_text(
        json.dumps({"format": "litecnn-calibration/1", "labels": ["pos", "neg"], "mean_log_probability": [0, 0]})
    )
    truncated = tmp_path / "truncated.json"
    truncated.write_text(
        json.dumps({"format": "litecnn-calibration/1", "labels": LABELS, "mean_log_probability": [0.1, "x"]})
    )
    not_json = tmp_path / "notes.json"
    not_json.write_text("neutral, mostly")
    scored, probabilities = [], FakeOnnxClassifier.probabilities
    monkeypatch.setattr(
        FakeOnnxClassifier, "probabilities", lambda self, c: scored.append(c) or probabilities(self, c)
    )
    for argv, reason in [
        ([*files, "--save_calibration", str(tmp_path / "c.json")], "add --adapt_recording"),
        ([*files, "--calibration", str(other_labels), "--adapt_recording"], "choose one"),
        ([files[0], "--calibration", str(tmp_path / "missing.json")], "missing.json: no such file"),
        ([files[0], "--calibration", str(not_json)], "notes.json: not a calibration file"),
        ([files[0], "--calibration", str(other_labels)], "made for labels ['pos', 'neg']"),
        ([files[0], "--calibration", str(truncated)], "is not 6 finite numbers"),
    ]:
        assert onnx_runtime.main([model, *argv]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.startswith("error: --") and reason in captured.err, captured.err
    assert scored == [] and not (tmp_path / "c.json").exists()


def test_predict_saves_and_applies_the_same_calibration(tiny_model, clips, tmp_path, capsys):
    files, saved = list(map(str, clips)), tmp_path / "setup.json"
    argv = ["--model", str(tiny_model), "--json"]
    assert predict.main([*argv, *files, "--adapt_recording", "--save_calibration", str(saved)]) == 0
    adapted, _ = _json_results(capsys)
    assert json.loads(saved.read_text())["model"] == str(tiny_model)
    assert predict.main([*argv, files[2], "--calibration", str(saved)]) == 0
    alone, err = _json_results(capsys)
    assert "calibrated with" in err and "made with" not in err
    np.testing.assert_allclose(
        [alone[files[2]]["scores"][e] for e in LABELS], [adapted[files[2]]["scores"][e] for e in LABELS], atol=1e-5
    )


REAL_TESS = ROOT.parent / "shared" / "datasets" / "tess"
TESS_EMOTIONS = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happiness", "neutral": "neutral"}
TESS_EMOTIONS["sad"] = "sadness"


@pytest.mark.skipif(not REAL_TESS.is_dir(), reason="TESS (../shared/datasets/tess) is not here")
def test_a_calibration_from_ten_clips_of_a_new_corpus_helps_the_shipped_export_on_the_others(tmp_path, capsys):
    """The shipped CREMA-D model's int8 export on TESS, which it never heard: one clip at a time it is near chance;
    calibrated on 10 TESS clips of mixed emotions (a seeded draw), the other 590 clips score clearly better."""
    files = sorted(str(path) for folder in TESS_EMOTIONS for path in (REAL_TESS / folder).glob("*.flac"))
    assert len(files) == 600
    chosen = set(np.random.default_rng(0).choice(len(files), size=10, replace=False).tolist())
    calibration = [file for i, file in enumerate(files) if i in chosen]
    others = [file for i, file in enumerate(files) if i not in chosen]
    saved = tmp_path / "tess.json"
    assert onnx_runtime.main([*calibration, "--adapt_recording", "--save_calibration", str(saved), "--json"]) == 0
    capsys.readouterr()

    def accuracy(*flags: str) -> float:
        assert onnx_runtime.main([*others, "--json", *flags]) == 0
        results = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert len(results) == len(others)
        return np.mean([r["label"] == TESS_EMOTIONS[Path(r["file"]).parent.name] for r in results])

    one_clip, calibrated = accuracy(), accuracy("--calibration", str(saved))
    print(f"one clip {one_clip:.4f}, calibrated on 10 clips {calibrated:.4f}")
    assert one_clip < 0.35 and calibrated > one_clip + 0.05, (one_clip, calibrated)
