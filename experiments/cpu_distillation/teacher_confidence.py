"""How right and how confident classical teachers are on their own training clips: in-sample vs out-of-fold logits.

The out-of-fold accuracy on the training clips is how often the student's soft labels name the acted emotion (the
0.605 ensemble's: 56.1%). It is not the student's ceiling: the 7-block students of "Distillation on a CPU" score
0.561 on the validation actors from it, 0.573 with the feature hint (0.570 with the hint and no teacher), and
soft labels right on 62.0% (the per-speaker teacher's) gave them nothing more.

python experiments/cpu_distillation/teacher_confidence.py [DATA_DIR]   # after cpu_distillation.sh trained the teachers
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from data.cremad import prepare_cremad, split_cremad
from litecnn_ser.feature_teacher import FeatureTeacher
from litecnn_ser.teachers import ensemble_logits

TEACHERS = ("t_compare_mlp_spk", "t_compare_mlp", "t_egemaps_svm_spk", "t_egemaps_svm")
# the 0.605 ensemble (no speaker statistics) that the students of the README distil, combined as train_student.py does
ENSEMBLE = ("t_compare_mlp", "t_compare_mlp_oof_seed1", "t_compare_mlp_oof_seed2", "t_egemaps_svm")


def _report(name: str, source: str, logits: np.ndarray, labels: np.ndarray) -> None:
    right = np.mean(logits.argmax(-1) == labels)
    print(f"{name} {source}: right on {right:.1%}, mean top probability {np.exp(logits).max(-1).mean():.2f}")


def main() -> None:
    data_dir = sys.argv[1] if len(sys.argv) > 1 else "../shared/datasets/crema-d/AudioFLAC"
    corpus, _ = prepare_cremad(data_dir)
    train = split_cremad(corpus, "speaker", 0.2, 42)["train"]
    labels, ids = np.asarray(train["label"]), list(train["id"])
    logits = {}
    for name in dict.fromkeys(TEACHERS + ENSEMBLE):
        if not (Path("runs") / name).is_dir():
            print(f"{name}: not in runs/ (experiments/cpu_distillation/cpu_distillation.sh trains it)")
            continue
        teacher = FeatureTeacher.from_pretrained(Path("runs") / name)
        logits[name] = {"in-sample": teacher.logits(train), "out-of-fold": teacher.out_of_fold_logits(ids)}
        if name in TEACHERS:
            for source, values in logits[name].items():
                _report(name, source, values, labels)
    if all(member in logits for member in ENSEMBLE):
        for source in ("in-sample", "out-of-fold"):
            combined = ensemble_logits([logits[member][source] for member in ENSEMBLE])
            _report("ensemble of " + " ".join(ENSEMBLE), source, combined, labels)


if __name__ == "__main__":
    main()
