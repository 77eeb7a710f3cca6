"""Energy-gate trimming: removes padded silence and stationary room noise, never cuts soft syllables or endings,
leaves clips without speech alone, and is deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from data.audio import SAMPLING_RATE
from litecnn_ser import vad

PAD_S = 1.0
TOLERANCE_S = 0.25  # the trim keeps up to PAD_AFTER_S (0.2 s) plus a frame after the speech, by design

# (start s, duration s, level dB relative to the loud syllables) of the utterance's syllables
SYLLABLES = [(0.0, 0.3, 0.0), (0.4, 0.25, -20.0), (0.75, 0.3, 0.0), (1.15, 0.35, -15.0)]
UTTERANCE_S = 1.5


def syllable(duration_s: float, level_db: float, seed: int) -> np.ndarray:
    """A voiced syllable: harmonics of a gliding pitch under a raised-cosine envelope (soft onset and offset)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * SAMPLING_RATE)) / SAMPLING_RATE
    pitch = rng.uniform(120, 220) * (1 + 0.1 * np.sin(2 * np.pi * t / duration_s))
    phase = 2 * np.pi * np.cumsum(pitch) / SAMPLING_RATE
    voiced = sum(np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 20))
    envelope = np.sin(np.pi * t / duration_s) ** 2  # slow attack and decay over the whole syllable
    return (0.3 * 10 ** (level_db / 20) * envelope * voiced).astype(np.float32)


def utterance() -> np.ndarray:
    out = np.zeros(int(UTTERANCE_S * SAMPLING_RATE), dtype=np.float32)
    for index, (start, duration, level) in enumerate(SYLLABLES):
        piece = syllable(duration, level, index)
        first = int(start * SAMPLING_RATE)
        out[first : first + piece.size] += piece
    return out


def pink(num_samples: int, seed: int) -> np.ndarray:
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(num_samples))
    spectrum *= np.maximum(np.fft.rfftfreq(num_samples, 1 / SAMPLING_RATE), 20.0) ** -0.5
    spectrum[0] = 0
    noise = np.fft.irfft(spectrum, num_samples)
    return noise / noise.std()


def padded(noise_db: float | None) -> tuple[np.ndarray, int, int]:
    """The utterance with PAD_S of silence each side; with `noise_db`, pink noise that far below the speech's RMS
    over the whole clip (a room: under the speech too). Returns the clip and the speech's sample bounds."""
    speech = utterance()
    pad = int(PAD_S * SAMPLING_RATE)
    clip = np.concatenate([np.zeros(pad, np.float32), speech, np.zeros(pad, np.float32)])
    if noise_db is not None:
        rms = np.sqrt(np.mean(speech.astype(np.float64) ** 2))
        clip = clip + (rms * 10 ** (noise_db / 20) * pink(clip.size, 7)).astype(np.float32)
    return clip.astype(np.float32), pad, pad + speech.size


@pytest.mark.parametrize("noise_db", [None, -30.0], ids=["digital_silence", "room_noise_30dB_down"])
def test_padding_is_trimmed_back_to_the_speech(noise_db):
    clip, start, end = padded(noise_db)
    trimmed_start, trimmed_end = vad.speech_bounds(clip)
    assert trimmed_start <= start and trimmed_end >= end, "speech was cut"
    assert (start - trimmed_start) / SAMPLING_RATE <= TOLERANCE_S, "leading silence kept"
    assert (trimmed_end - end) / SAMPLING_RATE <= TOLERANCE_S, "trailing silence kept"
    trimmed = vad.trim_silence(clip)
    np.testing.assert_array_equal(trimmed, clip[trimmed_start:trimmed_end])
    assert trimmed.dtype == np.float32


@pytest.mark.parametrize("noise_db", [None, -30.0], ids=["digital_silence", "room_noise_30dB_down"])
def test_soft_syllables_and_endings_are_kept(noise_db):
    """Every sample of the 20 dB quieter middle and 15 dB quieter final syllable (fades included) is kept, also
    with the utterance as the whole clip (no silence to estimate a noise floor from)."""
    clip, offset, _ = padded(noise_db)
    for waveform, shift in [(clip, offset), (utterance(), 0)]:
        start, end = vad.speech_bounds(waveform)
        for first_s, duration_s, _ in SYLLABLES:
            first = shift + int(first_s * SAMPLING_RATE)
            assert start <= first and first + int(duration_s * SAMPLING_RATE) <= end
        assert vad.trim_silence(waveform).size == end - start


def test_activity_marks_syllables_and_not_the_padding():
    clip, start, end = padded(-30.0)
    active = vad.frame_activity(clip)
    hop = int(vad.HOP_S * SAMPLING_RATE)
    assert active.size == len(vad.frame_energies_db(clip)) == (clip.size - int(vad.FRAME_S * SAMPLING_RATE)) // hop + 1
    centres = [start + int((s + d / 2) * SAMPLING_RATE) for s, d, _ in SYLLABLES]
    assert all(active[c // hop] for c in centres)
    assert not active[: (start - int(0.3 * SAMPLING_RATE)) // hop].any()
    assert not active[(end + int(0.3 * SAMPLING_RATE)) // hop :].any()


def test_the_gate_is_level_invariant():
    clip, _, _ = padded(-30.0)
    assert vad.speech_bounds(clip) == vad.speech_bounds(clip * np.float32(0.03))  # 30 dB quieter


@pytest.mark.parametrize(
    "waveform",
    [
        np.zeros(2 * SAMPLING_RATE, np.float32),
        (1e-5 * np.random.default_rng(0).standard_normal(2 * SAMPLING_RATE)).astype(np.float32),  # dither level
        (0.01 * pink(2 * SAMPLING_RATE, 3)).astype(np.float32),  # a room with nobody talking
    ],
    ids=["digital_silence", "dither", "room_noise_only"],
)
def test_a_clip_without_speech_is_returned_unchanged(waveform):
    assert vad.speech_bounds(waveform) == (0, waveform.size)
    np.testing.assert_array_equal(vad.trim_silence(waveform), waveform)


def test_a_trim_is_never_shorter_than_the_minimum():
    clip = np.zeros(3 * SAMPLING_RATE, np.float32)
    clip[SAMPLING_RATE : SAMPLING_RATE + 1_600] = syllable(0.1, 0.0, 0)  # a 0.1 s blip
    start, end = vad.speech_bounds(clip)
    assert end - start < int(vad.MIN_DURATION_S * SAMPLING_RATE)
    trimmed = vad.trim_silence(clip)
    assert trimmed.size == int(vad.MIN_DURATION_S * SAMPLING_RATE)
    assert np.array_equal(trimmed[np.nonzero(trimmed)], clip[np.nonzero(clip)]), "the blip is not inside"
    assert vad.trim_silence(clip, min_duration_s=1.0).size == SAMPLING_RATE
    short = clip[SAMPLING_RATE - 800 : SAMPLING_RATE + 2_400]  # 0.2 s clip: shorter than the minimum itself
    assert vad.trim_silence(short).size == short.size


def test_clicks_do_not_count_as_speech():
    clip, start, end = padded(None)
    clip[2_000:2_030] = 0.5  # a 2 ms click half a second before the speech
    assert vad.speech_bounds(clip)[0] >= start - int(TOLERANCE_S * SAMPLING_RATE)


def test_deterministic_and_short_inputs():
    clip, _, _ = padded(-30.0)
    assert vad.speech_bounds(clip) == vad.speech_bounds(clip.copy())
    np.testing.assert_array_equal(vad.frame_activity(clip), vad.frame_activity(clip))
    tiny = np.ones(100, np.float32) * 0.1  # shorter than a frame
    assert vad.frame_activity(tiny).shape == (1,)
    assert vad.trim_silence(tiny).size == 100


# ---------------------------------------------------------------------------------------------------------------
# The same trim wherever a model trained with --trim_silence hears a clip: predict.py / the ONNX runtime, eval.py
# ---------------------------------------------------------------------------------------------------------------


def wav_bytes(waveform: np.ndarray) -> bytes:
    import io

    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, waveform, SAMPLING_RATE, format="WAV", subtype="FLOAT")
    return buffer.getvalue()


class RecordingScorer:
    """A scorer of `litecnn_ser.scoring` that keeps what it was given: the waveforms a model would hear."""

    labels = ["anger", "sadness"]

    def __init__(self, trim_silence: bool):
        self.trim_silence = trim_silence
        self.heard: list[np.ndarray] = []

    def probabilities(self, clips):
        self.heard.extend(clips)
        return np.array([[float(np.std(clip)), 1.0] for clip in clips]) / 2


@pytest.mark.parametrize("noise_db", [None, -30.0])
def test_files_padded_with_a_second_of_silence_or_room_noise_are_heard_as_the_speech(tmp_path, noise_db):
    import argparse

    import soundfile as sf

    from litecnn_ser.reporting import classify_paths

    speech = utterance()
    waveform, start, end = padded(noise_db)
    sf.write(tmp_path / "speech.wav", speech, SAMPLING_RATE)
    sf.write(tmp_path / "padded.wav", waveform, SAMPLING_RATE)
    args = argparse.Namespace(paths=[str(tmp_path)], window_s=None, stream=False, json=True, block_s=1.0, hop_s=None)
    trimmed, untrimmed = RecordingScorer(trim_silence=True), RecordingScorer(trim_silence=False)
    classify_paths(trimmed, args, window_s=10.0, stream_window_s=2.0)
    classify_paths(untrimmed, args, window_s=10.0, stream_window_s=2.0)
    padded_heard, speech_heard = trimmed.heard[0], trimmed.heard[1]  # files in name order: padded, speech
    assert abs(padded_heard.size - speech_heard.size) < 0.35 * SAMPLING_RATE  # the second on each side is gone
    assert untrimmed.heard[0].size == waveform.size  # a model trained without the trim hears the file as it is


def test_eval_and_training_trim_as_inference_does():
    """A model trained on trimmed clips is scored on trimmed clips: `compute_model_logits(trim=True)` gives a padded
    clip the logits of the clip itself (up to the gate's margin), and without the trim it does not."""
    import datasets
    import torch

    from configuration_litecnn import LiteCNNConfig
    from data.views import View
    from litecnn_ser.teachers import compute_model_logits
    from modeling_litecnn import LiteCNNForAudioClassification

    torch.manual_seed(0)
    model = LiteCNNForAudioClassification(
        LiteCNNConfig(num_labels=2, block_channels=[8, 16], classifier_hidden_size=8)
    )
    model.eval()
    from transformers import Wav2Vec2FeatureExtractor

    extractor = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=SAMPLING_RATE, do_normalize=True)
    speech = utterance()
    waveform, _, _ = padded(None)
    table = datasets.Dataset.from_dict({"audio": [{"bytes": wav_bytes(speech)}, {"bytes": wav_bytes(waveform)}]})
    view = View(1.0, 0.0, None)
    with_trim = compute_model_logits(model, extractor, table, view, batch_size=1, trim=True)
    without = compute_model_logits(model, extractor, table, view, batch_size=1, trim=False)
    assert np.abs(with_trim[0] - with_trim[1]).max() < np.abs(without[0] - without[1]).max() / 3
