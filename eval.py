"""Score a saved model on a folder of CREMA-D, RAVDESS, SAVEE or TESS clips: accuracy, UAR, macro-F1, confusion.

    python eval.py CREMA-D/AudioWAV                                   # the shipped model (models/litecnn-ser)
    python eval.py ./student CREMA-D/AudioWAV                          # every clip of the folder
    python eval.py ./student CREMA-D/AudioWAV --subset validation      # the clips the model was validated on
    python eval.py ./student CREMA-D/AudioWAV --speaker_adaptation --output_dir eval/student --json
    python eval.py ./teacher-compare-svm CREMA-D/AudioWAV --subset validation   # classical teachers too
    python eval.py ./student RAVDESS/ --speaker_adaptation      # another corpus (found from its file names)

MODEL is a student or teacher folder (LiteCNN, any transformers audio classifier, a classical teacher) or a hub
id, given first or as `--model`; without it, the shipped model (`models/litecnn-ser`, `make model`).
The corpus is recognised from the file names (`--corpus` to say it; layouts in `data/corpora.py`); emotions
outside the six (RAVDESS calm, surprise) are left out and counted. Clips are scored as the model was evaluated in training: the first `eval_max_duration_s` seconds recorded in
its config (whole clips for a LiteCNN trained with `--eval_max_duration_s 6`), or whole clips for a classical
teacher. Bad clips are reported by name and the others scored (the folder is prepared like a training folder).

`--speaker_adaptation` also reports the scores centred per speaker (the speaker is the actor or speaker of the file name):
each speaker's mean log-probability of every emotion is subtracted, using that speaker's other clips (unlabelled).
It assumes a speaker's clips are not all one emotion, and its numbers are not one-clip numbers.
`--adapt_recording` also reports the scores centred over every scored clip (one recording setup, speakers unknown),
what `predict.py --adapt_recording` and the ONNX runtime do; `--adapt_batch_norm` re-estimates a LiteCNN's
batch-norm statistics on the scored clips first (AdaBN). Neither gives one-clip numbers either.
(Not `evaluate.py`: that would shadow the Hugging Face package of that name.)
"""

from __future__ import annotations

import argparse
import json
import sys

from data.sources import KINDS
from litecnn_ser.adaptation import ADAPTATION_ASSUMPTION
from litecnn_ser.evaluation import HEADLINE, SUBSETS, EvaluationError, evaluate
from litecnn_ser.loading import SHIPPED_MODEL, model_error
from litecnn_ser.scoring import RECORDING_ASSUMPTION


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], usage="%(prog)s [MODEL] DATA_DIR [--model MODEL] [options]"
    )
    parser.add_argument(
        "positionals",
        nargs="+",
        metavar="[MODEL] DATA_DIR",
        help="MODEL: a student or teacher folder, or a hub repo id (default: the shipped model); DATA_DIR: a folder "
        "of CREMA-D, RAVDESS, SAVEE or TESS clips, as distributed",
    )
    parser.add_argument("--model", help=f"the model, instead of the first positional (default: {SHIPPED_MODEL})")
    parser.add_argument("--corpus", choices=KINDS, help="what the folder is (default: found from its content)")
    parser.add_argument("--subset", choices=SUBSETS, default="all", help="every clip, or the model's validation clips")
    parser.add_argument("--speaker_adaptation", action="store_true", help="also score with per-speaker centring")
    parser.add_argument(
        "--adapt_batch_norm",
        action="store_true",
        help="re-estimate a LiteCNN's batch-norm statistics on the scored clips first (AdaBN): "
        + ADAPTATION_ASSUMPTION,
    )
    parser.add_argument(
        "--adapt_recording",
        action="store_true",
        help="also score with the log-probabilities centred over every scored clip, as predict.py and the ONNX "
        "runtime's --adapt_recording do: " + RECORDING_ASSUMPTION,
    )
    parser.add_argument("--output_dir", help="write eval_results.json and the confusion matrix (JSON, PNG) here")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    parser.add_argument("--batch_size", type=int, default=16, help="clips per forward pass")
    parser.add_argument("--dataset_cache_dir", help="where the decoded-audio cache lives (default: datasets')")
    args = parser.parse_args(argv)
    if len(args.positionals) > 2 or (len(args.positionals) == 2 and args.model):
        parser.error("give MODEL DATA_DIR, or DATA_DIR with or without --model")
    args.data_dir = args.positionals[-1]
    args.model = args.positionals[0] if len(args.positionals) == 2 else args.model or str(SHIPPED_MODEL)
    problem = model_error(args.model)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2

    try:
        results = evaluate(
            args.model,
            args.data_dir,
            corpus=args.corpus,
            subset=args.subset,
            speaker_adaptation=args.speaker_adaptation,
            batch_size=args.batch_size,
            dataset_cache_dir=args.dataset_cache_dir,
            output_dir=args.output_dir,
            adapt_batch_norm=args.adapt_batch_norm,
            adapt_recording=args.adapt_recording,
        )
    except EvaluationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    if args.json:
        print(json.dumps(results))
    else:
        print_summary(results)
    if results.get("warning"):
        print(f"warning: {results['warning']}", file=sys.stderr)
    print_skipped(results["skipped"])
    return 0


def print_skipped(skipped: list[dict], shown: int = 3) -> None:
    """The files left out, on stderr, one line per reason: a lone file by name; several counted, the first `shown`
    named (`--json` and `--output_dir`'s eval_results.json list every one)."""
    by_reason: dict[str, list[str]] = {}
    for item in skipped:
        by_reason.setdefault(item["reason"], []).append(item["file"])
    for reason, files in by_reason.items():
        if len(files) == 1:
            print(f"skipped {files[0]}: {reason}", file=sys.stderr)
            continue
        names = ", ".join(files[:shown])
        if len(files) > shown:
            names += f" and {len(files) - shown} more (--json or --output_dir lists every file)"
        print(f"skipped {len(files)} files: {reason}: {names}", file=sys.stderr)


def print_summary(results: dict) -> None:
    print(f"{results['model']} on {results['data_dir']} ({results['subset']}, {results['heard']})")
    rows = [("as is", results["metrics"])]
    if "speaker_adapted" in results:
        rows.append(("speaker-adapted", results["speaker_adapted"]))
    if "recording_adapted" in results:
        rows.append(("recording-adapted", results["recording_adapted"]))
    print(f"{'':<17} {'clips':>5} " + " ".join(f"{name:>8}" for name in HEADLINE))
    for title, metrics in rows:
        print(f"{title:<17} {metrics['num_clips']:>5} " + " ".join(f"{metrics[name]:>8.3f}" for name in HEADLINE))
    recalls = {k.removeprefix("recall_"): v for k, v in results["metrics"].items() if k.startswith("recall_")}
    print("recall per class: " + ", ".join(f"{name} {value:.2f}" for name, value in recalls.items()))


if __name__ == "__main__":
    sys.exit(main())
