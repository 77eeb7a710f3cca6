"""Voice-activity trimming by an energy gate: pure numpy, vectorised, deterministic.

Why: CREMA-D clips have almost no leading or trailing silence, other corpora (SAVEE, TESS, RAVDESS) have up to
a second of it, in which a model trained on CREMA-D sees a condition it never met. Trimming every clip the same
way in training, evaluation, export preprocessing and streaming removes that difference; one numpy function
serves all four (no torch, no model file).

The gate. Frame energies over 25 ms frames every 10 ms (cumulative sums: O(samples)). A frame is speech when it is
above all of: the clip's loud frames minus `PEAK_RANGE_DB` (speech's dynamic range: soft syllables and endings stay),
the noise floor (the quiet frames) plus `NOISE_MARGIN_DB` (stationary room noise is not speech), and
`ABSOLUTE_FLOOR_DB` (digital silence and dither are never speech). The noise-floor term is capped at
`MIN_SPEECH_RANGE_DB` below the loud frames, so a clip that is speech throughout (its "noise floor" is its own
quietest speech) or one drowned in noise is not trimmed into its speech: when unsure, keep. Runs of speech
shorter than `MIN_RUN_S` (clicks, bumps) are dropped, then activity is widened by `PAD_BEFORE_S`/`PAD_AFTER_S`
(hangover) so soft onsets and decaying endings under the gate are kept.

Silero VAD was considered: its wheel (6.2.3) requires torch, which the torch-free runtime must not pull.
"""

from __future__ import annotations

import numpy as np

from data.audio import SAMPLING_RATE

FRAME_S = 0.025
"""Analysis frame: 25 ms, the usual speech frame (a few pitch periods)."""

HOP_S = 0.010
"""Frame hop: 10 ms, the resolution of the bounds before padding."""

PEAK_PERCENTILE = 99.0
"""The clip's "loud frames" level: a high percentile rather than the maximum, so one click does not set it."""

PEAK_RANGE_DB = 40.0
"""Frames more than this below the loud frames are never speech: speech's dynamic range is ~30-40 dB, so
syllables 20 dB softer and endings fading 15 dB are kept (a -10 dB gate would cut them)."""

NOISE_PERCENTILE = 10.0
"""The noise-floor estimate: a low percentile of frame energies (the pauses and padding)."""

NOISE_MARGIN_DB = 10.0
"""How far above the noise floor speech must be: 25 ms frames of stationary pink noise scatter by a few dB."""

MIN_SPEECH_RANGE_DB = 20.0
"""The noise-floor threshold is at most this far below the loud frames: clips without silence or with noise
within 20 dB of the speech are left (nearly) untrimmed instead of losing quiet speech."""

ABSOLUTE_FLOOR_DB = -70.0
"""dBFS (full scale 1.0) below which nothing is speech: digital silence, dither, a disconnected microphone."""

MIN_RUN_S = 0.03
"""Active runs shorter than this (clicks, pops) are not speech."""

PAD_BEFORE_S = 0.1
"""Kept before the first active frame: plosive and fricative onsets sit under the gate for tens of ms."""

PAD_AFTER_S = 0.2
"""Kept after the last active frame: endings decay slowly (breathy offsets, reverberation), longer than onsets."""

MIN_DURATION_S = 0.5
"""`trim_silence` never returns less (unless the clip is shorter): a shorter trim has found a click, not the
utterance, and LiteCNN needs some context."""

_TINY = 1e-12  # energy floor for the log: -120 dB, below any threshold


def frame_energies_db(waveform: np.ndarray) -> np.ndarray:
    """Mean-square energy in dBFS of 25 ms frames every 10 ms (one frame for a clip shorter than a frame)."""
    waveform = np.asarray(waveform, dtype=np.float32)
    frame, hop = int(FRAME_S * SAMPLING_RATE), int(HOP_S * SAMPLING_RATE)
    if waveform.size <= frame:
        return np.array([10.0 * np.log10(np.mean(np.square(waveform, dtype=np.float64)) + _TINY)])
    cumulative = np.concatenate([[0.0], np.cumsum(np.square(waveform - waveform.mean(), dtype=np.float64))])
    starts = np.arange(0, waveform.size - frame + 1, hop)
    energy = np.maximum(cumulative[starts + frame] - cumulative[starts], 0.0) / frame
    return 10.0 * np.log10(energy + _TINY)


def threshold_db(energies_db: np.ndarray) -> float:
    """The gate's level for a clip's frame energies (see the module docstring)."""
    peak = float(np.percentile(energies_db, PEAK_PERCENTILE))
    noise = float(np.percentile(energies_db, NOISE_PERCENTILE))
    return max(peak - PEAK_RANGE_DB, min(noise + NOISE_MARGIN_DB, peak - MIN_SPEECH_RANGE_DB), ABSOLUTE_FLOOR_DB)


def frame_activity(
    waveform: np.ndarray, pad_before_s: float = PAD_BEFORE_S, pad_after_s: float = PAD_AFTER_S
) -> np.ndarray:
    """Per 10 ms frame (as `frame_energies_db`): True where there is speech, including the hangover padding.

    Usable as frame weights (e.g. to pool only speech frames); all False when the clip holds no speech."""
    energies = frame_energies_db(waveform)
    active = energies > threshold_db(energies)
    starts, ends = _runs(active)
    keep = (ends - starts) >= max(1, int(round(MIN_RUN_S / HOP_S)))
    starts, ends = starts[keep], ends[keep]
    starts = np.maximum(starts - int(round(pad_before_s / HOP_S)), 0)
    ends = np.minimum(ends + int(round(pad_after_s / HOP_S)), active.size)
    return _from_runs(starts, ends, active.size)


def speech_bounds(
    waveform: np.ndarray, pad_before_s: float = PAD_BEFORE_S, pad_after_s: float = PAD_AFTER_S
) -> tuple[int, int]:
    """(start, end) sample indices from the first speech to the last, padded; (0, len) when no speech is found."""
    waveform = np.asarray(waveform)
    activity = frame_activity(waveform, pad_before_s, pad_after_s)
    active = np.flatnonzero(activity)
    if active.size == 0:
        return 0, int(waveform.size)
    frame, hop = int(FRAME_S * SAMPLING_RATE), int(HOP_S * SAMPLING_RATE)
    # the last frame may end before the clip does: activity there runs to the clip's end
    end = waveform.size if active[-1] == activity.size - 1 else min(active[-1] * hop + frame, waveform.size)
    return int(active[0] * hop), int(end)


def trim_silence(
    waveform: np.ndarray,
    min_duration_s: float = MIN_DURATION_S,
    pad_before_s: float = PAD_BEFORE_S,
    pad_after_s: float = PAD_AFTER_S,
) -> np.ndarray:
    """The clip without its leading and trailing silence (a view, float32 in and out).

    Never shorter than `min_duration_s` (the bounds are widened around their middle, within the clip); a clip with
    no detectable speech is returned unchanged."""
    waveform = np.asarray(waveform, dtype=np.float32)
    start, end = speech_bounds(waveform, pad_before_s, pad_after_s)
    minimum = min(int(round(min_duration_s * SAMPLING_RATE)), waveform.size)
    if end - start < minimum:
        start = int(np.clip((start + end - minimum) // 2, 0, waveform.size - minimum))
        end = start + minimum
    return waveform[start:end]


def _runs(active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indices of the runs of True."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], active.astype(np.int8), [0]])))
    return edges[::2], edges[1::2]


def _from_runs(starts: np.ndarray, ends: np.ndarray, size: int) -> np.ndarray:
    """The boolean mask of (possibly overlapping) runs."""
    marks = np.zeros(size + 1, dtype=np.int64)
    np.add.at(marks, starts, 1)
    np.add.at(marks, ends, -1)
    return np.cumsum(marks[:-1]) > 0
