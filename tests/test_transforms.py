"""The training transform: channel augmentation (babble from the batch's other clips) and silence trimming."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf
from transformers import Wav2Vec2FeatureExtractor

from data.audio import SAMPLING_RATE
from litecnn_ser.augment import ChannelAugmentation
from litecnn_ser.transforms import AudioTransform


def wav(waveform: np.ndarray) -> dict:
    buffer = io.BytesIO()
    sf.write(buffer, waveform, SAMPLING_RATE, format="WAV", subtype="FLOAT")
    return {"bytes": buffer.getvalue()}


def batch(pad_s: float = 0.0) -> dict:
    rng = np.random.default_rng(0)
    t = np.arange(SAMPLING_RATE) / SAMPLING_RATE
    clips = [(0.3 * np.sin(2 * np.pi * (150 + 40 * i) * t) * (1 + rng.random(t.size) * 0.1)) for i in range(4)]
    pad = np.zeros(int(pad_s * SAMPLING_RATE))
    return {
        "audio": [wav(np.concatenate([pad, clip, pad]).astype(np.float32)) for clip in clips],
        "id": [f"clip{i}" for i in range(4)],
        "label": [0, 1, 2, 3],
    }


EXTRACTOR = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=SAMPLING_RATE, do_normalize=True)


def test_channel_augmentation_changes_the_clips_reproducibly_and_off_changes_nothing():
    plain = AudioTransform(EXTRACTOR, 2 * SAMPLING_RATE, seed=1)(batch())
    off = AudioTransform(EXTRACTOR, 2 * SAMPLING_RATE, seed=1, channel=ChannelAugmentation())(batch())
    names = ["reverb=1", "babble=1", "eq=1"]
    augmented = AudioTransform(EXTRACTOR, 2 * SAMPLING_RATE, seed=1, channel=ChannelAugmentation.from_names(names))
    first, again = augmented(batch()), augmented(batch())
    for a, b, c, d in zip(plain["input_values"], off["input_values"], first["input_values"], again["input_values"]):
        np.testing.assert_array_equal(a, b)  # all off: the paper's transform exactly
        assert np.abs(a - c).max() > 0.1  # every clip changed
        np.testing.assert_array_equal(c, d)  # the same (seed, epoch, clip): the same augmentation
    augmented.epoch = 1  # a new epoch draws anew
    assert np.abs(augmented(batch())["input_values"][0] - first["input_values"][0]).max() > 0.01


def test_trim_takes_the_window_from_the_speech():
    untrimmed = AudioTransform(EXTRACTOR, 6 * SAMPLING_RATE)(batch(pad_s=1.0))
    trimmed = AudioTransform(EXTRACTOR, 6 * SAMPLING_RATE, trim=True)(batch(pad_s=1.0))
    for full, cut in zip(untrimmed["input_values"], trimmed["input_values"]):
        assert len(full) == 3 * SAMPLING_RATE
        assert len(cut) < 1.4 * SAMPLING_RATE  # the second of silence on each side is gone, the speech kept
        assert len(cut) >= SAMPLING_RATE
