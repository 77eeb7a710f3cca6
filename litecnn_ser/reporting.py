"""Classifying files and folders from a command line: the streaming flags, one result per file (or per hop), and
the results as a table or JSON lines. Shared by `predict.py` and `python -m litecnn_ser.onnx_runtime`; no torch.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable

import numpy as np

from data.audio import SAMPLING_RATE, AudioDecodeError, expand_paths, load_audio, stream_audio, windows
from litecnn_ser.scoring import (
    RECORDING_ASSUMPTION,
    adapt_results_to_recording,
    apply_offset,
    check_recording_size,
    load_calibration,
    mean_log_probability,
    recording_offset,
    rescore,
    result_from_windows,
    save_calibration,
    stream_results,
    window_probabilities,
)
from litecnn_ser.vad import trim_silence

ADAPTED_NOTE = "scores use all these files, not one clip each"
"""What every adaptation's stderr line ends with: an adapted result is not a one-clip result."""


def add_stream_arguments(parser: argparse.ArgumentParser) -> None:
    """The streaming flags (`--stream`, `--window_s`, `--hop_s`, `--block_s`)."""
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


def add_recording_argument(parser: argparse.ArgumentParser) -> None:
    """`--adapt_recording`: scores centred over all the given files (`litecnn_ser.scoring.adapt_to_recording`)."""
    parser.add_argument(
        "--adapt_recording",
        action="store_true",
        help="adapt the scores to the files' recording setup: each emotion's mean log-probability over all the "
        "given files (each file's mean over its windows) is subtracted from every file's, then softmax again. "
        f"Needs at least 2 files; not with --stream. {RECORDING_ASSUMPTION}",
    )
    parser.add_argument(
        "--save_calibration",
        metavar="FILE.json",
        help="with --adapt_recording: also write what it subtracts (the setup's mean log-probability of each "
        "emotion over these files) to FILE.json, for --calibration later (5 clips of mixed emotions give most of "
        "the gain: docs/deployment.md)",
    )
    parser.add_argument(
        "--calibration",
        metavar="FILE.json",
        help="subtract a setup's saved mean log-probability (--save_calibration) from every file's, or every hop's "
        "with --stream, then softmax again: clips recorded later on that setup scored one at a time with its "
        "correction (the assumption of --adapt_recording holds for the calibration files)",
    )


def adaptation_error(args: argparse.Namespace) -> str | None:
    """Why the adaptation flags asked for cannot be honoured with the other flags (a one-line error), or None."""
    for flag in ("adapt_recording", "adapt_batch_norm"):
        if getattr(args, flag, False) and args.stream:
            return f"--{flag} needs every file before any score; it does not combine with --stream"
    if getattr(args, "adapt_recording", False) and getattr(args, "speaker_from", None):
        return "--adapt_recording and --speaker_from both centre the scores; choose one"
    if getattr(args, "save_calibration", None) and not getattr(args, "adapt_recording", False):
        return "--save_calibration saves what --adapt_recording computes over the given files; add --adapt_recording"
    if getattr(args, "calibration", None):
        for flag in ("adapt_recording", "speaker_from", "adapt_batch_norm"):
            if getattr(args, flag, None):
                return f"--calibration and --{flag} both adapt the scores; choose one"
    return None


def parse_classify_arguments(
    parser: argparse.ArgumentParser, argv: list[str] | None
) -> tuple[argparse.Namespace, str | None]:
    """Adds the streaming and `--adapt_recording` flags, parses `argv` (a bad window or hop stops with the usage),
    and returns the arguments with `adaptation_error`'s verdict, for the caller to print as its one-line error."""
    add_stream_arguments(parser)
    add_recording_argument(parser)
    args = parser.parse_args(argv)
    check_stream_arguments(parser, args)
    return args, adaptation_error(args)


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


def classify_paths(
    scorer,
    args: argparse.Namespace,
    window_s: float,
    stream_window_s: float,
    before_scoring: Callable[[list[list[np.ndarray]]], str | None] | None = None,
) -> tuple[list[dict], list[tuple[str, str]]]:
    """Every file of `args.paths`: a result per file (windows of `window_s`), or with `--stream` results per hop
    (windows of `stream_window_s`) printed as they come. `--window_s` overrides both.

    `before_scoring`: called once with every decoded file's windows (trimmed as the model's training clips were,
    exactly what is then scored) before any is scored (batch-norm adaptation); every file is then held in memory.
    With `args.adapt_recording` the scores are centred over all the files (`adapt_results_to_recording`; with
    `args.save_calibration` what it subtracted is saved); with `args.calibration` a saved centring is applied to
    each file or hop (refused before any file is read when the file cannot serve). Each raises AdaptationError
    (fewer than 2 files, ...); each one's line on stderr says it was done. Fewer than 2 files found is refused
    before any is decoded; fewer than 2 readable ones, once decoding has told.

    Unreadable files are returned as (file, reason) errors, the others still classified."""
    window_s, stream_window_s = args.window_s or window_s, args.window_s or stream_window_s
    window = int(round(window_s * SAMPLING_RATE))
    offset = calibration_offset(scorer, args)  # a bad calibration file: refused before any file is read
    files, errors = expand_paths(args.paths)
    if getattr(args, "adapt_recording", False):
        check_recording_size(len(files))  # too few files found: refused before any is decoded or scored
    decoded = _decoded(scorer, files, errors, args, stream_window_s, offset)
    adaptation = None
    if before_scoring is not None:
        decoded = list(decoded)
        adaptation = before_scoring([windows(waveform, window) for _, waveform in decoded])
    results, log_probabilities = [], []
    for result, waveform in decoded:
        probabilities = window_probabilities(scorer, waveform, window)
        results.append({**result, **result_from_windows(scorer.labels, probabilities)})
        if adaptation:
            results[-1]["adaptation"] = adaptation
        log_probabilities.append(mean_log_probability(probabilities))
    if getattr(args, "adapt_recording", False):
        adapt_results_to_recording(results, log_probabilities)  # raises AdaptationError below 2 files
        print(
            f"adapted to the recording setup: log-probabilities centred over {len(results)} files (the mean over "
            f"the files subtracted): {ADAPTED_NOTE}",
            file=sys.stderr,
        )
        if getattr(args, "save_calibration", None):
            save_calibration(
                args.save_calibration,
                scorer.labels,
                recording_offset(np.stack(log_probabilities)),
                len(results),
                getattr(args, "model", ""),
            )
            print(f"saved the setup's calibration ({len(results)} files) to {args.save_calibration}", file=sys.stderr)
    if offset is not None and results:
        for result, probabilities in zip(results, apply_offset(np.stack(log_probabilities), offset)):
            rescore(result, scorer.labels, probabilities, "calibration")
    return results, errors


def calibration_offset(scorer, args: argparse.Namespace) -> np.ndarray | None:
    """The offset of `args.calibration` for this scorer's labels (None without one); says on stderr what it is."""
    if not getattr(args, "calibration", None):
        return None
    offset, record = load_calibration(args.calibration, scorer.labels)
    model = str(getattr(args, "model", ""))
    other = f"; made with {record.get('model')}, not {model}" if record.get("model") not in (None, "", model) else ""
    print(
        f"calibrated with {args.calibration} (the mean log-probability of {record.get('files')} files of the setup "
        f"subtracted{other}): scores use those files, not one clip each",
        file=sys.stderr,
    )
    return offset


def _calibrated_stream(results: Iterable[dict], labels: list[str], offset: np.ndarray):
    for result in results:
        if result["scores"] is not None:  # a silent window stays silent
            log_probabilities = mean_log_probability([[result["scores"][label] for label in labels]])
            result = rescore(result, labels, apply_offset(log_probabilities[None], offset)[0], "calibration")
        yield result


def _decoded(scorer, files, errors: list, args: argparse.Namespace, stream_window_s: float, offset=None):
    """(result so far, waveform as the model hears it) per readable file; with `--stream`, prints each file's
    results per hop instead (calibrated by `offset` when given) and yields nothing. Unreadable files go to
    `errors`."""
    for path in files:
        try:
            if args.stream:
                hops = stream_results(scorer, stream_audio(path, args.block_s), stream_window_s, args.hop_s)
                if offset is not None:
                    hops = _calibrated_stream(hops, scorer.labels, offset)
                print_stream(str(path), hops, args.json)
                continue
            waveform = load_audio(path)
        except AudioDecodeError as error:
            errors.append((str(path), error.reason))
            continue
        result = {"file": str(path), "duration_s": round(waveform.size / SAMPLING_RATE, 3)}
        if getattr(scorer, "trim_silence", False):  # as the model heard its training clips
            waveform = trim_silence(waveform)
        yield result, waveform


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
