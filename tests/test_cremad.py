"""The CREMA-D builder: names, schema, splits, caching, bad input, and the real subset when it is present."""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter

import datasets
import numpy as np
import pytest
import soundfile as sf

from data.audio import SAMPLING_RATE
from data.cremad import (
    EMOTIONS,
    ClipName,
    CremaDError,
    label_counts,
    load_cremad,
    parse_filename,
    prepare_cremad,
    split_cremad,
)
from data.synthetic import write_corpus


def test_parse_official_names():
    assert parse_filename("1002_DFA_ANG_XX.wav") == ClipName(1002, "DFA", "anger", "XX")
    assert parse_filename("/x/AudioFLAC/1091_IEO_SAD_HI.flac") == ClipName(1091, "IEO", "sadness", "HI")
    assert [
        parse_filename(f"1001_ITS_{code}_LO.wav").emotion for code in ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")
    ] == list(EMOTIONS)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("clip.wav", "not a CREMA-D name"),
        ("1002_DFA_ANG.wav", "not a CREMA-D name"),
        ("1002_DFA_XYZ_XX.wav", "unknown emotion code 'XYZ'"),
        ("1002_ABC_ANG_XX.wav", "unknown sentence code 'ABC'"),
        ("1002_DFA_ANG_ZZ.wav", "unknown intensity 'ZZ'"),
    ],
)
def test_bad_names_say_what_is_wrong(name, reason):
    with pytest.raises(CremaDError, match=reason) as error:
        parse_filename(name)
    assert name in str(error.value)


def test_schema_and_label_counts(corpus_dir, dataset_cache):
    corpus, report = prepare_cremad(corpus_dir, dataset_cache)
    assert report.skipped == [] and report.used == len(corpus) == 288
    features = corpus.features
    assert isinstance(features["audio"], datasets.Audio) and features["audio"].sampling_rate == SAMPLING_RATE
    assert features["label"].names == list(EMOTIONS)
    assert {"id", "actor_id", "sentence", "intensity", "sex", "age", "duration_s"} <= set(corpus.column_names)
    assert "crowd_votes" not in corpus.column_names  # no tabulatedVotes.csv beside the synthetic corpus
    assert label_counts(corpus) == dict.fromkeys(EMOTIONS, 48)
    row = corpus[0]
    assert row["id"] == "1001_IEO_ANG_" + row["intensity"] and row["actor_id"] == 1001 and row["sex"] == "Male"
    assert set(corpus["sex"]) == {"Male", "Female"}


def test_stratified_split_keeps_class_proportions_and_is_seeded(corpus_dir, dataset_cache):
    splits = load_cremad(corpus_dir, split="stratified", cache_dir=dataset_cache)
    assert sorted(splits) == ["train", "validation"]
    train, validation = splits["train"], splits["validation"]
    assert len(validation) == round(0.2 * 288)
    assert not set(train["id"]) & set(validation["id"])
    total = label_counts(train)
    for emotion, count in label_counts(validation).items():
        expected = 0.2 * (count + total[emotion])
        assert abs(count - expected) <= 1, (emotion, count, expected)  # within one clip of the corpus's proportion
    assert len(set(validation["actor_id"])) > 1  # speakers are shared: the paper's protocol
    again = load_cremad(corpus_dir, split="stratified", cache_dir=dataset_cache)
    assert again["validation"]["id"] == validation["id"]
    other = load_cremad(corpus_dir, split="stratified", seed=7, cache_dir=dataset_cache)
    assert other["validation"]["id"] != validation["id"]


def test_speaker_split_shares_no_actor_and_balances_sex(corpus_dir, dataset_cache):
    splits = load_cremad(corpus_dir, split="speaker", cache_dir=dataset_cache)
    train_actors, validation_actors = set(splits["train"]["actor_id"]), set(splits["validation"]["actor_id"])
    assert not train_actors & validation_actors
    assert len(train_actors | validation_actors) == 12
    sexes = Counter(dict(zip(splits["validation"]["actor_id"], splits["validation"]["sex"])).values())
    assert sexes == {"Male": 1, "Female": 1}  # 20% of 6 men and 6 women each
    again = load_cremad(corpus_dir, split="speaker", cache_dir=dataset_cache)
    assert set(again["validation"]["actor_id"]) == validation_actors
    seeds = {
        frozenset(load_cremad(corpus_dir, split="speaker", seed=s, cache_dir=dataset_cache)["validation"]["actor_id"])
        for s in range(5)
    }
    assert len(seeds) > 1  # the seed matters


def test_bad_split_arguments(corpus_dir, dataset_cache):
    corpus, _ = prepare_cremad(corpus_dir, dataset_cache)
    with pytest.raises(ValueError, match="split must be one of"):
        split_cremad(corpus, "random")
    with pytest.raises(ValueError, match="test_size"):
        split_cremad(corpus, "stratified", test_size=1.5)


def test_second_call_reuses_the_cache_a_copied_folder_too_and_a_changed_folder_does_not(tmp_path):
    clips = write_corpus(tmp_path / "corpus", actors=2, sentences=1, seed=1)
    cache = str(tmp_path / "cache")
    first, _ = prepare_cremad(clips, cache)
    arrow_file = first.cache_files[0]["filename"]
    started = time.perf_counter()
    second, _ = prepare_cremad(clips, cache)
    assert second.cache_files[0]["filename"] == arrow_file  # the same Arrow file, not a new preparation
    assert time.perf_counter() - started < 5
    for clip in clips.iterdir():  # copied again in place (new dates, same bytes), as a fresh mount does
        shutil.copy(clip, tmp_path / clip.name)
        shutil.move(tmp_path / clip.name, clip)
        os.utime(clip, ns=(clip.stat().st_atime_ns + 10**9, clip.stat().st_mtime_ns + 10**9))
    assert prepare_cremad(clips, cache)[0].cache_files[0]["filename"] == arrow_file
    edited = next(clips.glob("1001_*_SAD_*.wav"))
    waveform, rate = sf.read(edited)
    sf.write(edited, waveform * 0.5, rate)  # same name and size, other content: prepared anew
    assert prepare_cremad(clips, cache)[0].cache_files[0]["filename"] != arrow_file
    shutil.copy(next(clips.glob("1001_IEO_ANG_*.wav")), clips / "1001_TIE_ANG_XX.wav")
    third, _ = prepare_cremad(clips, cache)
    assert len(third) == len(first) + 1 and third.cache_files[0]["filename"] != arrow_file


def test_bad_clips_are_counted_and_named_not_dropped_silently(tmp_path, caplog):
    clips = write_corpus(tmp_path / "corpus", actors=2, sentences=3, seed=2)
    good = len(list(clips.glob("*.wav")))
    (clips / "1001_WSI_ANG_XX.wav").write_bytes(b"not audio at all")
    sf.write(clips / "1001_WSI_SAD_XX.wav", np.zeros(SAMPLING_RATE, dtype=np.float32), SAMPLING_RATE)
    sf.write(clips / "1001_WSI_HAP_XX.wav", np.zeros(0, dtype=np.float32), SAMPLING_RATE)
    sf.write(clips / "1001_WSI_FEA_XX.wav", np.array([0.2], dtype=np.float32), SAMPLING_RATE)
    nan = np.full(SAMPLING_RATE, 0.1, dtype=np.float32)
    nan[100] = np.nan
    sf.write(clips / "1001_WSI_DIS_XX.wav", nan, SAMPLING_RATE, subtype="FLOAT")
    shutil.copy(next(clips.glob("1001_IEO_NEU_*.wav")), clips / "my_recording.wav")
    shutil.copy(next(clips.glob("1001_IEO_NEU_*.wav")), clips / "1001_WSI_XYZ_XX.wav")
    # a 44.1 kHz stereo clip is fine: it is resampled and mixed, not skipped
    stereo = np.stack([np.sin(np.arange(44100) / 7.0)] * 2, axis=1).astype(np.float32) * 0.3
    sf.write(clips / "1001_WSI_NEU_XX.wav", stereo, 44100)

    with caplog.at_level("WARNING"):
        splits = load_cremad(clips, cache_dir=str(tmp_path / "cache"))
    assert sum(map(len, splits.values())) == good + 1
    message = caplog.text
    assert f"used {good + 1} clips, skipped 7" in message
    for name, reason in [
        ("1001_WSI_ANG_XX.wav", "cannot decode"),
        ("1001_WSI_SAD_XX.wav", "silent"),
        ("1001_WSI_HAP_XX.wav", "empty"),
        ("1001_WSI_FEA_XX.wav", "too short"),
        ("1001_WSI_DIS_XX.wav", "contains 1 NaN"),
        ("my_recording.wav", "not a CREMA-D name"),
        ("1001_WSI_XYZ_XX.wav", "unknown emotion code"),
    ]:
        assert f"{name} ({reason}" in message, name
    resampled = [
        row for row in splits["train"].to_list() + splits["validation"].to_list() if row["id"] == "1001_WSI_NEU_XX"
    ]
    assert abs(resampled[0]["duration_s"] - 1.0) < 1e-3
    # the report survives the cache: a second call says the same
    caplog.clear()
    with caplog.at_level("WARNING"):
        load_cremad(clips, cache_dir=str(tmp_path / "cache"))
    assert "skipped 7" in caplog.text


def test_missing_and_empty_folders_fail_before_preparation(tmp_path):
    with pytest.raises(FileNotFoundError, match="CREMA-D folder not found: .*nowhere"):
        load_cremad(tmp_path / "nowhere")
    (tmp_path / "empty" / "AudioWAV").mkdir(parents=True)
    with pytest.raises(CremaDError, match=r"no \.wav or \.flac clips in .*empty \(did you mean .*AudioWAV\?\)"):
        load_cremad(tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "1001_DFA_ANG_XX.wav").write_bytes(b"junk")
    for _ in range(2):  # the second call finds the (empty) cache and must still refuse
        with pytest.raises(CremaDError, match="no usable clips .*1001_DFA_ANG_XX.wav"):
            load_cremad(bad, cache_dir=str(tmp_path / "cache"))


def test_real_cremad_subset(real_cremad, tmp_path_factory):
    corpus, report = prepare_cremad(real_cremad, str(tmp_path_factory.mktemp("real_cache")))
    # 4,080 files; one of them (1076_MTI_SAD_XX) is digital silence in CREMA-D itself and is reported, not used
    assert report.used + len(report.skipped) == 4080
    assert report.skipped == [("1076_MTI_SAD_XX.flac", "silent clip (no signal above -100 dBFS)")]
    assert len(set(corpus["actor_id"])) == 50
    # the official per-emotion counts of these 50 actors, less the silent sadness clip
    assert label_counts(corpus) == {
        "anger": 697,
        "disgust": 697,
        "fear": 697,
        "happiness": 697,
        "neutral": 595,
        "sadness": 696,
    }
    durations = np.array(corpus["duration_s"])
    assert durations.min() >= 1.2 and durations.max() <= 5.1
    assert set(corpus["sex"]) == {"Male", "Female"} and len(corpus["crowd_votes"][0]) == 6
    votes = np.array(corpus["crowd_votes"], dtype=np.float64)
    np.testing.assert_allclose(votes.sum(axis=1), 1.0, atol=1e-5)
    # voice-only crowd majority agrees with the acted emotion on about 40% of clips (41.6% on all 7,442)
    agreement = np.mean(votes.argmax(axis=1) == np.array(corpus["label"]))
    assert 0.35 < agreement < 0.5
    splits = split_cremad(corpus, "speaker")
    assert not set(splits["train"]["actor_id"]) & set(splits["validation"]["actor_id"])
