"""The one decode path: formats, rates, channels, and every kind of bad clip."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from data.audio import SAMPLING_RATE, AudioDecodeError, crop, load_audio, random_offset, sliding_windows, windows


def _sine(rate: int, seconds: float = 1.0, frequency: float = 1000.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def _dominant_frequency(waveform: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(waveform * np.hanning(waveform.size)))
    return float(np.fft.rfftfreq(waveform.size, 1 / SAMPLING_RATE)[np.argmax(spectrum)])


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("subtype", ["PCM_16", "FLOAT"])
def test_any_rate_and_layout_becomes_16k_mono(tmp_path, rate, channels, subtype):
    sine = _sine(rate)
    data = np.stack([sine] * channels, axis=1) if channels == 2 else sine
    path = tmp_path / "clip.wav"
    sf.write(path, data, rate, subtype=subtype)

    waveform = load_audio(path)

    assert waveform.dtype == np.float32 and waveform.ndim == 1
    assert abs(waveform.size - SAMPLING_RATE) <= 1  # 1 s stays 1 s
    assert abs(_dominant_frequency(waveform) - 1000.0) < 2.0  # a 1 kHz sine stays a 1 kHz sine
    # the resampled sine matches an ideal 16 kHz sine (soxr HQ), away from the edges
    ideal = _sine(SAMPLING_RATE)[: waveform.size]
    assert np.max(np.abs(waveform[200:-200] - ideal[200:-200])) < 2e-3


def test_stereo_is_averaged_not_left_channel(tmp_path):
    left, right = _sine(SAMPLING_RATE), np.zeros(SAMPLING_RATE, dtype=np.float32)
    sf.write(tmp_path / "stereo.wav", np.stack([left, right], axis=1), SAMPLING_RATE, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(tmp_path / "stereo.wav"), left / 2, atol=1e-6)


def test_flac_and_bytes_decode_the_same(tmp_path):
    sine = _sine(SAMPLING_RATE)
    sf.write(tmp_path / "clip.flac", sine, SAMPLING_RATE, subtype="PCM_16")
    from_path = load_audio(tmp_path / "clip.flac")
    from_bytes = load_audio({"bytes": (tmp_path / "clip.flac").read_bytes(), "path": "clip.flac"})
    np.testing.assert_array_equal(from_path, from_bytes)
    assert np.max(np.abs(from_path - sine)) < 1e-4  # 16-bit quantisation only


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.write_bytes(b"RIFF....WAVEnot really audio"), "cannot decode"),
        (lambda p: sf.write(p, np.zeros(0, dtype=np.float32), SAMPLING_RATE), "empty clip"),
        (lambda p: sf.write(p, np.array([0.3], dtype=np.float32), SAMPLING_RATE), "too short"),
        (lambda p: sf.write(p, np.zeros(SAMPLING_RATE, dtype=np.float32), SAMPLING_RATE), "silent"),
        (
            lambda p: sf.write(
                p,
                np.where(np.arange(SAMPLING_RATE) == 7, np.nan, 0.1).astype(np.float32),
                SAMPLING_RATE,
                subtype="FLOAT",
            ),
            "NaN",
        ),
    ],
    ids=["undecodable", "zero-length", "one-sample", "silent", "nan"],
)
def test_bad_clips_are_named_with_a_reason(tmp_path, make, reason):
    path = tmp_path / "1001_DFA_ANG_XX.wav"
    make(path)
    with pytest.raises(AudioDecodeError) as error:
        load_audio(path)
    assert "1001_DFA_ANG_XX.wav" in str(error.value)
    assert reason in str(error.value)


def test_crop_windows_and_offsets():
    waveform = np.arange(10, dtype=np.float32)
    np.testing.assert_array_equal(crop(waveform, 4, 3), [3, 4, 5, 6])
    assert crop(waveform, 20).size == 10  # shorter clips are returned whole; the collator pads
    assert [w.size for w in windows(np.arange(9.0), 4)] == [4, 4]  # a last window under half full is dropped
    assert [w.size for w in windows(waveform, 4)] == [4, 4, 2]  # half full is kept
    assert [w.size for w in windows(np.arange(3.0), 4)] == [3]  # a short clip is one window
    rng = np.random.default_rng(0)
    offsets = {random_offset(10, 4, rng) for _ in range(200)}
    assert offsets == set(range(7))  # every valid start, none past the end
    assert random_offset(3, 4, rng) == 0


def test_sliding_windows_cover_the_stream_in_bounded_memory():
    signal = np.arange(23, dtype=np.float32)
    chunks = (signal[i : i + 3] for i in range(0, signal.size, 3))
    got = list(sliding_windows(chunks, window=4, hop=2))
    assert [start for start, _ in got] == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 19]  # the last one ends at the end
    for start, window in got:
        np.testing.assert_array_equal(window, signal[start : start + 4])
    assert [s for s, w in sliding_windows([signal[:3]], 4, 2)] == [0]  # shorter than a window: the whole stream

    # ten minutes of audio in 0.1 s chunks: what is held stays about one window, not the recording (38 MB)
    def ten_minutes():
        for _ in range(6000):
            yield np.ones(1600, dtype=np.float32)

    tracemalloc.start()
    count = sum(1 for _ in sliding_windows(ten_minutes(), SAMPLING_RATE, SAMPLING_RATE // 2))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == 1199 and peak < 1_000_000
