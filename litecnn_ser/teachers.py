"""Teachers as providers of a cached table of logits: one per training clip, or one per (clip, view).

Whatever a teacher is, the student's trainer only sees its table:

- a `transformers` audio classifier folder (`train_teacher.py`, or a LiteCNN that hears more of each clip);
- a classical teacher folder (`train_feature_teacher.py`: openSMILE functionals + scikit-learn), whose logits can
  also be its stored out-of-fold logits (each training clip scored by a fit that never heard its actor);
- CREMA-D's crowd votes (`tabulatedVotes.csv`, `crowd_votes.py`): what listeners heard, as soft labels;
- several of them at once (`--teacher A B C`): an ensemble whose probabilities are averaged.

Every member is checked before anything is computed (its labels, and that it was trained on the student's split,
or its logits would leak validation clips). Logits are computed once per (teacher, views, clips, source) and cached
as an `.npz` beside the dataset's Arrow files; another teacher or another view grid is another file, never a stale one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np
import torch
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm
from transformers import AutoConfig, AutoFeatureExtractor, AutoModelForAudioClassification

import modeling_litecnn  # noqa: F401  (registers LiteCNN with the Auto classes: a LiteCNN can be a teacher)
from data.audio import SAMPLING_RATE, load_audio
from data.functionals import cache_dir_of, cached_functionals, clips_digest, file_digest, save_npz_atomically
from data.views import View, apply_view
from litecnn_ser.crowd_votes import DEFAULT_MODALITY, CrowdVotesTeacher, is_votes_file
from litecnn_ser.feature_teacher import FeatureTeacher, is_feature_teacher
from litecnn_ser.loading import ModelLoadError, check_weights
from litecnn_ser.scoring import config_labels
from litecnn_ser.speaker_adaptation import normalize_by_speaker
from litecnn_ser.splits import TRAINING_DATA_KEY
from litecnn_ser.transforms import AudioCollator
from litecnn_ser.vad import trim_silence

logger = logging.getLogger(__name__)

LOGIT_SOURCES = ("in_sample", "out_of_fold")
SPLIT_KEYS = ("split", "test_size", "seed", "num_validation")
"""What must match between a teacher's recorded data and the student's run for the teacher to be usable."""


class ModelTeacher:
    """A saved `AutoModelForAudioClassification` (with its feature extractor) hearing `window_s` of each view."""

    uses_labels = True  # fitted to the labels: its split is checked, and its in-sample logits are overconfident

    def __init__(self, folder: Path, window_s: float | None = None, batch_size: int = 32):
        self.folder = folder
        self.config = AutoConfig.from_pretrained(folder, trust_remote_code=True)
        recorded = getattr(self.config, TRAINING_DATA_KEY, None) or {}
        self.window_s = window_s or recorded.get("max_duration_s")
        self.batch_size = batch_size
        self._model = None

    @property
    def labels(self) -> list[str]:
        return config_labels(self.config)

    @property
    def training_data(self) -> dict | None:
        return getattr(self.config, TRAINING_DATA_KEY, None)

    def load(self):
        if self._model is None:
            self._model = AutoModelForAudioClassification.from_pretrained(self.folder, trust_remote_code=True).eval()
            self.feature_extractor = AutoFeatureExtractor.from_pretrained(self.folder)
        return self._model

    def describe(self) -> dict:
        return {
            "teacher": str(self.folder),
            "teacher_model_type": self.config.model_type,
            "teacher_parameters": self.load().num_parameters(),
            "teacher_max_duration_s": self.window_s,
            "uses_speaker_statistics": False,
        }

    def fingerprint(self) -> str:
        weights = sorted(self.folder.glob("*.safetensors")) or sorted(self.folder.glob("*.bin"))
        if not weights:
            raise SystemExit(
                f"error: --teacher {self.folder}: no model weights (*.safetensors or *.bin) in the folder"
            )
        self.load()
        digest = hashlib.sha256(json.dumps(self.feature_extractor.to_dict(), sort_keys=True, default=str).encode())
        return file_digest(weights, digest).hexdigest()

    def teacher_view(self, view: View) -> View:
        return View(view.speed, view.offset_s, self.window_s)

    def logits(self, dataset: datasets.Dataset, view: View) -> np.ndarray:
        return compute_model_logits(self.load(), self.feature_extractor, dataset, view, self.batch_size)


class FunctionalsTeacher(FeatureTeacher):
    """A classical teacher (see `feature_teacher.py`) in the provider interface. It hears the whole (sped) clip, or,
    given `window_s` (`--teacher_max_duration_s`), the window of each view: then a view's offset changes its logits
    too, and view-consistent distillation gives the student the teacher's logits for the very window it hears."""

    uses_labels = True

    window_s: float | None = None

    @property
    def training_data(self) -> dict | None:
        return self.config.get("training_data")

    def describe(self) -> dict:
        return {
            "teacher": str(self.folder),
            "teacher_model_type": f"{self.config['feature_set']} + {self.config['classifier']}",
            "teacher_parameters": None,
            "teacher_max_duration_s": self.window_s,
            "uses_speaker_statistics": self.speaker_normalization,
        } | ({"uses_corpus_statistics": True} if self.corpus_normalization else {})

    def teacher_view(self, view: View) -> View:
        if self.window_s is None:  # functionals summarise the whole clip: only the speed changes them
            return View(view.speed, 0.0, None)
        return View(view.speed, view.offset_s, self.window_s)


def model_clip(audio, view: View, trim: bool = False) -> np.ndarray:
    """One clip as a model hears it in evaluation: decoded, its silence cut when the model was trained so, its view."""
    waveform = load_audio(audio)
    return apply_view(trim_silence(waveform) if trim else waveform, view)


@torch.no_grad()
def compute_model_logits(
    model, feature_extractor, dataset: datasets.Dataset, view: View, batch_size: int, trim: bool = False
):
    """A model's logits for the `view` of every clip, in eval mode without gradients, batched; `trim`: each clip's
    leading and trailing silence cut first (a model trained with `--trim_silence`)."""
    collate = AudioCollator(feature_extractor)
    audios = dataset.with_format(None)["audio"]
    logits = []
    for start in tqdm(range(0, len(audios), batch_size), desc="logits", unit="batch"):
        clips = [model_clip(audio, view, trim) for audio in audios[start : start + batch_size]]
        features = feature_extractor(clips, sampling_rate=SAMPLING_RATE, return_attention_mask=False)
        batch = collate([{"input_values": values, "labels": 0} for values in features["input_values"]])
        batch.pop("labels")
        batch = {key: value.to(model.device) for key, value in batch.items()}
        logits.append(model(**batch).logits.float().cpu().numpy())
    return np.concatenate(logits)


def open_teacher(
    folder: str, window_s: float | None = None, batch_size: int = 32, votes_modality: str = DEFAULT_MODALITY
):
    """A teacher folder of either kind, or a votes table (its `votes_modality` ratings); one clear error naming the
    folder when it is neither."""
    path = Path(folder)
    if is_votes_file(path):
        return CrowdVotesTeacher(path, modality=votes_modality)
    if is_feature_teacher(path):
        try:
            teacher = FunctionalsTeacher.from_pretrained(path)
        except (OSError, ValueError) as error:
            raise SystemExit(f"error: --teacher {folder}: {error}") from None
        teacher.window_s = window_s
        return teacher
    if not (path / "config.json").is_file():
        raise SystemExit(
            f"error: --teacher {folder}: not a model folder (no config.json), a classical teacher "
            "(no teacher_config.json) nor a votes table (a .csv file such as CREMA-D's tabulatedVotes.csv)"
        )
    try:
        check_weights(path, folder)
    except ModelLoadError as error:
        raise SystemExit(f"error: {error}") from None
    return ModelTeacher(path, window_s, batch_size)


def check_teacher(teacher, source: str, labels: list[str], data_record: dict) -> None:
    """Refuses, before training, a teacher with other labels or one trained on another split."""
    if teacher.labels != labels:
        raise SystemExit(
            f"error: --teacher {source} predicts {teacher.labels}, but the data's labels are {labels}: "
            "distillation needs the same labels in the same order"
        )
    recorded = teacher.training_data
    if recorded is None and not teacher.uses_labels:
        return  # crowd votes: fitted to nothing, they cannot leak a validation clip's label into training
    if recorded is None:
        logger.warning(
            "--teacher %s does not record its training split: make sure it never saw the validation clips", source
        )
        return
    mismatched = [key for key in SPLIT_KEYS if recorded.get(key) != data_record[key]]
    if mismatched:
        theirs = ", ".join(f"{k}={recorded.get(k)!r}" for k in mismatched)
        ours = ", ".join(f"{k}={data_record[k]!r}" for k in mismatched)
        raise SystemExit(
            f"error: --teacher {source} was trained on another split ({theirs}; this run: {ours}): its logits would "
            "leak validation clips into training. Use the teacher's --split, --test_size and --seed (or --split_seed)."
        )


@dataclass
class TeacherTargets:
    """The student's soft targets: `logits[v, row]` is the teacher for view `v` of the clip `ids[row]`.

    `views` is None for the classic fixed cache (one entry per clip; the student crops as it likes)."""

    ids: list[str]
    logits: np.ndarray  # (num_views, num_clips, num_labels)
    views: list[View] | None = None

    def __post_init__(self):
        self.rows = {clip_id: row for row, clip_id in enumerate(self.ids)}

    @property
    def num_views(self) -> int:
        return self.logits.shape[0]

    def lookup(self, clip_id: str, view_index: int = 0) -> np.ndarray:
        return self.logits[view_index, self.rows[clip_id]]


HINT_NORMALIZATIONS = ("clips", "corpus", "speaker")
"""`--hint_normalization`: over all training clips (the default), or then within each corpus, or each speaker."""


@dataclass
class FeatureHints:
    """Feature-hint targets: each training clip's openSMILE functionals (of the whole clip), standardised with the
    training clips' mean and standard deviation, for the student's pooled embedding to regress (FitNets-style
    hints, with the functionals the classical teachers see as the hint). Features only, never labels: nothing
    here could leak a label, so every clip's own features are its target (no out-of-fold needed).

    `normalization="speaker"` standardises them again within each speaker's training clips: the target is how a
    clip departs from its speaker's usual voice and recording (what per-speaker normalisation gives the classical
    teachers), not the speaker's pitch or the corpus's microphone. The student still hears one clip; only its
    training targets use the speaker's other clips. `normalization="corpus"` does the same within each training
    corpus (a one-corpus dataset is one group, the same as "clips"): what is taken away is a corpus's microphone,
    room and level, not a speaker's voice."""

    feature_set: str
    ids: list[str]
    features: np.ndarray  # (num_clips, num_features), standardised
    normalization: str = "clips"

    def __post_init__(self):
        self.rows = {clip_id: row for row, clip_id in enumerate(self.ids)}

    @property
    def num_features(self) -> int:
        return self.features.shape[1]

    def lookup(self, clip_id: str) -> np.ndarray:
        return self.features[self.rows[clip_id]]

    @classmethod
    def from_dataset(cls, dataset: datasets.Dataset, feature_set: str, normalization: str = "clips") -> FeatureHints:
        """The standardised functionals of every clip of `dataset` (cached on disk like a teacher's), by the
        `StandardScaler` the classical teachers use: a feature constant over the clips becomes 0, not 0/0; with
        `normalization="speaker"` or `"corpus"`, then standardised within each speaker or corpus
        (`normalize_by_speaker`, as the teachers)."""
        if normalization not in HINT_NORMALIZATIONS:
            raise ValueError(f"--hint_normalization must be one of {HINT_NORMALIZATIONS}, got {normalization!r}")
        groups = []
        if normalization == "speaker":
            groups = list(dataset["actor_id"])
            if None in groups:
                raise ValueError(
                    "--hint_normalization speaker needs the speaker of every training clip: add a `speaker` column "
                    "to the data"
                )
        elif normalization == "corpus":  # a dataset of one corpus has no `corpus` column: one group
            groups = list(dataset["corpus"]) if "corpus" in dataset.column_names else ["recording"] * len(dataset)
        raw = cached_functionals(dataset, feature_set).astype(np.float64)
        features = StandardScaler().fit_transform(raw).astype(np.float32)
        if groups:
            features = normalize_by_speaker(features, groups)
        return cls(feature_set, list(dataset["id"]), features, normalization)

    def describe(self) -> dict:
        record = {
            "feature_set": self.feature_set,
            "num_features": self.num_features,
            "standardised_over_clips": len(self.ids),
        }
        if self.normalization != "clips":  # said only when used: a run without it records what it always did
            record["normalization"] = f"per {self.normalization}"
        return record


def cached_logits(
    teacher, dataset: datasets.Dataset, views: list[View], source: str = "in_sample"
) -> tuple[np.ndarray, Path, bool]:
    """`(len(views), len(dataset), num_labels)` logits of one teacher, from the cache when it has them."""
    if source not in LOGIT_SOURCES:
        raise ValueError(f"--teacher_logits must be one of {LOGIT_SOURCES}, got {source!r}")
    teacher_views = [teacher.teacher_view(view) for view in views]
    key = hashlib.sha256(
        json.dumps(
            [teacher.fingerprint(), [v.as_tuple() for v in teacher_views], clips_digest(dataset), source]
        ).encode()
    ).hexdigest()[:20]
    cache_file = cache_dir_of(dataset) / "teacher_logits" / f"{key}.npz"
    if cache_file.exists():
        logger.info("reusing teacher logits for %d clips x %d views from %s", len(dataset), len(views), cache_file)
        return np.load(cache_file)["logits"], cache_file, True
    if source == "out_of_fold" and teacher.uses_labels:
        if not isinstance(teacher, FeatureTeacher):
            raise SystemExit(
                f"error: --teacher_logits out_of_fold: {teacher.folder} is not a classical teacher "
                "(only train_feature_teacher.py --oof_folds K stores out-of-fold logits)"
            )
        if any(view != View() for view in views):
            raise SystemExit(
                "error: --teacher_logits out_of_fold has one entry per clip: it cannot be used with --views"
            )
        try:
            logits = teacher.out_of_fold_logits(list(dataset["id"]))[None]
        except (OSError, ValueError) as error:
            raise SystemExit(f"error: --teacher {teacher.folder}: {error}") from None
    else:
        computed = {}  # views the teacher hears identically (a whole-clip teacher at one speed) are computed once
        for view in teacher_views:
            if view not in computed:
                computed[view] = teacher.logits(dataset, view)
        logits = np.stack([computed[view] for view in teacher_views])
    save_npz_atomically(cache_file, ids=np.array(dataset["id"]), logits=logits.astype(np.float32))
    logger.info("cached teacher logits for %d clips x %d views in %s", len(dataset), len(views), cache_file)
    return logits.astype(np.float32), cache_file, False


def ensemble_logits(member_logits: list[np.ndarray]) -> np.ndarray:
    """The log of the members' mean probability (softmax of each member's logits), as logits.

    Probabilities, not logits, are averaged: members differ in scale (a classical teacher's log-probabilities, a
    network's raw logits), and a mean of logits would let the most confident member decide alone, while a mean of
    probabilities is the usual ensemble and is bounded by its members' calibration."""
    stacked = np.stack([logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True) for logits in member_logits])
    return (np.logaddexp.reduce(stacked, axis=0) - np.log(len(member_logits))).astype(np.float32)
