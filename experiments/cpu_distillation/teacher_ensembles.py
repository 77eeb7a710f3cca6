"""Validation accuracy of teacher ensembles (mean probability, as `train_student.py --teacher A B` combines them),
and of an ensemble of trained students (how far a student-ensemble teacher could lift one student).

python experiments/cpu_distillation/teacher_ensembles.py [DATA_DIR]    # after cpu_distillation.sh trained the teachers
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from data.cremad import prepare_cremad, split_cremad
from data.views import View
from litecnn_ser.metrics import metrics_from_logits
from litecnn_ser.teachers import ensemble_logits, open_teacher

WHOLE = View(1.0, 0.0, None)
"""How every member hears a clip: whole, as the students are evaluated (CREMA-D's clips are under their 6 s limit)."""

ENSEMBLES = {
    "per-speaker normalised: ComParE+MLP, eGeMAPS+SVM": ("t_compare_mlp_spk", "t_egemaps_svm_spk"),
    "no speaker statistics: ComParE+MLP, eGeMAPS+SVM": ("t_compare_mlp", "t_egemaps_svm"),
    "no speaker statistics: ComParE+MLP (fitting seeds 42, 1, 2), eGeMAPS+SVM": (
        "t_compare_mlp",
        "t_compare_mlp_oof_seed1",
        "t_compare_mlp_oof_seed2",
        "t_egemaps_svm",
    ),
    "students (7 blocks, hint 3): the recipe's one-thread seeds 42 and 1, the votes arm's seeds 42, 1, 2": (
        "repro_s_long_deep_distilled_ens4_oof_hint3_seed42",
        "repro_s_long_deep_distilled_ens4_oof_hint3_seed1",
        "s_long_deep_distilled_ens4votes_oof_hint3_seed42",
        "s_long_deep_distilled_ens4votes_oof_hint3_seed1",
        "s_long_deep_distilled_ens4votes_oof_hint3_seed2",
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
        logits = ensemble_logits([open_teacher(f"runs/{member}").logits(validation, WHOLE) for member in members])
        metrics = metrics_from_logits(logits, labels)
        print(
            f"{name}: accuracy {metrics['accuracy']:.3f}, UAR {metrics['uar']:.3f}, macro-F1 {metrics['macro_f1']:.3f}"
        )


if __name__ == "__main__":
    main()
