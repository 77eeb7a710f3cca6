"""experiments/cross_corpus/cues.py: each cue's mean is taken over the clips of one sex and one emotion only."""

from __future__ import annotations

import cues
import numpy as np


def test_cue_means_are_per_sex_and_emotion_and_skip_what_is_absent():
    names = ["anger", "disgust", "fear", "happiness", "neutral", "sadness"]
    labels = np.array([0, 0, 4, 0, 5])
    sexes = np.array(["Male", "Male", "Male", "Female", "Female"])
    features = np.arange(5 * len(cues.CUES), dtype=float).reshape(5, -1)  # row i: 6i, 6i+1, ...
    means = cues.cue_means(features, labels, sexes, names)
    assert set(means) == {"Female", "Male"}
    assert set(means["Male"]) == {"anger", "neutral"} and set(means["Female"]) == {"anger", "sadness"}
    first = next(iter(cues.CUES))
    assert means["Male"]["anger"][first] == 3.0 and means["Male"]["anger"]["clips"] == 2  # rows 0 and 1: 0, 6
    assert means["Female"]["anger"][first] == 18.0 and means["Male"]["neutral"][first] == 12.0
