"""Classify audio files or folders with a saved model (a LiteCNN student, a teacher, or a hub repo id).

    python predict.py ./student clip.wav recordings/          # a table
    python predict.py org/litecnn-cremad clip.flac --json      # JSON lines

Any sampling rate and channel count: clips are decoded and resampled by `data.audio.load_audio`, then handed to
`pipeline("audio-classification")` as 16 kHz arrays (a path would need ffmpeg, another rate torchaudio). A clip
longer than the model's evaluation window (`training_data` in its config: 1 s for the paper's recipe) is cut into
consecutive windows of that length; the emotion probabilities of the windows are averaged. An unreadable file is
reported and the others are still classified (exit status 1 if any file failed).

`--speaker_from filename|folder|manifest` adapts the scores to each speaker (see `speaker_adaptation.py`): each
speaker's mean log-probability of every emotion, over the clips given here, is subtracted. It assumes a speaker's
clips are not all one emotion and needs several clips per speaker; it is never on unless asked for.

    python predict.py ./student calls/ --speaker_from folder          # one folder per speaker
    python predict.py ./student clips/ --speaker_from manifest --speaker_manifest speakers.csv   # path,speaker
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from transformers import pipeline

import modeling_litecnn  # noqa: F401  (registers LiteCNN for folders saved without remote code)
from data.audio import SAMPLING_RATE, AudioDecodeError, load_audio, windows
from speaker_adaptation import (
    MIN_CLIPS_PER_SPEAKER,
    SPEAKER_SOURCES,
    centre_log_probabilities,
    read_manifest,
    speaker_of,
)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")
DEFAULT_WINDOW_S = 1.0


def expand_paths(paths: list[str]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files as given, folders as their audio files (recursively, sorted); missing paths as errors."""
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


def classify(classifier, waveform: np.ndarray, window: int) -> dict:
    """Mean probability of each emotion over the clip's windows, in the model's label order."""
    chunks = windows(waveform, window)
    per_window = classifier([{"raw": chunk, "sampling_rate": SAMPLING_RATE} for chunk in chunks], top_k=None)
    per_window = [{entry["label"]: entry["score"] for entry in result} for result in per_window]
    id2label = classifier.model.config.id2label
    scores = {
        id2label[i]: float(np.mean([result[id2label[i]] for result in per_window])) for i in range(len(id2label))
    }
    best = max(scores, key=scores.get)
    return {"label": best, "score": scores[best], "scores": scores, "windows": len(chunks)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a saved model folder or a hub repo id")
    parser.add_argument("paths", nargs="+", help="audio files or folders")
    parser.add_argument("--json", action="store_true", help="one JSON object per file instead of a table")
    parser.add_argument("--window_s", type=float, default=None, help="window length (default: the training window)")
    parser.add_argument("--batch_size", type=int, default=16, help="windows per forward pass")
    parser.add_argument(
        "--speaker_from",
        choices=SPEAKER_SOURCES,
        help="adapt scores to each speaker, whose clips are found by: the file name's first _ field (CREMA-D's "
        "actor id), the clip's folder, or --speaker_manifest. Assumes a speaker's clips are not all one emotion.",
    )
    parser.add_argument("--speaker_manifest", help="CSV with path,speaker columns (paths relative to the CSV)")
    args = parser.parse_args(argv)
    try:
        manifest = read_manifest(args.speaker_manifest) if args.speaker_manifest else None
        if args.speaker_from == "manifest" and manifest is None:
            raise ValueError("--speaker_from manifest needs --speaker_manifest CSV")
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    try:
        classifier = pipeline(
            "audio-classification", model=args.model, trust_remote_code=True, batch_size=args.batch_size
        )
    except (OSError, ValueError) as error:
        print(f"error: cannot load the model {args.model!r}: {str(error).splitlines()[0]}", file=sys.stderr)
        return 2
    record = getattr(classifier.model.config, "training_data", None) or {}
    window_s = args.window_s or record.get("eval_max_duration_s") or record.get("max_duration_s", DEFAULT_WINDOW_S)
    window = int(round(window_s * SAMPLING_RATE))

    files, errors = expand_paths(args.paths)
    results = []
    for path in files:
        try:
            waveform = load_audio(path)
        except AudioDecodeError as error:
            errors.append((str(path), error.reason))
            continue
        results.append(
            {
                "file": str(path),
                "duration_s": round(waveform.size / SAMPLING_RATE, 3),
                **classify(classifier, waveform, window),
            }
        )

    if args.speaker_from and results:
        try:
            adapt_to_speakers(results, args.speaker_from, manifest)
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2

    if args.json:
        for result in results:
            print(json.dumps(result))
        for name, reason in errors:
            print(json.dumps({"file": name, "error": reason}))
    else:
        print_table(results, window_s)
    for name, reason in errors:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    return 1 if errors else 0


def adapt_to_speakers(results: list[dict], source: str, manifest: dict[str, str] | None) -> None:
    """Replaces each result's scores by its speaker-centred scores (softmax of the centred log-probabilities)."""
    speakers = [speaker_of(result["file"], source, manifest) for result in results]
    labels = list(results[0]["scores"])
    log_probs = np.log(np.clip([[r["scores"][label] for label in labels] for r in results], 1e-12, 1.0))
    centred = centre_log_probabilities(log_probs, speakers)
    adapted = np.exp(centred - np.logaddexp.reduce(centred, axis=-1, keepdims=True))
    counts = Counter(speakers)
    for result, speaker, scores in zip(results, speakers, adapted):
        result["scores"] = {label: float(score) for label, score in zip(labels, scores)}
        result["label"] = max(result["scores"], key=result["scores"].get)
        result["score"] = result["scores"][result["label"]]
        result["speaker"] = speaker
        result["speaker_adapted"] = counts[speaker] >= MIN_CLIPS_PER_SPEAKER
    alone = sorted(speaker for speaker, count in counts.items() if count < MIN_CLIPS_PER_SPEAKER)
    if alone:
        print(f"not adapted (one clip only): speaker(s) {', '.join(alone)}", file=sys.stderr)


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


if __name__ == "__main__":
    sys.exit(main())
