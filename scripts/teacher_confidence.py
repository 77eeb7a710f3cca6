"""How right and how confident classical teachers are on their own training clips: in-sample vs out-of-fold logits.

python scripts/teacher_confidence.py [DATA_DIR]     # after scripts/cpu_distillation.sh trained the teachers
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from data.cremad import prepare_cremad, split_cremad  # noqa: E402
from feature_teacher import FeatureTeacher  # noqa: E402

TEACHERS = ("t_compare_mlp_spk", "t_compare_mlp", "t_egemaps_svm_spk", "t_egemaps_svm")


def main() -> None:
    data_dir = sys.argv[1] if len(sys.argv) > 1 else "../shared/datasets/crema-d/AudioFLAC"
    corpus, _ = prepare_cremad(data_dir)
    train = split_cremad(corpus, "speaker", 0.2, 42)["train"]
    labels = np.asarray(train["label"])
    for name in TEACHERS:
        teacher = FeatureTeacher.from_pretrained(Path("runs") / name)
        for source, logits in (
            ("in-sample", teacher.logits(train)),
            ("out-of-fold", teacher.out_of_fold_logits(list(train["id"]))),
        ):
            right = np.mean(logits.argmax(-1) == labels)
            print(f"{name} {source}: right on {right:.1%}, mean top probability {np.exp(logits).max(-1).mean():.2f}")


if __name__ == "__main__":
    main()
