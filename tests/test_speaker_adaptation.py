"""litecnn_ser.speaker_adaptation: per-speaker normalisation and centring."""

from __future__ import annotations

import numpy as np

from litecnn_ser.speaker_adaptation import centre_log_probabilities, normalize_by_speaker


def test_speaker_normalisation_and_centring():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(9, 4)) * 3 + 5
    speakers = ["a"] * 4 + ["b"] * 4 + ["c"]
    normalised = normalize_by_speaker(values, speakers)
    for speaker in ("a", "b"):
        rows = np.asarray(speakers) == speaker
        np.testing.assert_allclose(normalised[rows].mean(0), 0, atol=1e-5)
        np.testing.assert_allclose(normalised[rows].std(0), 1, atol=1e-4)
    np.testing.assert_allclose(normalised[8], values[8], rtol=1e-6)  # one clip: no statistics, left alone
    logits = rng.normal(size=(8, 6))
    biased = logits + np.where(np.asarray(speakers[:8])[:, None] == "a", np.array([3.0, 0, 0, 0, 0, -2]), 0.0)
    centred = [centre_log_probabilities(z, speakers[:8]) for z in (biased, logits)]
    centred = [c - c.mean(-1, keepdims=True) for c in centred]  # a constant per clip changes no decision
    np.testing.assert_allclose(centred[0], centred[1], atol=1e-5)  # the speaker's bias is gone
