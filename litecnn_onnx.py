"""Classify audio with an exported LiteCNN and only onnxruntime, numpy, soundfile and soxr: what a device image carries.

    python litecnn_onnx.py export/model_int8.onnx clip.wav recordings/            # a table, like predict.py
    python litecnn_onnx.py export/model_int8.onnx clip.wav --json                 # JSON lines
    python litecnn_onnx.py export/model_int8.onnx call.flac --stream --hop_s 0.5  # one result per hop, with its time

The `.onnx` file written by `export.py` carries everything else in its metadata: the labels, the sampling rate, the
input normalisation and the window the model was evaluated with. Clips are decoded by `data/audio.py` (the
project's one decode path); a clip longer than the window is cut into windows whose probabilities are averaged,
exactly as `predict.py` does, so both give the same probabilities. `--stream` reads the file block by block and
slides a window over it (memory bounded whatever the length). Nothing here imports torch or transformers.

    from litecnn_onnx import OnnxClassifier
    classifier = OnnxClassifier("export/model_int8.onnx")
    classifier.classify(waveform_16k)                   # {"label", "score", "scores", "windows"}
    for result in classifier.stream(chunks_16k): ...    # {"start_s", "end_s", "label", "score", "scores"}
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import onnxruntime

from data.audio import (
    SAMPLING_RATE,
    SILENCE_RMS,
    AudioDecodeError,
    expand_paths,
    load_audio,
    sliding_windows,
    stream_audio,
    windows,
)

FORMAT = "litecnn-onnx/1"
"""The `format` metadata entry `export.py` writes; a file without it was not made by `export.py`."""

DEFAULT_WINDOW_S = 1.0
"""The paper's window, for a model that records none."""

NORMALIZATION_EPSILON = 1e-7
"""Wav2Vec2FeatureExtractor's zero-mean unit-variance normalisation: (x - mean) / sqrt(var + 1e-7)."""


class ExportError(ValueError):
    """An ONNX file this runtime cannot use, with the file name and the reason."""


def normalize(waveform: np.ndarray, epsilon: float = NORMALIZATION_EPSILON) -> np.ndarray:
    """Zero mean and unit variance, as the model's feature extractor does (`do_normalize=True`)."""
    waveform = np.asarray(waveform, dtype=np.float32)
    return ((waveform - waveform.mean()) / np.sqrt(waveform.var() + epsilon)).astype(np.float32)


def model_windows(record: dict | None) -> tuple[float, float]:
    """(window a clip is classified with, window streaming slides) in seconds, from a model's `training_data`.

    Clips: the evaluation window (whole clips up to 6 s for the recipe, 1 s for the paper). Streaming: the training
    window (1 s or 2 s), which gives a result per hop with the time resolution the model learnt at."""
    record = record or {}
    window = record.get("eval_max_duration_s") or record.get("max_duration_s") or DEFAULT_WINDOW_S
    return window, min(record.get("max_duration_s") or window, window)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def session_for(path: str | os.PathLike, threads: int | None = None) -> onnxruntime.InferenceSession:
    """A CPU session; `threads` intra-op threads (default: onnxruntime's choice, all physical cores)."""
    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    options.log_severity_level = 3  # no warnings about the CPU's own graph rewrites
    return onnxruntime.InferenceSession(os.fspath(path), options, providers=["CPUExecutionProvider"])


class OnnxClassifier:
    """An exported LiteCNN: raw 16 kHz audio in, emotion probabilities out."""

    def __init__(self, path: str | os.PathLike, threads: int | None = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise ExportError(f"{self.path}: no such file (an .onnx file written by export.py)")
        try:
            self.session = session_for(self.path, threads)
        except Exception as error:  # onnxruntime raises its own exception types for unreadable files
            raise ExportError(f"{self.path}: not a readable ONNX model ({str(error).splitlines()[0]})") from None
        metadata = self.session.get_modelmeta().custom_metadata_map
        if metadata.get("format") != FORMAT:
            raise ExportError(f"{self.path}: no LiteCNN export metadata (format {FORMAT!r}); export it with export.py")
        self.metadata = metadata
        self.labels: list[str] = json.loads(metadata["labels"])
        self.sampling_rate = int(metadata["sampling_rate"])
        if self.sampling_rate != SAMPLING_RATE:
            raise ExportError(
                f"{self.path}: model expects {self.sampling_rate} Hz, the decode path gives {SAMPLING_RATE}"
            )
        self.do_normalize = metadata.get("do_normalize", "true") == "true"
        self.window_s = float(metadata["window_s"])
        self.stream_window_s = float(metadata.get("stream_window_s", self.window_s))
        self.input_names = [item.name for item in self.session.get_inputs()]

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """(B, T) float32 waveforms of equal length (already normalised) -> (B, num_labels) logits."""
        feed = {"input_values": np.ascontiguousarray(batch, dtype=np.float32)}
        if "attention_mask" in self.input_names:  # an export made with --attention_mask: no padding here
            feed["attention_mask"] = np.ones(batch.shape, dtype=np.int64)
        return self.session.run(None, feed)[0]

    def probabilities(self, clips: list[np.ndarray]) -> np.ndarray:
        """One probability row per clip, clips of equal length run as one batch."""
        prepared = [normalize(clip) if self.do_normalize else np.asarray(clip, np.float32) for clip in clips]
        result = np.empty((len(prepared), len(self.labels)), dtype=np.float32)
        for length in sorted({clip.size for clip in prepared}):
            rows = [i for i, clip in enumerate(prepared) if clip.size == length]
            result[rows] = softmax(self.logits(np.stack([prepared[i] for i in rows])))
        return result

    def classify(self, waveform: np.ndarray, window_s: float | None = None) -> dict:
        """Mean probability of each label over the clip's windows (as `predict.py`)."""
        return classify_windows(self, waveform, int(round((window_s or self.window_s) * SAMPLING_RATE)))

    def stream(
        self, chunks: Iterable[np.ndarray], window_s: float | None = None, hop_s: float | None = None
    ) -> Iterator[dict]:
        """One result per hop over 16 kHz audio arriving in chunks (default window: the model's training window;
        hop: half of it)."""
        return stream_results(self, chunks, window_s or self.stream_window_s, hop_s)


# Both runtimes (this one and `predict.py`'s transformers pipeline) classify through these two functions: a scorer
# is anything with `labels` and `probabilities(list of 16 kHz clips) -> (clips, labels)`.


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


def add_stream_arguments(parser: argparse.ArgumentParser) -> None:
    """The streaming flags, shared by this runtime and `predict.py`."""
    parser.add_argument(
        "--stream", action="store_true", help="slide a window over each file, one result per hop (long recordings)"
    )
    parser.add_argument(
        "--window_s",
        type=float,
        default=None,
        help="window length (default: the model's evaluation window; with --stream, its training window)",
    )
    parser.add_argument(
        "--hop_s", type=float, default=None, help="with --stream: hop between windows (default: half a window)"
    )
    parser.add_argument(
        "--block_s", type=float, default=1.0, help="with --stream: seconds read from the file at a time"
    )


def check_stream_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    for flag in ("window_s", "hop_s", "block_s"):
        value = getattr(args, flag)
        if value is not None and value <= 0:
            parser.error(f"--{flag} must be positive, got {value}")


def print_stream(name: str, results: Iterable[dict], as_json: bool) -> int:
    """Prints a stream's results as they come (JSON lines or a table); returns how many there were."""
    count = 0
    for result in results:
        count += 1
        if as_json:
            print(json.dumps({"file": name, **result}), flush=True)
        elif result["label"] is None:
            print(f"{name}  {result['start_s']:8.2f}-{result['end_s']:8.2f} s  (silence)", flush=True)
        else:
            print(
                f"{name}  {result['start_s']:8.2f}-{result['end_s']:8.2f} s  {result['label']:<10} {result['score']:.2f}",
                flush=True,
            )
    return count


def print_table(results: list[dict], window_s: float) -> None:
    if not results:
        return
    labels = list(results[0]["scores"])
    width = max(len("file"), *(len(r["file"]) for r in results))
    header = f"{'file':<{width}}  {'emotion':<10} {'score':>5}  {'dur_s':>5} {'win':>3}  " + " ".join(
        f"{label[:5]:>5}" for label in labels
    )
    print(header)
    print("-" * len(header))
    for r in results:
        scores = " ".join(f"{r['scores'][label]:>5.2f}" for label in labels)
        print(
            f"{r['file']:<{width}}  {r['label']:<10} {r['score']:>5.2f}  {r['duration_s']:>5.2f} {r['windows']:>3}  {scores}"
        )
    print(f"({len(results)} clips; windows of {window_s:g} s, probabilities averaged over windows)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="an .onnx file written by export.py")
    parser.add_argument("paths", nargs="+", help="audio files or folders")
    parser.add_argument("--json", action="store_true", help="one JSON object per file (per window with --stream)")
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads (default: all cores)")
    add_stream_arguments(parser)
    args = parser.parse_args(argv)
    check_stream_arguments(parser, args)
    try:
        classifier = OnnxClassifier(args.model, args.threads)
    except ExportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    results, errors = classify_paths(classifier, args, classifier.window_s, classifier.stream_window_s)
    return print_results(results, errors, args, classifier.window_s)


def classify_paths(
    scorer, args: argparse.Namespace, window_s: float, stream_window_s: float
) -> tuple[list[dict], list[tuple[str, str]]]:
    """Every file of `args.paths`: a result per file (windows of `window_s`), or with `--stream` results per hop
    (windows of `stream_window_s`) printed as they come. `--window_s` overrides both.

    Unreadable files are returned as (file, reason) errors, the others still classified."""
    window_s, stream_window_s = args.window_s or window_s, args.window_s or stream_window_s
    files, errors = expand_paths(args.paths)
    results = []
    for path in files:
        try:
            if args.stream:
                print_stream(
                    str(path),
                    stream_results(scorer, stream_audio(path, args.block_s), stream_window_s, args.hop_s),
                    args.json,
                )
                continue
            waveform = load_audio(path)
        except AudioDecodeError as error:
            errors.append((str(path), error.reason))
            continue
        result = {"file": str(path), "duration_s": round(waveform.size / SAMPLING_RATE, 3)}
        results.append({**result, **classify_windows(scorer, waveform, int(round(window_s * SAMPLING_RATE)))})
    return results, errors


def print_results(
    results: list[dict], errors: list[tuple[str, str]], args: argparse.Namespace, window_s: float
) -> int:
    """The results as JSON lines or a table, the errors on stderr; the exit status (1 when a file failed)."""
    if args.json:
        for result in results:
            print(json.dumps(result))
        for name, reason in errors:
            print(json.dumps({"file": name, "error": reason}))
    elif not args.stream:
        print_table(results, args.window_s or window_s)
    for name, reason in errors:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
