"""The one decode path of the project: any audio file (or its bytes) -> 16 kHz mono float32.

Every consumer goes through `load_audio`: dataset preparation, the training transforms, evaluation
and `predict.py`. Decoding is soundfile (libsndfile: WAV, FLAC, OGG, ...), resampling is soxr; there is
no torchaudio or torchcodec anywhere (see DESIGN.md for why).
"""

from __future__ import annotations

import io
import os

import numpy as np
import soundfile as sf
import soxr

SAMPLING_RATE = 16_000
"""The sampling rate of every model in the project (wav2vec2 and LiteCNN alike)."""

MIN_DURATION_S = 0.1
"""Shorter clips carry no emotion a listener could hear; they are reported, not used."""

SILENCE_RMS = 1e-5
"""Below -100 dBFS a clip is digital silence: its zero-mean unit-variance normalisation would divide by ~0."""

AudioSource = str | os.PathLike | bytes | dict


class AudioDecodeError(ValueError):
    """A clip that cannot be used, with the file name and the reason in the message."""

    def __init__(self, name: str, reason: str):
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


def _source_name(source: AudioSource) -> str:
    if isinstance(source, dict):
        return str(source.get("path") or "<audio bytes>")
    if isinstance(source, bytes):
        return "<audio bytes>"
    return os.fspath(source)


def read_audio(source: AudioSource) -> tuple[np.ndarray, int]:
    """Decodes a file, raw bytes or a `datasets.Audio(decode=False)` dict; returns (frames, channels) float32 and rate."""
    name = _source_name(source)
    if isinstance(source, dict):
        source = source["bytes"] if source.get("bytes") is not None else source["path"]
    handle = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        samples, rate = sf.read(handle, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as error:
        detail = getattr(error, "error_string", None) or str(error).rsplit(": ", 1)[-1]
        raise AudioDecodeError(name, f"cannot decode audio ({detail})") from None
    return samples, rate


def to_mono_16k(samples: np.ndarray, rate: int, name: str = "<audio>") -> np.ndarray:
    """Averages the channels and resamples to 16 kHz; raises `AudioDecodeError` for a clip nobody should train on."""
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if samples.size == 0:
        raise AudioDecodeError(name, "empty clip (0 samples)")
    if not np.all(np.isfinite(samples)):
        raise AudioDecodeError(name, f"contains {int(np.sum(~np.isfinite(samples)))} NaN or infinite samples")
    if rate != SAMPLING_RATE:
        samples = soxr.resample(samples, rate, SAMPLING_RATE, quality="HQ")
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    if samples.size < MIN_DURATION_S * SAMPLING_RATE:
        raise AudioDecodeError(
            name, f"too short ({samples.size} samples at {SAMPLING_RATE} Hz, minimum {MIN_DURATION_S:.1f} s)"
        )
    if float(np.sqrt(np.mean(np.square(samples - samples.mean(), dtype=np.float64)))) < SILENCE_RMS:
        raise AudioDecodeError(name, "silent clip (no signal above -100 dBFS)")
    return samples


def load_audio(source: AudioSource) -> np.ndarray:
    """Decodes, mixes to mono and resamples to 16 kHz float32; bad clips raise `AudioDecodeError` naming the file."""
    samples, rate = read_audio(source)
    return to_mono_16k(samples, rate, _source_name(source))


def crop(waveform: np.ndarray, num_samples: int, offset: int = 0) -> np.ndarray:
    """`num_samples` from `offset` on; a shorter clip is returned whole (the feature extractor pads a batch)."""
    return waveform[offset : offset + num_samples]


def random_offset(length: int, num_samples: int, rng: np.random.Generator) -> int:
    """A uniformly random crop start, 0 when the clip is no longer than the crop."""
    return int(rng.integers(0, length - num_samples + 1)) if length > num_samples else 0


def windows(waveform: np.ndarray, num_samples: int) -> list[np.ndarray]:
    """Splits a clip into consecutive windows of `num_samples`; the last one is kept when it is at least half full."""
    if waveform.size <= num_samples:
        return [waveform]
    starts = range(0, waveform.size, num_samples)
    chunks = [waveform[start : start + num_samples] for start in starts]
    if len(chunks) > 1 and chunks[-1].size < num_samples // 2:
        chunks.pop()
    return chunks
