"""predict.py on files and folders of any format, a broken file, and speaker adaptation."""

from __future__ import annotations

import json

import numpy as np
import soundfile as sf
import soxr
from transformers import pipeline

import predict
from data.audio import SAMPLING_RATE, load_audio, windows
from data.cremad import EMOTIONS


def test_predict_files_folders_other_rates_and_a_broken_file(distilled_student, corpus_dir, tmp_path, capsys):
    folder = tmp_path / "clips"
    folder.mkdir()
    source = sorted(corpus_dir.glob("1002_*.wav"))[:2]
    for clip in source:
        (folder / clip.name).write_bytes(clip.read_bytes())
    waveform = load_audio(source[0])
    long = np.concatenate([waveform, waveform, waveform])[: int(3.5 * SAMPLING_RATE)]  # 3.5 s: 4 windows of 1 s
    resampled = tmp_path / "stereo_44k.wav"  # another rate and two channels
    sf.write(resampled, np.stack([soxr.resample(long, SAMPLING_RATE, 44_100)] * 2, axis=1), 44_100)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF not audio")

    status = predict.main([str(distilled_student[0]), str(folder), str(resampled), str(broken), "--json"])

    assert status == 1  # one file failed, the others were classified
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_file = {line["file"]: line for line in lines}
    assert {str(folder / clip.name) for clip in source} <= set(by_file)
    assert "cannot decode" in by_file[str(broken)]["error"]
    result = by_file[str(resampled)]
    assert result["windows"] == 4 and abs(result["duration_s"] - 3.5) < 0.01
    assert list(result["scores"]) == list(EMOTIONS)
    assert abs(sum(result["scores"].values()) - 1) < 1e-4
    assert result["label"] == max(result["scores"], key=result["scores"].get)

    # the clip's scores are the mean of its windows' scores, each window classified alone
    classifier = pipeline("audio-classification", model=str(distilled_student[0]), trust_remote_code=True)
    per_window = [
        predict.classify(classifier, chunk, SAMPLING_RATE)["scores"]
        for chunk in windows(load_audio(resampled), SAMPLING_RATE)
    ]
    for emotion in EMOTIONS:
        assert abs(result["scores"][emotion] - np.mean([w[emotion] for w in per_window])) < 1e-5


def test_predict_speaker_adaptation_is_explicit_and_centres_each_speaker(
    distilled_student, corpus_dir, tmp_path, capsys
):
    clips = sorted(corpus_dir.glob("1001_*.wav"))[:6] + sorted(corpus_dir.glob("1002_*.wav"))[:6]
    model = str(distilled_student[0])
    assert predict.main([model, *map(str, clips), "--json"]) == 0
    plain = {r["file"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert all("speaker" not in r for r in plain.values())  # never on unless asked for

    manifest = tmp_path / "speakers.csv"
    manifest.write_text("path,speaker\n" + "".join(f"{c},{c.name[:4]}\n" for c in clips))
    for extra in (["--speaker_from", "filename"], ["--speaker_from", "manifest", "--speaker_manifest", str(manifest)]):
        assert predict.main([model, *map(str, clips), "--json", *extra]) == 0
        adapted = {r["file"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
        for speaker in ("1001", "1002"):
            files = [str(c) for c in clips if c.name.startswith(speaker)]
            expected = np.log([[plain[f]["scores"][e] for e in EMOTIONS] for f in files])
            expected -= expected.mean(axis=0)  # centred over the speaker's clips
            got = np.log([[adapted[f]["scores"][e] for e in EMOTIONS] for f in files])
            np.testing.assert_allclose(
                got - got.mean(1, keepdims=True), expected - expected.mean(1, keepdims=True), atol=1e-4
            )
            assert all(adapted[f]["speaker"] == speaker and adapted[f]["speaker_adapted"] for f in files)
            assert all(adapted[f]["adaptation"] == "speaker" for f in files)  # marked like every other adaptation

    # a speaker with one clip is left as it was, and says so
    manifest.write_text("path,speaker\n" + "".join(f"{c},{'lone' if c == clips[0] else 'rest'}\n" for c in clips))
    assert (
        predict.main(
            [model, *map(str, clips), "--json", "--speaker_from", "manifest", "--speaker_manifest", str(manifest)]
        )
        == 0
    )
    out, err = capsys.readouterr()
    lone = next(r for r in map(json.loads, out.splitlines()) if r["file"] == str(clips[0]))
    assert lone["speaker_adapted"] is False and "adaptation" not in lone and "speaker(s) lone" in err
    assert lone["scores"] == plain[str(clips[0])]["scores"]

    assert predict.main([model, str(clips[0]), "--speaker_from", "manifest"]) == 2
    assert "--speaker_manifest" in capsys.readouterr().err


def test_predict_explains_a_missing_model(tmp_path, capsys):
    assert predict.main([str(tmp_path / "no_model"), str(tmp_path)]) == 2
    assert f"error: {tmp_path / 'no_model'}: no such folder" in capsys.readouterr().err
