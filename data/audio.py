"""The one decode path of the project: any audio file (or its bytes) -> 16 kHz mono float32.

Every consumer goes through `load_audio`: dataset preparation, the training transforms, evaluation
and `predict.py`. Decoding is soundfile (libsndfile: WAV, FLAC, OGG, ...), resampling is soxr; there is
no torchaudio or torchcodec anywhere (see docs/design.md for why).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

SAMPLING_RATE = 16_000
"""The sampling rate of every model in the project (wav2vec2 and LiteCNN alike)."""

MIN_DURATION_S = 0.1
"""Shorter clips carry no emotion a listener could hear; they are reported, not used."""

SILENCE_RMS = 1e-5
"""Below -100 dBFS a clip is digital silence: its zero-mean unit-variance normalisation would divide by ~0."""

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")
"""What `expand_paths` takes from a folder (what libsndfile decodes)."""

AudioSource = str | os.PathLike | bytes | dict


class AudioDecodeError(ValueError):
    """A clip that cannot be used, with the file name and the reason in the message."""

    def __init__(self, name: str, reason: str):
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


DECODE_ERRORS = (sf.LibsndfileError, RuntimeError, TypeError, ValueError)
"""What soundfile raises for a file it cannot open or decode."""


def decode_error(name: str, error: Exception) -> AudioDecodeError:
    """soundfile's error as an `AudioDecodeError` naming the file, with libsndfile's reason."""
    detail = getattr(error, "error_string", None) or str(error).rsplit(": ", 1)[-1]
    return AudioDecodeError(name, f"cannot decode audio ({detail})")


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
    except DECODE_ERRORS as error:
        raise decode_error(name, error) from None
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


def stream_audio(path: str | os.PathLike, block_s: float = 1.0):
    """Yields a file as consecutive 16 kHz mono float32 blocks of about `block_s` seconds, reading `block_s` at a time.

    Memory stays bounded whatever the file's length (soundfile reads blocks, `soxr.ResampleStream` resamples them
    with the same quality as `to_mono_16k`). An unreadable file raises `AudioDecodeError` naming it."""
    name = os.fspath(path)
    try:
        handle = sf.SoundFile(name)
    except DECODE_ERRORS as error:
        raise decode_error(name, error) from None
    with handle:
        rate = handle.samplerate
        resampler = None if rate == SAMPLING_RATE else soxr.ResampleStream(rate, SAMPLING_RATE, 1, "float32", "HQ")
        block = max(1, int(round(block_s * rate)))
        while True:
            samples = handle.read(block, dtype="float32", always_2d=True).mean(axis=1)
            last = samples.size < block
            if not np.all(np.isfinite(samples)):
                raise AudioDecodeError(name, "contains NaN or infinite samples")
            if resampler is not None:
                samples = resampler.resample_chunk(samples, last=last)
            if samples.size:
                yield np.ascontiguousarray(samples, dtype=np.float32)
            if last:
                return


def sliding_windows(chunks, window: int, hop: int):
    """(start sample, window) pairs over audio arriving in `chunks`: one window every `hop` samples.

    Only the samples a window still needs are kept (memory bounded by `window` + one chunk). When the stream ends,
    audio after the last full window is not dropped: a last window ending at the stream's end is yielded (the
    whole stream when it is shorter than one window)."""
    if window < 1 or hop < 1:
        raise ValueError(f"window and hop must be at least one sample, got {window} and {hop}")
    buffer = np.zeros(0, dtype=np.float32)
    buffer_start = 0  # stream position of buffer[0]
    next_start = 0  # stream position of the next window
    last_end = 0  # end of the last window yielded
    for chunk in chunks:
        buffer = np.concatenate([buffer, np.asarray(chunk, dtype=np.float32)])
        while next_start + window <= buffer_start + buffer.size:
            offset = next_start - buffer_start
            yield next_start, buffer[offset : offset + window]
            last_end = next_start + window
            next_start += hop
        # keep what the next window needs, and the last `window` samples for a final window at the stream's end
        keep_from = min(next_start, buffer_start + buffer.size - window)
        if keep_from > buffer_start:
            buffer, buffer_start = buffer[keep_from - buffer_start :], keep_from
    end = buffer_start + buffer.size
    if end > last_end:
        start = max(buffer_start, end - window)
        yield start, buffer[start - buffer_start :]


def expand_paths(paths: list[str]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files as given, folders as their audio files (recursively, sorted); missing paths as (path, reason) errors."""
    files, errors = [], []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
            if not found:
                errors.append((raw, f"no audio files ({', '.join(AUDIO_SUFFIXES)}) in this folder"))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            errors.append((raw, "no such file or folder"))
    return files, errors
