"""Views of a clip: a speed factor and a window. The unit of augmentation and of view-consistent distillation.

A view is deterministic (no random state inside): the same clip and view always give the same samples, so a
teacher's logits can be computed once per (clip, view) and cached, and a student trained on a view can be handed
the teacher's logits for exactly that view (function matching, Beyer et al. 2022; CED, Dinkel et al. 2023).

Speed perturbation resamples the clip as if it had been recorded at `speed` times the rate (tempo and pitch change
together, as in Ko et al. 2015's Kaldi recipe), with soxr: factor 1.1 makes a 2.0 s clip 1.82 s long.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import soxr

from data.audio import SAMPLING_RATE


@dataclass(frozen=True)
class View:
    """`speed` (1.0: as recorded), then `duration_s` seconds from `offset_s` (None: to the end of the clip)."""

    speed: float = 1.0
    offset_s: float = 0.0
    duration_s: float | None = None

    def __post_init__(self):
        if not 0.5 <= self.speed <= 2.0:
            raise ValueError(f"a view's speed factor must be in [0.5, 2.0], got {self.speed}")
        if self.offset_s < 0:
            raise ValueError(f"a view's offset must be >= 0 s, got {self.offset_s}")
        if self.duration_s is not None and self.duration_s <= 0:
            raise ValueError(f"a view's duration must be positive, got {self.duration_s}")

    def as_tuple(self) -> tuple:
        return (self.speed, self.offset_s, self.duration_s)


def change_speed(waveform: np.ndarray, speed: float) -> np.ndarray:
    """The clip played `speed` times faster (shorter and higher for speed > 1)."""
    if speed == 1.0:
        return waveform
    return soxr.resample(waveform, SAMPLING_RATE * speed, SAMPLING_RATE, quality="HQ").astype(np.float32)


def window_start(length: int, num_samples: int | None, offset: int) -> int:
    """`offset`, moved back so that a window of `num_samples` fits in the clip (0 for a clip shorter than it)."""
    if num_samples is None:
        return min(offset, max(length - 1, 0))
    return max(0, min(offset, length - num_samples))


def apply_view(waveform: np.ndarray, view: View) -> np.ndarray:
    """The view's samples: speed first, then the window (moved back to fit; a short clip is returned whole)."""
    waveform = change_speed(waveform, view.speed)
    num_samples = None if view.duration_s is None else int(round(view.duration_s * SAMPLING_RATE))
    start = window_start(waveform.size, num_samples, int(round(view.offset_s * SAMPLING_RATE)))
    return waveform[start:] if num_samples is None else waveform[start : start + num_samples]


def view_grid(speeds: list[float], offsets_s: list[float], duration_s: float | None) -> list[View]:
    """Every (speed, offset) pair as a view of `duration_s` seconds, speeds outermost."""
    return [View(speed, offset, duration_s) for speed, offset in itertools.product(speeds, offsets_s)]
