"""What `train_teacher.py` and `train_student.py` share: arguments, data loading, collation, metrics, reports.

One preprocessing path for both scripts (and for `predict.py`): decode with `data.audio.load_audio`, crop to
the training window, normalise with the model's saved feature extractor, pad in the collator.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, precision_recall_fscore_support
from transformers import EarlyStoppingCallback, FeatureExtractionMixin, Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_pt_utils import LengthGroupedSampler
from transformers.trainer_utils import get_last_checkpoint

from data.audio import SAMPLING_RATE, crop, load_audio, random_offset
from data.cremad import SPLITS, CremaDError, PreparationReport, split_cremad
from data.sources import Source, describe_sources, load_sources
from data.views import View, apply_view, change_speed

logger = logging.getLogger(__name__)

TEACHER_LOGITS = "teacher_logits"
"""Name of the per-clip teacher logits in a training batch."""
HINT_TARGETS = "hint_targets"
"""Name of the per-clip feature-hint targets in a training batch (`--hint_features`)."""

TRAINING_DATA_KEY = "training_data"
"""Key in a saved model's config.json that records the data it was trained on (folder, split, seed, window)."""


@dataclass
class DataArguments:
    data_dir: list[str] | None = field(
        default=None,
        metadata={
            "help": "Folder(s) of clips: CREMA-D's AudioWAV/ (or AudioFLAC/, or a synthetic corpus), RAVDESS, SAVEE "
            "or TESS as distributed, an AudioFolder (one folder per label), or a CSV manifest (path,label[,speaker]). "
            "Several: trained on the mix. KIND=PATH says what a source is (cremad ravdess savee tess audiofolder "
            "manifest); see data/sources.py."
        },
    )
    split: str = field(
        default="stratified",
        metadata={"help": f"One of {SPLITS}: the paper's random 80/20 by emotion, or no actor in two splits."},
    )
    test_size: float = field(default=0.2, metadata={"help": "Validation fraction (of clips, or of actors)."})
    split_seed: int | None = field(
        default=None,
        metadata={
            "help": "Seed of the split (default: --seed, the paper's single seed). Fix it to compare training seeds "
            "on one split: --split_seed 42 --seed 1."
        },
    )
    max_duration_s: float = field(
        default=1.0,
        metadata={
            "help": "Training and evaluation window in seconds (the paper: 1.0). Clips are cut to their first "
            "max_duration_s seconds (or a random window, see --train_crop); shorter clips are zero-padded."
        },
    )
    eval_max_duration_s: float | None = field(
        default=None,
        metadata={
            "help": "Evaluation window in seconds (default: --max_duration_s, the paper). A fully convolutional "
            "student trained on random crops can be evaluated on whole clips, e.g. 6.0."
        },
    )
    train_crop: str = field(
        default="start",
        metadata={"help": "Window of each training clip: 'start' (the paper) or 'random' (a new one every epoch)."},
    )
    speed_perturbation: list[float] | None = field(
        default=None,
        metadata={
            "help": "Speed factors drawn uniformly per training clip and epoch, e.g. 0.9 1.0 1.1 (tempo and pitch "
            "together, Ko et al. 2015). Default: none (the paper)."
        },
    )
    noise_snr_db: list[float] | None = field(
        default=None,
        metadata={"help": "Add white noise at an SNR drawn from [LOW, HIGH] dB per training clip, e.g. 20 40."},
    )
    dataset_cache_dir: str | None = field(
        default=None, metadata={"help": "Where the decoded-audio Arrow cache lives (default: the datasets cache)."}
    )
    max_train_samples: int | None = field(
        default=None, metadata={"help": "Use only this many training clips (for quick runs)."}
    )
    max_eval_samples: int | None = field(
        default=None, metadata={"help": "Use only this many validation clips (for quick runs)."}
    )

    def __post_init__(self):
        if self.split not in SPLITS:
            raise ValueError(f"--split must be one of {SPLITS}, got {self.split!r}")
        if self.train_crop not in ("start", "random"):
            raise ValueError(f"--train_crop must be 'start' or 'random', got {self.train_crop!r}")
        if self.max_duration_s <= 0:
            raise ValueError(f"--max_duration_s must be positive, got {self.max_duration_s}")
        if self.eval_max_duration_s is not None and self.eval_max_duration_s <= 0:
            raise ValueError(f"--eval_max_duration_s must be positive, got {self.eval_max_duration_s}")
        for speed in self.speed_perturbation or ():
            View(speed=speed)  # raises for a factor outside [0.5, 2]
        if self.noise_snr_db is not None and (
            len(self.noise_snr_db) != 2 or self.noise_snr_db[0] > self.noise_snr_db[1]
        ):
            raise ValueError(f"--noise_snr_db takes LOW HIGH in dB (LOW <= HIGH), got {self.noise_snr_db}")

    def seed_of_split(self, seed: int) -> int:
        """The split's seed: --split_seed, else the training seed."""
        return seed if self.split_seed is None else self.split_seed

    @property
    def max_samples(self) -> int:
        return int(round(self.max_duration_s * SAMPLING_RATE))

    @property
    def eval_max_samples(self) -> int:
        return int(round((self.eval_max_duration_s or self.max_duration_s) * SAMPLING_RATE))


@dataclass
class PaperTrainingArguments(TrainingArguments):
    """`TrainingArguments` with the paper's recipe as defaults (every one can be overridden with its flag)."""

    do_train: bool = field(default=True, metadata={"help": "Train (False: only evaluate the model as it is)."})
    learning_rate: float = field(default=1e-4, metadata={"help": "Initial learning rate (paper: Adam 1e-4)."})
    weight_decay: float = field(default=1e-5, metadata={"help": "Weight decay (paper: 1e-5)."})
    num_train_epochs: float = field(default=200.0, metadata={"help": "Maximum epochs (paper: 200, early stopping)."})
    per_device_train_batch_size: int = field(default=32, metadata={"help": "Batch size per device (paper: 32)."})
    per_device_eval_batch_size: int = field(default=32, metadata={"help": "Evaluation batch size per device."})
    eval_strategy: str = field(default="epoch", metadata={"help": "Evaluate every epoch (for plateau and stopping)."})
    save_strategy: str | None = field(
        default=None,
        metadata={
            "help": "When to checkpoint (resumable). Default: with every evaluation (--eval_strategy, and "
            "--eval_steps for 'steps'), which keeping the best checkpoint needs; 'epoch' when evaluation is off."
        },
    )
    logging_strategy: str = field(default="epoch", metadata={"help": "Log the training loss every epoch."})
    lr_scheduler_type: str = field(
        default="reduce_lr_on_plateau", metadata={"help": "Paper: ReduceLROnPlateau on the validation loss."}
    )
    lr_scheduler_kwargs: dict | str | None = field(
        default_factory=lambda: {"patience": 5, "factor": 0.5},
        metadata={"help": "Scheduler arguments as JSON (paper: patience 5, factor 0.5)."},
    )
    load_best_model_at_end: bool = field(default=True, metadata={"help": "Keep the best checkpoint (paper)."})
    metric_for_best_model: str | None = field(
        default="loss", metadata={"help": "Metric of the best checkpoint, the plateau and early stopping."}
    )
    greater_is_better: bool | None = field(default=False, metadata={"help": "Whether a larger metric is better."})
    save_total_limit: int | None = field(default=2, metadata={"help": "Checkpoints kept: the best and the last."})
    length_column_name: str = field(
        default="duration_s",
        metadata={
            "help": "Column of clip lengths for --train_sampling_strategy group_by_length (whole-clip batches)."
        },
    )
    seed: int = field(
        default=42, metadata={"help": "Random seed (paper: 42); also the split's seed unless --split_seed is given."}
    )
    remove_unused_columns: bool = field(
        default=False, metadata={"help": "Must stay False: the audio column is decoded on the fly."}
    )
    report_to: None | str | list[str] = field(
        default_factory=lambda: ["tensorboard"] if importlib.util.find_spec("tensorboard") else "none",
        metadata={"help": "Where to log: TensorBoard (runs/ in the output folder) when it is installed, else none."},
    )
    early_stopping_patience: int = field(
        default=20, metadata={"help": "Stop after this many evaluations without improvement (paper: 20; 0: off)."}
    )

    def __post_init__(self):
        if self.output_dir is None:
            raise ValueError("--output_dir is required: the folder where the model and its metrics are written")
        evaluates = _option(self.eval_strategy) != "no"
        if not evaluates:  # no evaluation: no best checkpoint to go back to, no plateau to watch
            self.load_best_model_at_end = False
            if _option(self.lr_scheduler_type) == "reduce_lr_on_plateau":
                logger.warning(
                    "--eval_strategy no: ReduceLROnPlateau needs evaluations, the learning rate stays constant"
                )
                self.lr_scheduler_type, self.lr_scheduler_kwargs = "constant", {}
        if self.save_strategy is None:  # follow the evaluation: --load_best_model_at_end refuses anything else
            self.save_strategy = self.eval_strategy if evaluates else "epoch"
            if _option(self.save_strategy) == "steps" and self.eval_steps is not None:
                self.save_steps = self.eval_steps
        super().__post_init__()
        if self.remove_unused_columns:
            raise ValueError("--remove_unused_columns must be False: the audio column is decoded by a transform")


def _option(value) -> str:
    """A `TrainingArguments` option as its string, whether still a string or already converted to its enum."""
    return str(getattr(value, "value", value))


def setup_logging(training_args: TrainingArguments) -> None:
    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        handlers=[logging.StreamHandler(sys.stdout)],
    )
    level = training_args.get_process_log_level()
    for name in (__name__, "data", "train_teacher", "train_student", "distillation"):
        logging.getLogger(name).setLevel(level)
    datasets.utils.logging.set_verbosity(level)


def load_splits(data_args: DataArguments, seed: int) -> tuple[datasets.DatasetDict, dict[str, PreparationReport]]:
    """The train/validation splits, with one clear error (naming the flag) for any folder or split that cannot work."""
    seed = data_args.seed_of_split(seed)
    if not data_args.data_dir:
        raise SystemExit("error: --data_dir is required (the folder of CREMA-D clips, e.g. CREMA-D/AudioWAV)")
    given = " ".join(data_args.data_dir)
    try:
        corpus, reports = load_sources(data_args.data_dir, data_args.dataset_cache_dir)
        splits = split_cremad(corpus, data_args.split, data_args.test_size, seed)
    except (FileNotFoundError, CremaDError, ValueError) as error:
        raise SystemExit(f"error: --data_dir {given}: {error}") from None
    for name, limit in (("train", data_args.max_train_samples), ("validation", data_args.max_eval_samples)):
        if limit is not None:  # a seeded random subset, not the first clips (those are one actor's)
            splits[name] = splits[name].shuffle(seed=seed).select(range(min(limit, len(splits[name]))))
    for name, part in splits.items():
        if len(part) == 0:
            raise SystemExit(f"error: the {name} split of {given} is empty (--split {data_args.split})")
    for source, report in reports.items():
        (logger.warning if report.skipped else logger.info)("%s: %s", source, report.summary())
    logger.info("split %r (seed %d): %d train, %d validation clips", data_args.split, seed, *map(len, splits.values()))
    return splits, reports


def label_names(splits: datasets.DatasetDict) -> list[str]:
    """The data's label set, in its order (CREMA-D's six emotions, or your own labels)."""
    return list(splits["train"].features["label"].names)


def training_data_record(data_args: DataArguments, splits: datasets.DatasetDict, seed: int) -> dict[str, Any]:
    """What a saved model records about its data, so a student can check it learns from the same split."""
    sources = describe_sources(list(splits.values()), data_args.data_dir)
    folders = [str(Source.parse(spec).path.resolve()) for spec in data_args.data_dir]
    actors = (set(splits["train"]["actor_id"]) | set(splits["validation"]["actor_id"])) - {None}
    return {
        "data_dir": folders[0] if len(folders) == 1 else folders,
        "corpus": "+".join(source["corpus"] for source in sources),
        "sources": sources,
        "labels": label_names(splits),
        "actors": len(actors),
        "split": data_args.split,
        "test_size": data_args.test_size,
        "seed": data_args.seed_of_split(seed),
        "training_seed": seed,
        "max_duration_s": data_args.max_duration_s,
        "eval_max_duration_s": data_args.eval_max_duration_s or data_args.max_duration_s,
        "train_crop": data_args.train_crop,
        "speed_perturbation": data_args.speed_perturbation,
        "noise_snr_db": data_args.noise_snr_db,
        "num_train": len(splits["train"]),
        "num_validation": len(splits["validation"]),
        "validation_actors": sorted(set(splits["validation"]["actor_id"]) - {None}),
    }


class AudioTransform:
    """`Dataset.set_transform` callable: decode, take the clip's window (or view), augment, normalise.

    Decoding happens here, on the fly, from the Arrow cache: nothing decoded is held in memory between batches.
    Every random choice (window, view, speed, noise) is drawn from a generator seeded by (seed, epoch, clip id),
    never from a running random state: a run resumed from a checkpoint sees exactly the crops an uninterrupted run
    sees (`EpochCallback` tells the transform the epoch). `targets` adds the teacher's logits of each clip, or of
    the view of it that the student gets (view-consistent distillation); `hints` each clip's feature-hint targets
    (anything with `lookup(clip_id)`, see `teachers.FeatureHints`)."""

    def __init__(
        self,
        feature_extractor: FeatureExtractionMixin,
        max_samples: int,
        random_crop: bool = False,
        seed: int = 0,
        targets=None,
        augmentation: Augmentation | None = None,
        hints=None,
    ):
        self.feature_extractor = feature_extractor
        self.max_samples = max_samples
        self.random_crop = random_crop
        self.seed = seed
        self.targets = targets
        self.augmentation = augmentation or Augmentation()
        self.hints = hints
        self.epoch = 0

    def rng(self, clip_id: str) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, zlib.crc32(clip_id.encode())])

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        clips, soft = [], []
        views = self.targets.views if self.targets is not None else None
        for audio, clip_id in zip(batch["audio"], batch["id"]):
            rng = self.rng(clip_id)
            waveform = load_audio(audio)
            if views:  # the student hears its window of one cached view; the teacher's logits are for that view
                index = int(rng.integers(len(views)))
                view = views[index]
                waveform = apply_view(waveform, View(view.speed, view.offset_s, self.max_samples / SAMPLING_RATE))
            else:
                index = 0
                waveform = change_speed(waveform, self.augmentation.draw_speed(rng))
                offset = random_offset(waveform.size, self.max_samples, rng) if self.random_crop else 0
                waveform = crop(waveform, self.max_samples, offset)
            clips.append(self.augmentation.add_noise(waveform, rng))
            if self.targets is not None:
                soft.append(self.targets.lookup(clip_id, index))
        features = self.feature_extractor(clips, sampling_rate=SAMPLING_RATE, return_attention_mask=False)
        output = {"input_values": list(features["input_values"]), "labels": list(batch["label"])}
        if self.targets is not None:
            output[TEACHER_LOGITS] = soft
        if self.hints is not None:
            output[HINT_TARGETS] = [self.hints.lookup(clip_id) for clip_id in batch["id"]]
        return output


@dataclass
class Augmentation:
    """Training-time augmentation of the student's waveform (every field off by default: the paper's recipe).

    No gain augmentation: each clip is normalised to zero mean and unit variance, which undoes any gain."""

    speeds: tuple[float, ...] = ()
    noise_snr_db: tuple[float, float] | None = None

    def draw_speed(self, rng: np.random.Generator) -> float:
        return float(rng.choice(self.speeds)) if self.speeds else 1.0

    def add_noise(self, waveform: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """White noise at a signal-to-noise ratio drawn uniformly from `noise_snr_db` (in dB)."""
        if self.noise_snr_db is None:
            return waveform
        snr_db = rng.uniform(*self.noise_snr_db)
        power = float(np.mean(np.square(waveform, dtype=np.float64)))
        noise = rng.standard_normal(waveform.size) * np.sqrt(power / 10 ** (snr_db / 10))
        return (waveform + noise).astype(np.float32)


class EpochCallback(TrainerCallback):
    """Tells the training transform which epoch starts, so that its random draws depend on (seed, epoch, clip)."""

    def __init__(self, transform: AudioTransform):
        self.transform = transform

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.transform.epoch = int(math.floor(state.epoch or 0))


class DivergenceCallback(TrainerCallback):
    """Stops training at the first step whose update left a weight NaN or infinite, before that model is evaluated
    or saved. transformers logs such a run's loss as a finite number (`logging_nan_inf_filter`) and trains on to
    the end at chance; this names the step and the last checkpoint saved before it. (Mixed-precision steps whose
    gradients overflow are skipped by the loss scaler and never change a weight, so they do not stop training.)"""

    def on_step_end(self, args, state, control, model=None, **kwargs):
        with torch.no_grad():  # one reduction, one device sync: any NaN or inf makes the sum non-finite
            total = torch.stack([parameter.sum() for parameter in model.parameters()]).sum()
        if torch.isfinite(total):
            return
        last = get_last_checkpoint(args.output_dir) if Path(args.output_dir).is_dir() else None
        raise SystemExit(
            f"error: training diverged at step {state.global_step} (epoch {state.epoch:.2f}): the model's weights "
            f"are no longer finite (NaN or inf). "
            + (f"The last checkpoint saved before it: {last}. " if last else "No checkpoint was saved before it. ")
            + "Try a lower --learning_rate or --max_grad_norm."
        )


class AudioCollator:
    """Pads a list of normalised clips to the longest; an attention mask only for models that take one."""

    def __init__(self, feature_extractor: FeatureExtractionMixin):
        self.feature_extractor = feature_extractor

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        batch = self.feature_extractor.pad(
            {"input_values": [np.asarray(f["input_values"], dtype=np.float32) for f in features]},
            return_attention_mask=bool(self.feature_extractor.return_attention_mask),
            return_tensors="pt",
        )
        batch["labels"] = torch.tensor([f["labels"] for f in features], dtype=torch.long)
        for key in features[0].keys() - {"input_values", "labels"}:
            batch[key] = torch.tensor(np.stack([f[key] for f in features]), dtype=torch.float32)
        return dict(batch)


def set_transforms(
    splits: datasets.DatasetDict,
    feature_extractor: FeatureExtractionMixin,
    data_args: DataArguments,
    seed: int,
    targets=None,
    hints=None,
) -> AudioTransform:
    """Training clips get the training crop, augmentation and any teacher targets and feature hints; validation
    clips the first evaluation window. Returns the training transform (for `EpochCallback`)."""
    augmentation = Augmentation(
        speeds=tuple(data_args.speed_perturbation or ()),
        noise_snr_db=tuple(data_args.noise_snr_db) if data_args.noise_snr_db else None,
    )
    random_crop = data_args.train_crop == "random"
    train_transform = AudioTransform(
        feature_extractor, data_args.max_samples, random_crop, seed, targets, augmentation, hints
    )
    splits["train"].set_transform(train_transform)
    splits["validation"].set_transform(AudioTransform(feature_extractor, data_args.eval_max_samples))
    return train_transform


class LabelledMetrics:
    """The Trainer's `compute_metrics`: `metrics_from_logits` of its predictions, per-class recall by label name."""

    def __init__(self, names: list[str]):
        self.names = names

    def __call__(self, eval_pred) -> dict[str, float]:
        logits = eval_pred.predictions
        logits = logits[0] if isinstance(logits, tuple) else logits
        return metrics_from_logits(logits, eval_pred.label_ids, self.names)


def metrics_from_logits(logits: np.ndarray, labels: np.ndarray, names: list[str] | None = None) -> dict[str, float]:
    """Accuracy, unweighted average recall (UAR), macro precision/recall/F1 and per-class recall (`recall_<name>`,
    `names` in label order; the class index without them), by scikit-learn."""
    predictions = np.argmax(logits, axis=-1)
    classes = list(range(logits.shape[-1]))
    precision, recall, f1, _ = precision_recall_fscore_support(
        labels, predictions, labels=classes, average="macro", zero_division=0
    )
    per_class = precision_recall_fscore_support(labels, predictions, labels=classes, average=None, zero_division=0)[1]
    metrics = {
        "accuracy": float(np.mean(predictions == labels)),
        "uar": float(balanced_accuracy_score(labels, predictions)),
        "macro_precision": float(precision),
        "macro_recall": float(recall),
        "macro_f1": float(f1),
    }
    names = names or [str(c) for c in classes]
    metrics.update({f"recall_{name}": float(value) for name, value in zip(names, per_class)})
    return metrics


class MeanLossTrainer(Trainer):
    """A `Trainer` told that the model's loss is already a batch mean.

    transformers assumes a model whose `forward` takes `**kwargs` normalises its loss by `num_items_in_batch`
    itself, and then neither divides it by the gradient-accumulation steps nor leaves it alone across processes
    (it multiplies by the world size). Audio classifiers return a plain mean cross-entropy, so both corrections
    are needed: with this flag off the loss has the same scale for any accumulation and any number of processes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.model_accepts_loss_kwargs = False

    def _get_train_sampler(self, train_dataset=None):
        """`--train_sampling_strategy group_by_length` with each clip's length read from the table (`duration_s`):
        the stock sampler cannot read a column through the decoding transform. Batches of similar lengths make
        whole-clip training (`--max_duration_s 6`) pad little."""
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        if not self._groups_by_length(dataset):
            return super()._get_train_sampler(train_dataset)
        batch_size = self.args.train_batch_size * self.args.gradient_accumulation_steps
        return LengthGroupedSampler(batch_size, lengths=self._table_lengths(dataset))

    def _get_eval_sampler(self, eval_dataset):
        """Evaluation batches grouped the same way, in the stock sampler's seeded order."""
        if not self._groups_by_length(eval_dataset):
            return super()._get_eval_sampler(eval_dataset)
        seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
        generator = torch.Generator().manual_seed(seed)
        return LengthGroupedSampler(
            self.args.eval_batch_size, lengths=self._table_lengths(eval_dataset), generator=generator
        )

    def _groups_by_length(self, dataset) -> bool:
        return self.args.train_sampling_strategy == "group_by_length" and isinstance(dataset, datasets.Dataset)

    def _table_lengths(self, dataset: datasets.Dataset) -> list[float]:
        column = self.args.length_column_name
        if column not in dataset.column_names:
            raise ValueError(
                f"--train_sampling_strategy group_by_length: the table has no column {column!r} "
                f"(--length_column_name); it has {dataset.column_names}"
            )
        return list(dataset.with_format(None)[column])


def build_trainer(
    trainer_class: type[Trainer],
    model,
    training_args: PaperTrainingArguments,
    splits: datasets.DatasetDict,
    feature_extractor: FeatureExtractionMixin,
    train_transform: AudioTransform,
) -> Trainer:
    """The Trainer both scripts use: train/validation splits, the audio collator, sklearn metrics, early stopping,
    the epoch callback that keeps random crops reproducible across a resume, and a stop at the first NaN weight."""
    return trainer_class(
        model=model,
        args=training_args,
        train_dataset=splits["train"],
        eval_dataset=splits["validation"],
        data_collator=AudioCollator(feature_extractor),
        processing_class=feature_extractor,
        compute_metrics=LabelledMetrics(label_names(splits)),
        callbacks=[EpochCallback(train_transform), DivergenceCallback(), *early_stopping_callbacks(training_args)],
    )


def early_stopping_callbacks(training_args: PaperTrainingArguments) -> list:
    if training_args.early_stopping_patience > 0 and training_args.eval_strategy != "no":
        return [EarlyStoppingCallback(early_stopping_patience=training_args.early_stopping_patience)]
    return []


def train_and_evaluate(trainer: Trainer, training_args: TrainingArguments, labels: list[str]) -> dict[str, float]:
    """Train (resuming if asked), save the model, evaluate, and write metrics and the confusion matrix."""
    if training_args.do_train:
        result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
        result.metrics["world_size"] = training_args.world_size
        trainer.save_model()
        trainer.log_metrics("train", result.metrics)
        trainer.save_metrics("train", result.metrics)
        trainer.save_state()
    prediction = trainer.predict(trainer.eval_dataset, metric_key_prefix="eval")
    metrics = prediction.metrics
    trainer.log_metrics("eval", metrics)
    trainer.save_metrics("eval", metrics)
    if trainer.is_world_process_zero():
        predictions = np.argmax(prediction.predictions, axis=-1)
        save_confusion_matrix(prediction.label_ids, predictions, labels, Path(training_args.output_dir))
    return metrics


def save_confusion_matrix(
    labels: np.ndarray, predictions: np.ndarray, names: list[str], output_dir: Path
) -> np.ndarray:
    """`confusion_matrix.json` (rows: true emotion, columns: predicted) and the same as a readable PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = confusion_matrix(labels, predictions, labels=list(range(len(names))))
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "confusion_matrix.json").write_text(
        json.dumps({"labels": names, "rows": "true", "columns": "predicted", "matrix": matrix.tolist()}, indent=1)
    )
    figure, axes = plt.subplots(figsize=(6.4, 5.6))
    image = axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(names)), names, rotation=35, ha="right")
    axes.set_yticks(range(len(names)), names)
    axes.set_xlabel("predicted emotion")
    axes.set_ylabel("true emotion")
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    axes.set_title(f"Validation confusion matrix ({matrix.sum()} clips, accuracy {accuracy:.3f})")
    threshold = matrix.max() / 2 if matrix.size else 0
    for (row, column), count in np.ndenumerate(matrix):
        axes.text(column, row, str(count), ha="center", va="center", color="white" if count > threshold else "black")
    figure.colorbar(image, ax=axes, fraction=0.046)
    figure.tight_layout()
    figure.savefig(output_dir / "confusion_matrix.png", dpi=120)
    plt.close(figure)
    return matrix


def parse_args(parser, argv: list[str] | None):
    """`script.py args.json [--flag value ...]` or flags, as in the transformers examples: the JSON file's values
    come first and flags after it override them (`train_student.py configs/recipe.json --data_dir ... --seed 1`)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0].endswith(".json"):
        path = Path(argv[0])
        if not path.is_file():
            raise SystemExit(f"error: arguments file {path}: no such file")
        try:
            values = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise SystemExit(f"error: arguments file {path}: not valid JSON ({error})") from None
        argv = json_to_flags(values) + argv[1:]
    return parser.parse_args_into_dataclasses(args=argv)


def json_to_flags(values: dict[str, Any]) -> list[str]:
    """{"lr": 1e-3, "speeds": [0.9, 1.1], "flag": true} -> ["--lr", "0.001", "--speeds", "0.9", "1.1", "--flag", "true"]."""
    flags = []
    for name, value in values.items():
        if isinstance(value, list):
            flags += [f"--{name}", *map(str, value)]
        elif isinstance(value, dict):
            flags += [f"--{name}", json.dumps(value)]
        elif isinstance(value, bool):
            flags += [f"--{name}", str(value).lower()]
        elif value is not None:
            flags += [f"--{name}", str(value)]
    return flags
