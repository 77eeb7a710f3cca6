"""Cross-corpus table: each model scored on each corpus, as is and with per-speaker adaptation, by eval.py's
`litecnn_ser.evaluation.evaluate`.

    python experiments/cross_corpus/cross_corpus.py --models runs/student runs/t_egemaps_svm_spk \
        --corpora cremad=../shared/datasets/crema-d/AudioFLAC ravdess=RAVDESS/ savee=SAVEE/ tess=TESS/

Rows: "trained on X" (the corpus recorded in the model's training data: `cremad` for every real model this
project trains today, `synthetic` for the test corpus), "tested on Y", accuracy and UAR, as is and speaker-adapted
(each speaker's mean log-probability removed, using that speaker's other clips: not a one-clip number), and the
test set's class balance (chance is 1/6 only on a balanced set). On its own training corpus a model is scored on
every clip, its training clips included: use `eval.py --subset validation` for its held-out number.
Writes experiments/results/cross_corpus.json and prints Markdown.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from data.corpora import CORPORA
from litecnn_ser.evaluation import EvaluationError, evaluate

RESULTS = Path(__file__).resolve().parents[1] / "results"


def parse_corpora(items: list[str]) -> dict[str, str]:
    corpora = {}
    for item in items:
        name, _, folder = item.partition("=")
        if name not in CORPORA or not folder:
            raise SystemExit(f"error: --corpora {item!r}: expected NAME=FOLDER with NAME one of {', '.join(CORPORA)}")
        corpora[name] = folder
    return corpora


def trained_on(model: str) -> str:
    """The corpus a model records in its training data (every model trained here so far: CREMA-D)."""
    for name in ("config.json", "teacher_config.json"):
        path = Path(model) / name
        if path.is_file():
            record = json.loads(path.read_text()).get("training_data") or {}
            return record.get("corpus", "cremad")
    return "unknown"


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", required=True, help="student or teacher folders (or hub ids)")
    parser.add_argument("--corpora", nargs="+", required=True, help="NAME=FOLDER pairs, NAME in " + ", ".join(CORPORA))
    parser.add_argument("--dataset_cache_dir", help="where the decoded-audio caches live (default: datasets')")
    parser.add_argument("--output", default=str(RESULTS / "cross_corpus.json"))
    args = parser.parse_args(argv)
    corpora = parse_corpora(args.corpora)

    rows = []
    for model in args.models:
        for corpus, folder in corpora.items():
            command = [model, folder, "--corpus", corpus, "--speaker_adaptation", "--json"]
            command += ["--dataset_cache_dir", args.dataset_cache_dir] if args.dataset_cache_dir else []
            try:
                result = evaluate(
                    model,
                    folder,
                    corpus=corpus,
                    speaker_adaptation=True,
                    dataset_cache_dir=args.dataset_cache_dir,
                )
            except EvaluationError as error:
                raise SystemExit(f"error: python eval.py {' '.join(command)} failed: {error}") from None
            rows.append(
                {
                    "model": model,
                    "trained_on": trained_on(model),
                    "tested_on": corpus,
                    "clips": result["metrics"]["num_clips"],
                    "class_balance": result["class_balance"],
                    "left_out": sum("left out" in item["reason"] for item in result["skipped"]),
                    "accuracy": result["metrics"]["accuracy"],
                    "uar": result["metrics"]["uar"],
                    "adapted_accuracy": result["speaker_adapted"]["accuracy"],
                    "adapted_uar": result["speaker_adapted"]["uar"],
                    "command": "python eval.py " + " ".join(command),
                }
            )
    print(
        "| model | trained on | tested on | clips (left out) | accuracy | UAR | accuracy, speaker-adapted | UAR, speaker-adapted | smallest / largest class |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        balance = row["class_balance"].values()
        print(
            f"| {row['model']} | {row['trained_on']} | {row['tested_on']} | {row['clips']} ({row['left_out']}) | "
            f"{row['accuracy']:.3f} | {row['uar']:.3f} | {row['adapted_accuracy']:.3f} | {row['adapted_uar']:.3f} | "
            f"{min(balance)} / {max(balance)} |"
        )
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
