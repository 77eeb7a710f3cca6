"""Classical teachers: openSMILE functionals + a scikit-learn classifier, trained in seconds to minutes on a CPU.

A teacher folder (written by `train_feature_teacher.py`) holds:

    teacher_config.json   labels, feature set, classifier, feature normalisation, the data it saw (`training_data`)
    classifier.joblib     the fitted scikit-learn pipeline (standardisation + classifier)
    oof_logits.npz        optional: out-of-fold logits of every training clip (from fits that never saw its actor)
    eval_results.json     validation metrics, in the same keys as a transformers teacher's
    confusion_matrix.*    validation confusion matrix

Logits are log-probabilities (`predict_proba`), so temperature and ensembling treat this teacher like any other.
With `speaker_normalization` every clip's features are standardised over its speaker's own clips first (see
`speaker_adaptation.py`): the teacher's logits then depend on a speaker's other clips, which is fine for
distillation targets (the training actors are all there) and is said wherever its validation numbers appear.
With `corpus_normalization` they are standardised over their corpus's clips instead (a recording setup's statistics:
all the clips of one folder when scored, each corpus of a training mix apart), which needs no speaker but the other
clips of the same recording, so its numbers are not one-clip numbers either.

`classifier.joblib` is a pickle: load teacher folders you made or trust, as with any pickle.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import datasets
import joblib
import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from data.functionals import cached_functionals, file_digest
from data.views import View
from litecnn_ser.speaker_adaptation import normalize_by_speaker

TEACHER_CONFIG = "teacher_config.json"
CLASSIFIER_FILE = "classifier.joblib"
OOF_LOGITS = "oof_logits.npz"
TEACHER_TYPE = "functionals"
CLASSIFIERS = ("svm", "logreg", "mlp")
PROBABILITY_FLOOR = 1e-6
"""Log-probabilities are taken of probabilities clipped here: a 0 would be an infinite logit."""


def build_classifier(name: str, C: float, seed: int) -> Pipeline:
    """Standardisation + the classifier. RBF SVM (Platt-scaled probabilities), multinomial logistic regression,
    or a one-hidden-layer MLP with early stopping; every one outputs calibrated-ish probabilities."""
    if name == "svm":  # Platt scaling on 5 internal folds, then one SVM on all clips (SVC's old probability=True)
        svm = SVC(C=C, gamma="scale", cache_size=1000, random_state=seed)
        model = CalibratedClassifierCV(svm, method="sigmoid", cv=5, ensemble=False)
    elif name == "logreg":
        model = LogisticRegression(C=C, max_iter=3000)
    elif name == "mlp":
        model = MLPClassifier((256,), alpha=1.0 / C, max_iter=500, early_stopping=True, random_state=seed)
    else:
        raise ValueError(f"--classifier must be one of {CLASSIFIERS}, got {name!r}")
    return make_pipeline(StandardScaler(), model)


def log_probabilities(pipeline: Pipeline, features: np.ndarray, num_labels: int) -> np.ndarray:
    """`(clips, num_labels)` log-probabilities; a class the fit never saw (a fold without it) gets the floor."""
    probabilities = np.full((len(features), num_labels), PROBABILITY_FLOOR)
    probabilities[:, pipeline.classes_] = pipeline.predict_proba(features)
    return np.log(np.clip(probabilities, PROBABILITY_FLOOR, 1.0)).astype(np.float32)


class FeatureTeacher:
    """A fitted classical teacher: `logits(dataset)` for any prepared dataset (and any view of its clips)."""

    def __init__(self, config: dict, pipeline: Pipeline, folder: Path | None = None):
        self.config = config
        self.pipeline = pipeline
        self.folder = folder

    @property
    def labels(self) -> list[str]:
        return list(self.config["labels"])

    @property
    def speaker_normalization(self) -> bool:
        return bool(self.config["speaker_normalization"])

    @property
    def corpus_normalization(self) -> bool:
        return bool(self.config.get("corpus_normalization"))

    def groups(self, dataset: datasets.Dataset) -> list | None:
        """The group each clip's features are standardised over: its speaker, its corpus (one group for a dataset
        of one corpus), or None when the teacher standardises nothing."""
        if self.speaker_normalization:
            return list(dataset["actor_id"])
        if self.corpus_normalization:
            return list(dataset["corpus"]) if "corpus" in dataset.column_names else ["recording"] * len(dataset)
        return None

    def prepare(self, features: np.ndarray, groups) -> np.ndarray:
        """Per-speaker or per-corpus standardisation when the teacher uses it; the features as they are otherwise."""
        if not (self.speaker_normalization or self.corpus_normalization):
            return features
        if groups is None or None in list(groups):
            kind = "speaker" if self.speaker_normalization else "corpus"
            raise ValueError(f"this teacher normalises features per {kind}: it needs each clip's {kind}")
        return normalize_by_speaker(features, groups)

    def logits(self, dataset: datasets.Dataset, view: View | None = None) -> np.ndarray:
        """`(len(dataset), num_labels)` log-probabilities of the clips (of `view` of each, if given)."""
        features = cached_functionals(dataset, self.config["feature_set"], view)
        return self.logits_of(features, self.groups(dataset))

    def logits_of(self, features: np.ndarray, groups=None) -> np.ndarray:
        """Log-probabilities of already extracted functionals (`groups`: each row's speaker or corpus, when the
        teacher normalises per speaker or per corpus)."""
        return log_probabilities(self.pipeline, self.prepare(features, groups), len(self.labels))

    def out_of_fold_logits(self, ids: list[str]) -> np.ndarray:
        """The stored out-of-fold logits of these training clips; a clear error when a clip has none."""
        path = self.folder / OOF_LOGITS if self.folder else None
        if path is None or not path.is_file():
            raise FileNotFoundError(
                f"{self.folder}: no {OOF_LOGITS} (train the teacher with --oof_folds K to store out-of-fold logits)"
            )
        stored = np.load(path)
        rows = {clip_id: row for row, clip_id in enumerate(stored["ids"].tolist())}
        missing = [clip_id for clip_id in ids if clip_id not in rows]
        if missing:
            raise ValueError(f"{path}: no out-of-fold logits for {len(missing)} clips (e.g. {missing[0]})")
        return stored["logits"][[rows[clip_id] for clip_id in ids]]

    def fingerprint(self) -> str:
        """Changes with the fitted classifier, the config and the stored out-of-fold logits."""
        digest = hashlib.sha256(json.dumps(self.config, sort_keys=True).encode())
        stored = [self.folder / name for name in (CLASSIFIER_FILE, OOF_LOGITS)] if self.folder else []
        return file_digest([path for path in stored if path.is_file()], digest).hexdigest()

    def save_pretrained(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        joblib.dump(self.pipeline, folder / CLASSIFIER_FILE)
        (folder / TEACHER_CONFIG).write_text(json.dumps(self.config, indent=1))
        self.folder = folder

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> FeatureTeacher:
        folder = Path(folder)
        config = json.loads((folder / TEACHER_CONFIG).read_text())
        if config.get("teacher_type") != TEACHER_TYPE:
            raise ValueError(
                f"{folder / TEACHER_CONFIG}: teacher_type {config.get('teacher_type')!r} is not {TEACHER_TYPE!r}"
            )
        if not (folder / CLASSIFIER_FILE).is_file():
            raise FileNotFoundError(f"{folder}: no {CLASSIFIER_FILE} (an incomplete teacher folder)")
        return cls(config, joblib.load(folder / CLASSIFIER_FILE), folder)


def is_feature_teacher(folder: str | Path) -> bool:
    return (Path(folder) / TEACHER_CONFIG).is_file()
