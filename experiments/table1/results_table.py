"""The README's Results table, from experiments/results/*/all_results.json (written by
experiments/table1/table1.sh and beyond.sh).

python experiments/table1/results_table.py            # prints Markdown
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from litecnn_ser.model_card import PAPER  # one place for the paper's numbers

RESULTS = Path(__file__).resolve().parents[1] / "results"
ROWS = [  # (run name, what it is, the paper's number for it: its protocol is the stratified split)
    ("scratch_stratified", "LiteCNN from scratch", "scratch"),
    ("teacher_stratified", "teacher (LiteCNN on 2.5 s; the paper's: wav2vec2-large)", "teacher"),
    ("distilled_stratified", "LiteCNN distilled", "distilled"),
    ("scratch_speaker", "LiteCNN from scratch", None),
    ("teacher_speaker", "teacher (LiteCNN on 2.5 s)", None),
    ("distilled_speaker", "LiteCNN distilled", None),
    ("scratch_speaker_crops", "LiteCNN from scratch, random crops, whole-clip eval", None),
    ("distilled_speaker_crops", "LiteCNN distilled, random crops, whole-clip eval", None),
]


def main() -> None:
    lines = [
        "| split | model | accuracy | UAR | macro-F1 | paper (accuracy) | epochs | wall time |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, what, paper in ROWS:
        path = RESULTS / name / "all_results.json"
        if not path.is_file():
            continue
        metrics = json.loads(path.read_text())
        run = json.loads((RESULTS / name / "run.json").read_text())
        split = name.split("_")[1]
        lines.append(
            f"| {split} | {what} | {metrics['eval_accuracy']:.3f} | {metrics['eval_uar']:.3f} | "
            f"{metrics['eval_macro_f1']:.3f} | {PAPER[paper] if paper else ''} | {metrics.get('epoch', 0):.0f} | "
            f"{run['wall_time_s'] / 60:.0f} min |"
        )
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
