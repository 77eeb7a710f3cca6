"""Validation accuracy of teacher ensembles (mean probability, as `train_student.py --teacher A B` combines them).

python experiments/cpu_distillation/teacher_ensembles.py [DATA_DIR]    # after cpu_distillation.sh trained the teachers
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from data.cremad import prepare_cremad, split_cremad
from litecnn_ser.metrics import metrics_from_logits
from litecnn_ser.teachers import ensemble_logits, open_teacher

ENSEMBLES = {
    "per-speaker normalised: ComParE+MLP, eGeMAPS+SVM": ("t_compare_mlp_spk", "t_egemaps_svm_spk"),
    "no speaker statistics: ComParE+MLP, eGeMAPS+SVM": ("t_compare_mlp", "t_egemaps_svm"),
    "no speaker statistics: ComParE+MLP (fitting seeds 42, 1, 2), eGeMAPS+SVM": (
        "t_compare_mlp",
        "t_compare_mlp_oof_seed1",
        "t_compare_mlp_oof_seed2",
        "t_egemaps_svm",
    ),
}


def main() -> None:
    data_dir = sys.argv[1] if len(sys.argv) > 1 else "../shared/datasets/crema-d/AudioFLAC"
    corpus, _ = prepare_cremad(data_dir)
    validation = split_cremad(corpus, "speaker", 0.2, 42)["validation"]
    labels = np.asarray(validation["label"])
    for name, members in ENSEMBLES.items():
        if not all(Path(f"runs/{member}").is_dir() for member in members):
            print(
                f"{name}: not all of {', '.join(members)} are in runs/ (experiments/cpu_distillation/cpu_distillation.sh trains them)"
            )
            continue
        logits = ensemble_logits([open_teacher(f"runs/{member}").logits(validation) for member in members])
        metrics = metrics_from_logits(logits, labels)
        print(
            f"{name}: accuracy {metrics['accuracy']:.3f}, UAR {metrics['uar']:.3f}, macro-F1 {metrics['macro_f1']:.3f}"
        )


if __name__ == "__main__":
    main()
