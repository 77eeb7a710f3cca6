"""Classify audio files or folders with a saved model (a LiteCNN student, a teacher, or a hub repo id).

    python predict.py clip.wav recordings/                     # the shipped model (models/litecnn-ser), a table
    python predict.py --model ./student clip.wav recordings/   # another model
    python predict.py org/litecnn-cremad clip.flac --json      # JSON lines (the model first still works)
    python predict.py ./student call.flac --stream --hop_s 0.5   # a long recording: one result per hop, with its time

Without `--model`, the first of two or more positionals is the model when it is a folder holding config.json, or
a name that does not exist and has no audio file extension (a hub id `org/name`, or a missing model folder, then
reported as such); otherwise every positional is audio and the shipped model classifies it.

Any sampling rate and channel count: clips are decoded and resampled by `data.audio.load_audio`, then handed to
`pipeline("audio-classification")` as 16 kHz arrays (a path would need ffmpeg, another rate torchaudio). A clip
longer than the model's evaluation window (`training_data` in its config: 1 s for the paper's recipe) is cut into
consecutive windows of that length; the emotion probabilities of the windows are averaged. An unreadable file is
reported and the others are still classified (exit status 1 if any file failed). `--stream` reads a file block by
block and slides the window over it (memory bounded whatever the length); the same code as the torch-free
`python -m litecnn_ser.onnx_runtime`, which gives the same probabilities from an exported model.

`--speaker_from filename|folder|manifest` adapts the scores to each speaker (see `litecnn_ser/speaker_adaptation.py`): each
speaker's mean log-probability of every emotion, over the clips given here, is subtracted. It assumes a speaker's
clips are not all one emotion and needs several clips per speaker; it is never on unless asked for.

    python predict.py ./student calls/ --speaker_from folder          # one folder per speaker
    python predict.py ./student clips/ --speaker_from manifest --speaker_manifest speakers.csv   # path,speaker

Two adaptations to a new recording setup use all the given files (unlabelled), never unless asked for; both assume
the files come from one setup and together hold a mix of emotions, and both need at least 2 files, not --stream:

- `--adapt_batch_norm` (AdaBN, `litecnn_ser/adaptation.py`): before any file is classified, the batch-norm
  statistics of the model in memory are re-estimated on every window of every file, as the model hears them
  (trimmed when it was trained so, normalised by its feature extractor); the saved model is not touched.
- `--adapt_recording`: each emotion's mean log-probability over the files is subtracted from every file's (each
  file's mean over its windows), as speaker adaptation does per speaker; the same code as the ONNX runtime's.

    python predict.py ./student new_room/ --adapt_batch_norm --json   # each result says "adaptation": "batch_norm"

`--adapt_recording --save_calibration setup.json` also writes what the centring subtracted; `--calibration
setup.json` applies it to clips recorded later on that setup, one file (or, with --stream, one hop) at a time:

    python predict.py first_five/ --adapt_recording --save_calibration phone.json   # a few clips, mixed emotions
    python predict.py later.wav --calibration phone.json                             # "adaptation": "calibration"
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

import numpy as np
from transformers import pipeline

import modeling_litecnn  # noqa: F401  (registers LiteCNN for folders saved without remote code)
from data.audio import SAMPLING_RATE
from litecnn_ser.adaptation import ADAPTATION_ASSUMPTION
from litecnn_ser.loading import SHIPPED_MODEL, model_error, names_a_model
from litecnn_ser.reporting import (
    ADAPTED_NOTE,
    classify_paths,
    parse_classify_arguments,
    print_results,
)
from litecnn_ser.scoring import (
    AdaptationError,
    classify_windows,
    config_labels,
    log_normalised,
    model_windows,
    rescore,
)
from litecnn_ser.speaker_adaptation import (
    MIN_CLIPS_PER_SPEAKER,
    SPEAKER_SOURCES,
    centre_log_probabilities,
    read_manifest,
    speaker_of,
)


class PipelineScorer:
    """`pipeline("audio-classification")` as a scorer of `litecnn_ser.scoring`: labels and per-clip probabilities."""

    def __init__(self, classifier):
        self.classifier = classifier
        config = classifier.model.config
        self.labels = config_labels(config)
        self.trim_silence = bool((getattr(config, "training_data", None) or {}).get("trim_silence"))

    def probabilities(self, clips: list[np.ndarray]) -> np.ndarray:
        results = self.classifier([{"raw": clip, "sampling_rate": SAMPLING_RATE} for clip in clips], top_k=None)
        results = [{entry["label"]: entry["score"] for entry in result} for result in results]
        return np.array([[result[label] for label in self.labels] for result in results])


def classify(classifier, waveform: np.ndarray, window: int) -> dict:
    """Mean probability of each emotion over the clip's windows, in the model's label order."""
    return classify_windows(PipelineScorer(classifier), waveform, window)


MODEL_RULE = (
    "Without --model, the first of two or more positionals is the model when it is a folder holding config.json, "
    "or a name that does not exist and has no audio file extension (a hub id org/name, or a missing model folder, "
    "then reported as such); otherwise every positional is audio and the shipped model classifies it. A model "
    "starting with . / ~, ending with a separator or with more than one separator is a local folder, never a hub id."
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=MODEL_RULE)
    parser.add_argument(
        "--model", help=f"a saved model folder or a hub repo id (default: the shipped model, {SHIPPED_MODEL})"
    )
    parser.add_argument("paths", nargs="+", metavar="[MODEL] PATH", help="audio files or folders (MODEL: see below)")
    parser.add_argument("--json", action="store_true", help="one JSON object per file instead of a table")
    parser.add_argument("--batch_size", type=int, default=16, help="windows per forward pass")
    parser.add_argument(
        "--speaker_from",
        choices=SPEAKER_SOURCES,
        help="adapt scores to each speaker, whose clips are found by: the file name's first _ field (CREMA-D's "
        "actor id), the clip's folder, or --speaker_manifest. Assumes a speaker's clips are not all one emotion.",
    )
    parser.add_argument("--speaker_manifest", help="CSV with path,speaker columns (paths relative to the CSV)")
    parser.add_argument(
        "--adapt_batch_norm",
        action="store_true",
        help="before classifying, re-estimate the model's batch-norm statistics on every window of every given "
        "file (AdaBN; the model in memory only, the saved files untouched). Needs at least 2 files; not with "
        f"--stream. {ADAPTATION_ASSUMPTION}",
    )
    args, problem = parse_classify_arguments(parser, argv)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    if args.model is None:
        args.model = args.paths.pop(0) if len(args.paths) > 1 and names_a_model(args.paths[0]) else str(SHIPPED_MODEL)
    if args.stream and args.speaker_from:
        parser.error("--speaker_from needs every clip's scores first; it does not combine with --stream")
    try:
        manifest = read_manifest(args.speaker_manifest) if args.speaker_manifest else None
        if args.speaker_from == "manifest" and manifest is None:
            raise ValueError("--speaker_from manifest needs --speaker_manifest CSV")
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    problem = model_error(args.model)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        classifier = pipeline(
            "audio-classification", model=args.model, trust_remote_code=True, batch_size=args.batch_size
        )
    except (OSError, ValueError) as error:
        print(f"error: cannot load the model {args.model!r}: {str(error).splitlines()[0]}", file=sys.stderr)
        return 2
    record = getattr(classifier.model.config, "training_data", None) or {}
    window_s, stream_window_s = model_windows(record)
    before_scoring = None
    if args.adapt_batch_norm:

        def before_scoring(clips: list[list[np.ndarray]]) -> str:
            return adapt_pipeline_batch_norm(classifier, clips, args.batch_size)

    try:
        results, errors = classify_paths(PipelineScorer(classifier), args, window_s, stream_window_s, before_scoring)
    except AdaptationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    if args.speaker_from and results:
        try:
            adapt_to_speakers(results, args.speaker_from, manifest)
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2

    return print_results(results, errors, args, window_s)


def adapt_pipeline_batch_norm(classifier, clips: list[list[np.ndarray]], batch_size: int = 16) -> str:
    """Replaces the pipeline's model (in memory) by a copy whose batch-norm statistics are those of every window
    of `clips` (a list of windows per file), normalised by the pipeline's feature extractor as it normalises what
    it classifies; the saved model is untouched. Returns the adaptation's name for the results."""
    from torch import nn

    from litecnn_ser.adaptation import adapt_batch_norm

    windows = [window for file in clips for window in file]
    if len(clips) < 2 or len(windows) < 2:
        raise AdaptationError(
            f"--adapt_batch_norm needs at least 2 files of one recording setup (got {len(clips)} readable file(s), "
            f"{len(windows)} window(s))"
        )
    if not any(isinstance(module, nn.modules.batchnorm._BatchNorm) for module in classifier.model.modules()):
        raise AdaptationError(f"--adapt_batch_norm: {type(classifier.model).__name__} has no batch-norm layer")
    extractor = classifier.feature_extractor
    inputs = [np.asarray(extractor(w, sampling_rate=SAMPLING_RATE)["input_values"][0]) for w in windows]
    classifier.model = adapt_batch_norm(classifier.model, inputs, batch_size)
    print(
        f"adapted batch-norm statistics on {len(windows)} windows of {len(clips)} files (AdaBN): {ADAPTED_NOTE}",
        file=sys.stderr,
    )
    return "batch_norm"


def adapt_to_speakers(results: list[dict], source: str, manifest: dict[str, str] | None) -> None:
    """Replaces each result's scores by its speaker-centred scores (softmax of the centred log-probabilities); an
    adapted result says `"adaptation": "speaker"` (after any other adaptation, e.g. `"batch_norm+speaker"`), and
    `speaker_adapted` whether its speaker had enough clips to be centred."""
    speakers = [speaker_of(result["file"], source, manifest) for result in results]
    labels = list(results[0]["scores"])
    log_probs = np.log(np.clip([[r["scores"][label] for label in labels] for r in results], 1e-12, 1.0))
    centred = centre_log_probabilities(log_probs, speakers)
    adapted = np.exp(log_normalised(centred))
    counts = Counter(speakers)
    for result, speaker, scores in zip(results, speakers, adapted):
        result["speaker"] = speaker
        result["speaker_adapted"] = counts[speaker] >= MIN_CLIPS_PER_SPEAKER
        if result["speaker_adapted"]:
            rescore(result, labels, scores, "speaker")
    alone = sorted(speaker for speaker, count in counts.items() if count < MIN_CLIPS_PER_SPEAKER)
    if alone:
        print(f"not adapted (one clip only): speaker(s) {', '.join(alone)}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
