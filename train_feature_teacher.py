"""Train a classical teacher: openSMILE functionals + a scikit-learn classifier (seconds to minutes on a CPU).

    python train_feature_teacher.py --data_dir CREMA-D/AudioWAV --split speaker --feature_set ComParE_2016 \
        --classifier svm --speaker_normalization --oof_folds 5 --output_dir ./teacher-compare-svm
    python train_student.py --data_dir CREMA-D/AudioWAV --split speaker --teacher ./teacher-compare-svm ...

The folder is a teacher for `train_student.py --teacher` (see `litecnn_ser/feature_teacher.py` for its format): the same split
checks as any teacher, its validation metrics and confusion matrix beside it. `--oof_folds K` also stores
out-of-fold logits of every training clip: the training actors are cut into K groups, and each clip's logits come
from a fit on the other K-1 groups (a teacher that never heard that actor), which are less overconfident than a
teacher's logits on its own training clips.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupKFold
from tqdm.auto import tqdm
from transformers import HfArgumentParser

from data.functionals import FEATURE_SETS, cached_functionals
from litecnn_ser.arguments import DataArguments, parse_args
from litecnn_ser.feature_teacher import (
    CLASSIFIERS,
    OOF_LOGITS,
    TEACHER_TYPE,
    FeatureTeacher,
    build_classifier,
    log_probabilities,
)
from litecnn_ser.metrics import metrics_from_logits, save_confusion_matrix
from litecnn_ser.splits import label_names, load_splits, training_data_record

logger = logging.getLogger("train_feature_teacher")


@dataclass
class FeatureTeacherArguments:
    output_dir: str = field(metadata={"help": "Where the teacher folder is written."})
    feature_set: str = field(
        default="ComParE_2016", metadata={"help": f"openSMILE functionals, one of {FEATURE_SETS}."}
    )
    classifier: str = field(default="svm", metadata={"help": f"One of {CLASSIFIERS}."})
    C: float = field(
        default=3.0, metadata={"help": "Inverse regularisation (SVM and logistic C; the MLP's L2 is 1/C)."}
    )
    speaker_normalization: bool = field(
        default=False,
        metadata={
            "help": "Standardise each clip's features over its speaker's clips (unlabelled). Uses a speaker's "
            "other clips: validation numbers then assume a few clips of each new speaker are available."
        },
    )
    corpus_normalization: bool = field(
        default=False,
        metadata={
            "help": "Standardise each clip's features over its corpus's clips (each corpus of a mix apart; all the "
            "scored clips of a folder at evaluation): a recording setup's statistics, no speaker needed. Uses the "
            "other clips of the same recording: not a one-clip number. Not with --speaker_normalization."
        },
    )
    oof_folds: int = field(
        default=0, metadata={"help": "Also store out-of-fold logits from K folds of training actors (0: off)."}
    )
    seed: int = field(default=42, metadata={"help": "Seed of the split (must match the student's) and of the fit."})

    def __post_init__(self):
        if self.feature_set not in FEATURE_SETS:
            raise ValueError(f"--feature_set must be one of {FEATURE_SETS}, got {self.feature_set!r}")
        if self.classifier not in CLASSIFIERS:
            raise ValueError(f"--classifier must be one of {CLASSIFIERS}, got {self.classifier!r}")
        if self.C <= 0:
            raise ValueError(f"--C must be positive, got {self.C}")
        if self.speaker_normalization and self.corpus_normalization:
            raise ValueError("--speaker_normalization and --corpus_normalization: choose one")
        if self.oof_folds == 1 or self.oof_folds < 0:
            raise ValueError(f"--oof_folds must be 0 (off) or at least 2, got {self.oof_folds}")


def out_of_fold_logits(teacher: FeatureTeacher, features: np.ndarray, labels, actors, folds: int, seed: int):
    """Each training clip's logits from a classifier fitted on the other folds of actors (never on its own actor)."""
    actors = np.asarray(actors)
    if len(np.unique(actors)) < folds:
        raise SystemExit(f"error: --oof_folds {folds}: only {len(np.unique(actors))} training actors")
    num_labels = len(teacher.labels)
    logits = np.zeros((len(features), num_labels), dtype=np.float32)
    for fit_rows, held_rows in tqdm(list(GroupKFold(n_splits=folds).split(features, groups=actors)), desc="folds"):
        fold = build_classifier(teacher.config["classifier"], teacher.config["C"], seed)
        fold.fit(features[fit_rows], np.asarray(labels)[fit_rows])
        logits[held_rows] = log_probabilities(fold, features[held_rows], num_labels)
    return logits


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = HfArgumentParser((FeatureTeacherArguments, DataArguments))
    args, data_args = parse_args(parser, argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    started = time.time()

    splits, _ = load_splits(data_args, args.seed)
    train, validation = splits["train"], splits["validation"]
    labels = label_names(splits)
    if args.speaker_normalization and None in list(train["actor_id"]) + list(validation["actor_id"]):
        raise SystemExit(
            "error: --speaker_normalization needs the speaker of every clip: add a `speaker` column to the data"
        )
    config = {
        "teacher_type": TEACHER_TYPE,
        "feature_set": args.feature_set,
        "classifier": args.classifier,
        "C": args.C,
        "speaker_normalization": args.speaker_normalization,
        **({"corpus_normalization": True} if args.corpus_normalization else {}),
        "labels": labels,
        "training_data": training_data_record(data_args, splits, args.seed) | {"max_duration_s": None},
    }
    teacher = FeatureTeacher(config, build_classifier(args.classifier, args.C, args.seed))
    features = {name: cached_functionals(part, args.feature_set) for name, part in splits.items()}
    extracted = time.time()
    train_features = teacher.prepare(features["train"], teacher.groups(train))
    teacher.pipeline.fit(train_features, train["label"])
    logger.info("fitted %s on %d clips in %.1f s", args.classifier, len(train), time.time() - extracted)

    output = Path(args.output_dir)
    teacher.save_pretrained(output)
    if args.oof_folds:
        logits = out_of_fold_logits(
            teacher, train_features, train["label"], train["actor_id"], args.oof_folds, args.seed
        )
        np.savez(output / OOF_LOGITS, ids=np.array(train["id"]), logits=logits, folds=args.oof_folds)

    logits = teacher.logits_of(features["validation"], teacher.groups(validation))
    truth = np.asarray(validation["label"])
    metrics = {f"eval_{k}": v for k, v in metrics_from_logits(logits, truth, labels).items()}
    metrics |= {"eval_samples": len(validation), "feature_seconds": extracted - started}
    metrics["train_runtime"] = time.time() - started
    (output / "eval_results.json").write_text(json.dumps(metrics, indent=1))
    save_confusion_matrix(truth, logits.argmax(-1), labels, output)
    standardised = ", features standardised per speaker" if args.speaker_normalization else ""
    standardised = ", features standardised per corpus" if args.corpus_normalization else standardised
    logger.info(
        "validation accuracy %.3f, UAR %.3f (%d clips%s); teacher in %s",
        metrics["eval_accuracy"],
        metrics["eval_uar"],
        len(validation),
        standardised,
        output,
    )
    return metrics


if __name__ == "__main__":
    main()
