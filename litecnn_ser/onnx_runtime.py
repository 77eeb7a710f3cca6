"""Classify audio with an exported LiteCNN and only onnxruntime, numpy, soundfile and soxr: what a device image carries.

    python -m litecnn_ser.onnx_runtime clip.wav recordings/    # the shipped model's int8 graph, a table
    python -m litecnn_ser.onnx_runtime export/model_int8.onnx clip.wav recordings/    # another export
    python -m litecnn_ser.onnx_runtime export/model_int8.onnx clip.wav --json         # JSON lines
    python -m litecnn_ser.onnx_runtime export/model_int8.onnx call.flac --stream --hop_s 0.5   # one result per hop

The `.onnx` file written by `export.py` carries everything else in its metadata: the labels, the sampling rate, the
input normalisation and the window the model was evaluated with. Clips are decoded by `data/audio.py` (the
project's one decode path); a clip longer than the window is cut into windows whose probabilities are averaged,
exactly as `predict.py` does, so both give the same probabilities. `--stream` reads the file block by block and
slides a window over it (memory bounded whatever the length). Nothing here imports torch or transformers.

`--adapt_recording` adapts the scores to the files' recording setup, never unless asked: each emotion's mean
log-probability over all the given files is subtracted from every file's (`litecnn_ser.scoring.adapt_to_recording`,
the same as `predict.py --adapt_recording`). It assumes the files come from one setup and hold a mix of emotions.
`--save_calibration FILE` keeps that correction and `--calibration FILE` applies it to later clips one at a time
(and to every hop of `--stream`): a device calibrates once on a few clips, then scores as they come.
Batch-norm adaptation (`predict.py --adapt_batch_norm`) is not possible here: the export fuses the batch norms
into the convolutions.

    python -m litecnn_ser.onnx_runtime export/model_int8.onnx new_room/ --adapt_recording
    python -m litecnn_ser.onnx_runtime first_five/ --adapt_recording --save_calibration phone.json
    python -m litecnn_ser.onnx_runtime later.wav --calibration phone.json    # one clip, the setup's correction

    from litecnn_ser.onnx_runtime import OnnxClassifier
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

from data.audio import SAMPLING_RATE
from litecnn_ser.loading import SHIPPED_ONNX, shipped_model_missing_message
from litecnn_ser.reporting import (
    classify_paths,
    parse_classify_arguments,
    print_results,
)
from litecnn_ser.scoring import AdaptationError, classify_windows, stream_results

FORMAT = "litecnn-onnx/1"
"""The `format` metadata entry `export.py` writes; a file without it was not made by `export.py`."""

NORMALIZATION_EPSILON = 1e-7
"""Wav2Vec2FeatureExtractor's zero-mean unit-variance normalisation: (x - mean) / sqrt(var + 1e-7)."""


class ExportError(ValueError):
    """An ONNX file this runtime cannot use, with the file name and the reason."""


def normalize(waveform: np.ndarray, epsilon: float = NORMALIZATION_EPSILON) -> np.ndarray:
    """Zero mean and unit variance, as the model's feature extractor does (`do_normalize=True`)."""
    waveform = np.asarray(waveform, dtype=np.float32)
    return ((waveform - waveform.mean()) / np.sqrt(waveform.var() + epsilon)).astype(np.float32)


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
        self.trim_silence = metadata.get("trim_silence") == "true"  # the model was trained on trimmed clips
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], usage="%(prog)s [MODEL.onnx] PATH [PATH ...] [options]"
    )
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="[MODEL.onnx] PATH",
        help=f"audio files or folders; the first, when it ends with .onnx, is the model (an .onnx file written by "
        f"export.py; default: the shipped model's int8 graph, {SHIPPED_ONNX})",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per file (per window with --stream)")
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads (default: all cores)")
    args, problem = parse_classify_arguments(parser, argv)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    args.model = args.paths.pop(0) if args.paths[0].lower().endswith(".onnx") else SHIPPED_ONNX
    if not args.paths:
        parser.error("no audio files or folders")
    if args.model == SHIPPED_ONNX and not SHIPPED_ONNX.is_file():
        print(f"error: {shipped_model_missing_message(SHIPPED_ONNX)}", file=sys.stderr)
        return 2
    try:
        classifier = OnnxClassifier(args.model, args.threads)
    except ExportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    try:
        results, errors = classify_paths(classifier, args, classifier.window_s, classifier.stream_window_s)
    except AdaptationError as error:  # --adapt_recording on fewer than 2 files
        print(f"error: {error}", file=sys.stderr)
        return 2
    return print_results(results, errors, args, classifier.window_s)


if __name__ == "__main__":
    sys.exit(main())
