"""Classifying files and folders from a command line: the streaming flags, one result per file (or per hop), and
the results as a table or JSON lines. Shared by `predict.py` and `python -m litecnn_ser.onnx_runtime`; no torch.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable

from data.audio import SAMPLING_RATE, AudioDecodeError, expand_paths, load_audio, stream_audio
from litecnn_ser.scoring import classify_windows, stream_results
from litecnn_ser.vad import trim_silence


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
        if getattr(scorer, "trim_silence", False):  # as the model heard its training clips
            waveform = trim_silence(waveform)
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
