"""Classifying a clip by its windows, and a stream by a sliding window: what both runtimes share.

A scorer is anything with `labels` and `probabilities(list of 16 kHz clips) -> (clips, labels)`: the torch-free
`litecnn_ser.onnx_runtime.OnnxClassifier`, or `predict.py`'s transformers pipeline. Both classify through these
functions, so both give the same probabilities. No torch here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from data.audio import SAMPLING_RATE, SILENCE_RMS, sliding_windows, windows

DEFAULT_WINDOW_S = 1.0
"""The paper's window, for a model that records none."""


def model_windows(record: dict | None) -> tuple[float, float]:
    """(window a clip is classified with, window streaming slides) in seconds, from a model's `training_data`.

    Clips: the evaluation window (whole clips up to 6 s for the recipe, 1 s for the paper). Streaming: the training
    window (1 s or 2 s), which gives a result per hop with the time resolution the model learnt at."""
    record = record or {}
    window = record.get("eval_max_duration_s") or record.get("max_duration_s") or DEFAULT_WINDOW_S
    return window, min(record.get("max_duration_s") or window, window)


def classify_windows(scorer, waveform: np.ndarray, window: int) -> dict:
    """Mean probability of each label over the clip's consecutive windows of `window` samples."""
    chunks = windows(waveform, window)
    return _result(scorer.labels, scorer.probabilities(chunks).mean(axis=0), windows=len(chunks))


def stream_results(
    scorer, chunks: Iterable[np.ndarray], window_s: float, hop_s: float | None = None
) -> Iterator[dict]:
    """One result per hop (default: half a window) with its time, over audio arriving in chunks; bounded memory.

    A window of digital silence gets `label` None instead of a guess from noise amplified by normalisation."""
    window = int(round(window_s * SAMPLING_RATE))
    hop = int(round(hop_s * SAMPLING_RATE)) if hop_s else max(1, window // 2)
    for start, samples in sliding_windows(chunks, window, hop):
        timing = {
            "start_s": round(start / SAMPLING_RATE, 3),
            "end_s": round((start + samples.size) / SAMPLING_RATE, 3),
        }
        if float(np.std(samples)) < SILENCE_RMS:
            yield {**timing, "label": None, "score": None, "scores": None, "silent": True}
        else:
            yield {**timing, **_result(scorer.labels, scorer.probabilities([samples])[0])}


def _result(labels: list[str], probabilities: np.ndarray, **extra) -> dict:
    scores = {label: float(p) for label, p in zip(labels, probabilities)}
    best = max(scores, key=scores.get)
    return {"label": best, "score": scores[best], "scores": scores, **extra}
