"""Score a saved model on a folder of CREMA-D, RAVDESS, SAVEE or TESS clips: accuracy, UAR, macro-F1, confusion.

    python eval.py ./student CREMA-D/AudioWAV                          # every clip of the folder
    python eval.py ./student CREMA-D/AudioWAV --subset validation      # the clips the model was validated on
    python eval.py ./student CREMA-D/AudioWAV --speaker_adaptation --output_dir eval/student --json
    python eval.py ./teacher-compare-svm CREMA-D/AudioWAV --subset validation   # classical teachers too
    python eval.py ./student RAVDESS/ --speaker_adaptation      # another corpus (found from its file names)

MODEL is a student or teacher folder (LiteCNN, any transformers audio classifier, a classical teacher) or a hub
id. The corpus is recognised from the file names (`--corpus` to say it; layouts in `data/corpora.py`); emotions
outside the six (RAVDESS calm, surprise) are left out and counted. Clips are scored as the model was evaluated in training: the first `eval_max_duration_s` seconds recorded in
its config (whole clips for a LiteCNN trained with `--eval_max_duration_s 6`), or whole clips for a classical
teacher. Bad clips are reported by name and the others scored (the folder is prepared like a training folder).

`--speaker_adaptation` also reports the scores centred per speaker (the speaker is the actor or speaker of the file name):
each speaker's mean log-probability of every emotion is subtracted, using that speaker's other clips (unlabelled).
It assumes a speaker's clips are not all one emotion, and its numbers are not one-clip numbers.
(Not `evaluate.py`: that would shadow the Hugging Face package of that name.)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from data.cremad import CremaDError, split_cremad
from data.sources import KINDS, load_sources
from data.views import View
from litecnn_ser.metrics import metrics_from_logits, save_confusion_matrix
from litecnn_ser.speaker_adaptation import centre_log_probabilities
from litecnn_ser.splits import TRAINING_DATA_KEY

SUBSETS = ("all", "validation")
HEADLINE = ("accuracy", "uar", "macro_f1")


def load_scorer(model_id: str, batch_size: int):
    """(dataset -> logits, labels, the model's training-data record, how it hears the clips) for any kind of model.

    A model's scorer also takes a `View` of the clips (default: as it was evaluated in training); a classical
    teacher's takes none (it hears whole clips)."""
    from litecnn_ser.feature_teacher import FeatureTeacher, is_feature_teacher

    if is_feature_teacher(model_id):
        teacher = FeatureTeacher.from_pretrained(model_id)
        heard = "whole clips, openSMILE functionals"
        if teacher.speaker_normalization:
            heard += ", features standardised per speaker (uses each speaker's other clips)"
        return teacher.logits, teacher.labels, teacher.config.get("training_data") or {}, heard

    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

    import modeling_litecnn  # noqa: F401  (LiteCNN folders saved without remote code)
    from litecnn_ser.teachers import compute_model_logits

    model = AutoModelForAudioClassification.from_pretrained(model_id, trust_remote_code=True).eval()
    feature_extractor = AutoFeatureExtractor.from_pretrained(model_id)
    record = getattr(model.config, TRAINING_DATA_KEY, None) or {}
    window = record.get("eval_max_duration_s") or record.get("max_duration_s")

    def score(dataset, view: View | None = None):
        return compute_model_logits(model, feature_extractor, dataset, view or View(1.0, 0.0, window), batch_size)

    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    return score, labels, record, f"first {window:g} s of each clip" if window else "whole clips"


def select_subset(corpus, subset: str, record: dict, model_id: str, data_dir: str):
    if subset == "all":
        return corpus
    if not record.get("split"):
        raise SystemExit(f"error: --subset validation: {model_id} does not record the split it was trained on")
    same_data = record.get("data_dir") == str(Path(data_dir).resolve())
    if "corpus" in corpus.column_names and not same_data:  # CREMA-D may have moved; other data must be the same
        raise SystemExit(
            f"error: --subset validation: {model_id} was validated on {record.get('data_dir')}, not on {data_dir}"
        )
    splits = split_cremad(corpus, record["split"], record["test_size"], record["seed"])
    return splits["validation"]


def report(logits: np.ndarray, labels: np.ndarray, names: list[str]) -> dict:
    return {"num_clips": int(len(labels)), **metrics_from_logits(logits, labels, names)}


def to_model_labels(dataset, names: list[str], model_id: str) -> np.ndarray:
    """The clips' labels as the model's class indices (the data may hold fewer of the model's labels, not others)."""
    data_names = dataset.features["label"].names
    unknown = [name for name in data_names if name not in names]
    if unknown:
        raise SystemExit(f"error: {model_id} predicts {names}; the data's labels {unknown} are not among them")
    return np.array([names.index(name) for name in data_names])[np.asarray(dataset["label"], dtype=int)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a student or teacher folder, or a hub repo id")
    parser.add_argument("data_dir", help="a folder of CREMA-D, RAVDESS, SAVEE or TESS clips, as distributed")
    parser.add_argument("--corpus", choices=KINDS, help="what the folder is (default: found from its content)")
    parser.add_argument("--subset", choices=SUBSETS, default="all", help="every clip, or the model's validation clips")
    parser.add_argument("--speaker_adaptation", action="store_true", help="also score with per-speaker centring")
    parser.add_argument("--output_dir", help="write eval_results.json and the confusion matrix (JSON, PNG) here")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    parser.add_argument("--batch_size", type=int, default=16, help="clips per forward pass")
    parser.add_argument("--dataset_cache_dir", help="where the decoded-audio cache lives (default: datasets')")
    args = parser.parse_args(argv)

    try:
        spec = f"{args.corpus}={args.data_dir}" if args.corpus else args.data_dir
        corpus, reports = load_sources([spec], args.dataset_cache_dir)
        preparation = reports[spec]
    except (FileNotFoundError, CremaDError) as error:
        print(f"error: {args.data_dir}: {error}", file=sys.stderr)
        return 2
    try:
        score, names, record, heard = load_scorer(args.model, args.batch_size)
    except (OSError, ValueError) as error:
        print(f"error: cannot load the model {args.model!r}: {str(error).splitlines()[0]}", file=sys.stderr)
        return 2
    dataset = select_subset(corpus, args.subset, record, args.model, args.data_dir)
    labels = to_model_labels(dataset, names, args.model)
    logits = score(dataset)

    results = {
        "model": args.model,
        "data_dir": str(Path(args.data_dir).resolve()),
        "subset": args.subset,
        "heard": heard,
        "corpus": dataset[0]["corpus"] if "corpus" in dataset.column_names else "cremad",
        "class_balance": {name: int(np.sum(labels == index)) for index, name in enumerate(names)},
        "skipped": [{"file": name, "reason": reason} for name, reason in preparation.skipped],
        "metrics": report(logits, labels, names),
    }
    if args.speaker_adaptation:
        if None in list(dataset["actor_id"]):
            raise SystemExit(f"error: --speaker_adaptation: {args.data_dir} does not say who speaks each clip")
        adapted = centre_log_probabilities(logits, dataset["actor_id"])
        results["speaker_adapted"] = report(adapted, labels, names)
        results["speaker_adaptation"] = "log-probabilities centred per actor (file name), unlabelled clips"
    if args.output_dir:
        output = Path(args.output_dir)
        output.mkdir(parents=True, exist_ok=True)
        (output / "eval_results.json").write_text(json.dumps(results, indent=1))
        save_confusion_matrix(labels, logits.argmax(-1), names, output)
        if args.speaker_adaptation:
            save_confusion_matrix(labels, adapted.argmax(-1), names, output / "speaker_adapted")

    if args.json:
        print(json.dumps(results))
    else:
        print_summary(results)
    for item in results["skipped"]:
        print(f"skipped {item['file']}: {item['reason']}", file=sys.stderr)
    return 0


def print_summary(results: dict) -> None:
    print(f"{results['model']} on {results['data_dir']} ({results['subset']}, {results['heard']})")
    rows = [("as is", results["metrics"])]
    if "speaker_adapted" in results:
        rows.append(("speaker-adapted", results["speaker_adapted"]))
    print(f"{'':<16} {'clips':>5} " + " ".join(f"{name:>8}" for name in HEADLINE))
    for title, metrics in rows:
        print(f"{title:<16} {metrics['num_clips']:>5} " + " ".join(f"{metrics[name]:>8.3f}" for name in HEADLINE))
    recalls = {k.removeprefix("recall_"): v for k, v in results["metrics"].items() if k.startswith("recall_")}
    print("recall per class: " + ", ".join(f"{name} {value:.2f}" for name, value in recalls.items()))


if __name__ == "__main__":
    sys.exit(main())
