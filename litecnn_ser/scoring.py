"""Classifying a clip by its windows, and a stream by a sliding window: what both runtimes share.

A scorer is anything with `labels` and `probabilities(list of 16 kHz clips) -> (clips, labels)`: the torch-free
`litecnn_ser.onnx_runtime.OnnxClassifier`, or `predict.py`'s transformers pipeline. Both classify through these
functions, so both give the same probabilities. No torch here.

Adaptation to a recording setup at the output (`adapt_to_recording`, the `--adapt_recording` of both runtimes):
the torch-free counterpart of batch-norm adaptation, which an ONNX graph (batch norm fused into its convolutions)
cannot do. Each file's mean log-probability over its windows is centred over all the given files, as speaker
adaptation centres a speaker's clips (`litecnn_ser.speaker_adaptation.centre_log_probabilities`, one group).

A saved calibration (`save_calibration`, `load_calibration`: `--save_calibration` and `--calibration` of both
runtimes) keeps what that centring subtracts, the setup's mean log-probability of each emotion over its files, in a
small JSON file, so that clips recorded later on the same setup are scored one at a time (or streamed) with the
same correction: measured, 5 calibration clips of mixed emotions give most of what centring over a whole corpus
gives (docs/deployment.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from data.audio import SAMPLING_RATE, SILENCE_RMS, sliding_windows, windows
from litecnn_ser.speaker_adaptation import MIN_CLIPS_PER_SPEAKER

DEFAULT_WINDOW_S = 1.0
"""The paper's window, for a model that records none."""


def config_labels(config) -> list[str]:
    """A classifier config's label names in the order of its output units (`id2label` by id, whatever the order
    of its keys)."""
    return [config.id2label[i] for i in range(config.num_labels)]


def evaluation_window(record: dict) -> float | None:
    """The window (s) a model was evaluated on in training, as its `training_data` record says (None: whole clips,
    or not recorded)."""
    return record.get("eval_max_duration_s") or record.get("max_duration_s")


def model_windows(record: dict | None) -> tuple[float, float]:
    """(window a clip is classified with, window streaming slides) in seconds, from a model's `training_data`.

    Clips: the evaluation window (whole clips up to 6 s for the recipe, 1 s for the paper). Streaming: the training
    window (1 s or 2 s), which gives a result per hop with the time resolution the model learnt at."""
    record = record or {}
    window = evaluation_window(record) or DEFAULT_WINDOW_S
    return window, min(record.get("max_duration_s") or window, window)


class AdaptationError(ValueError):
    """An adaptation asked for that cannot be done (too few files, no batch norm): a one-line error."""


RECORDING_ASSUMPTION = (
    "Recording adaptation assumes all the files come from one recording setup (the same microphone, room and "
    "corpus) and that together they hold a mix of emotions: each emotion's mean log-probability over all the "
    "files is subtracted from every file's (the setup's bias towards an emotion removed), so on files of one "
    "emotion only it removes that emotion, and on several setups mixed it removes none of their biases. Each "
    "file's scores then depend on the other files given: not a one-clip result."
)
"""For command-line help texts: when centring the scores over the given files is sound."""


def classify_windows(scorer, waveform: np.ndarray, window: int) -> dict:
    """Mean probability of each label over the clip's consecutive windows of `window` samples."""
    return result_from_windows(scorer.labels, window_probabilities(scorer, waveform, window))


def window_probabilities(scorer, waveform: np.ndarray, window: int) -> np.ndarray:
    """(windows, labels): the probabilities of the clip's consecutive windows of `window` samples, each alone."""
    return np.asarray(scorer.probabilities(windows(waveform, window)))


def result_from_windows(labels: list[str], probabilities: np.ndarray) -> dict:
    """A clip's result from its windows' probabilities: their mean, the best label, the number of windows."""
    return labelled_result(labels, probabilities.mean(axis=0), windows=len(probabilities))


def mean_log_probability(probabilities: np.ndarray) -> np.ndarray:
    """(windows, labels) probabilities -> (labels,) the mean log-probability over the windows (clipped at 1e-12)."""
    return np.log(np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, 1.0)).mean(axis=0)


def check_recording_size(num_files: int) -> None:
    """`AdaptationError` unless `num_files` are enough to centre over (callers check before scoring anything)."""
    if num_files < MIN_CLIPS_PER_SPEAKER:
        raise AdaptationError(
            f"--adapt_recording needs at least {MIN_CLIPS_PER_SPEAKER} files of one recording setup "
            f"(got {num_files}): one file's centred scores would be all zero"
        )


def recording_offset(log_probabilities: np.ndarray) -> np.ndarray:
    """(files, labels) each file's mean log-probability -> (labels,) what centring over the files subtracts: the
    mean over the files of each row log-normalised. Needs `MIN_CLIPS_PER_SPEAKER` files."""
    log_probabilities = np.asarray(log_probabilities, dtype=np.float64)
    if log_probabilities.ndim != 2:
        raise AdaptationError(f"--adapt_recording needs (files, labels) scores, got shape {log_probabilities.shape}")
    check_recording_size(len(log_probabilities))
    return log_normalised(log_probabilities).mean(axis=0)


def centre_over_recording(log_probabilities: np.ndarray) -> np.ndarray:
    """(files, labels) each file's mean log-probability -> the same centred over all the files: each row
    log-normalised, then the mean over the files subtracted (zero mean per label). Speaker adaptation's
    `centre_log_probabilities` with one group, the recording setup. Needs `MIN_CLIPS_PER_SPEAKER` files."""
    offset = recording_offset(log_probabilities)
    return log_normalised(np.asarray(log_probabilities, dtype=np.float64)) - offset


def adapt_to_recording(log_probabilities: np.ndarray) -> np.ndarray:
    """(files, labels) each file's mean log-probability over its windows -> (files, labels) adapted probabilities:
    the softmax of `centre_over_recording`. A bias common to every file (the same vector added to each file's
    log-probabilities) is removed exactly."""
    return apply_offset(log_probabilities, recording_offset(log_probabilities))


def apply_offset(log_probabilities: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """(files, labels) log-probabilities minus a setup's `recording_offset`, as probabilities (softmax)."""
    moved = log_normalised(np.asarray(log_probabilities, dtype=np.float64)) - np.asarray(offset, dtype=np.float64)
    return np.exp(log_normalised(moved))


def log_normalised(rows: np.ndarray) -> np.ndarray:
    """Each row of log-scores shifted so that its exponentials sum to 1 (log-softmax)."""
    return rows - np.logaddexp.reduce(rows, axis=-1, keepdims=True)


CALIBRATION_FORMAT = "litecnn-calibration/1"
"""The `format` entry of a file written by `save_calibration`."""


def save_calibration(path: str | Path, labels: list[str], offset: np.ndarray, files: int, model: str) -> None:
    """Writes a setup's `recording_offset` (over `files` files, by `model`) as JSON, with what it assumes."""
    record = {
        "format": CALIBRATION_FORMAT,
        "labels": list(labels),
        "mean_log_probability": [float(value) for value in offset],
        "files": int(files),
        "model": str(model),
        "assumption": RECORDING_ASSUMPTION,
    }
    Path(path).write_text(json.dumps(record, indent=1) + "\n")


def load_calibration(path: str | Path, labels: list[str]) -> tuple[np.ndarray, dict]:
    """(offset, the file's record) of a `save_calibration` file for a model of `labels`; AdaptationError naming
    `--calibration` and the file when it is missing, not one, made for other labels or holding no offset for
    them. A file made with another model (another export of the same weights, say) is accepted: the caller says
    so."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise AdaptationError(
            f"--calibration {path}: no such file (write one with --adapt_recording "
            "--save_calibration FILE on a few clips of the setup)"
        ) from None
    except (OSError, ValueError) as error:
        raise AdaptationError(f"--calibration {path}: not a calibration file ({error})") from None
    if not isinstance(record, dict) or record.get("format") != CALIBRATION_FORMAT:
        raise AdaptationError(f"--calibration {path}: not a calibration file (no format {CALIBRATION_FORMAT!r})")
    if record.get("labels") != list(labels):
        raise AdaptationError(
            f"--calibration {path}: made for labels {record.get('labels')}, this model predicts {list(labels)}"
        )
    try:
        offset = np.asarray(record.get("mean_log_probability"), dtype=np.float64)
    except (TypeError, ValueError):
        offset = np.empty(0)
    if offset.shape != (len(labels),) or not np.all(np.isfinite(offset)):
        raise AdaptationError(f"--calibration {path}: its mean_log_probability is not {len(labels)} finite numbers")
    return offset, record


def adapt_results_to_recording(results: list[dict], log_probabilities: list[np.ndarray]) -> None:
    """Replaces each file's scores by `adapt_to_recording`'s (given each file's mean log-probability, in the
    results' order); marks each result with its adaptation."""
    if not results:
        return
    adapted = adapt_to_recording(np.stack(log_probabilities))
    labels = list(results[0]["scores"])
    for result, probabilities in zip(results, adapted):
        rescore(result, labels, probabilities, "recording")


def rescore(result: dict, labels: list[str], probabilities: np.ndarray, adaptation: str) -> dict:
    """`result` (in place) with adapted `probabilities` as its scores and `adaptation` added to its record."""
    result.update(labelled_result(labels, probabilities))
    result["adaptation"] = "+".join(filter(None, [result.get("adaptation"), adaptation]))
    return result


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
            yield {**timing, **labelled_result(scorer.labels, scorer.probabilities([samples])[0])}


def labelled_result(labels: list[str], probabilities: np.ndarray, **extra) -> dict:
    """A result from one set of probabilities: the scores by label, the best label and its score, and `extra`."""
    scores = {label: float(p) for label, p in zip(labels, probabilities)}
    best = max(scores, key=scores.get)
    return {"label": best, "score": scores[best], "scores": scores, **extra}
