"""Train LiteCNN on CREMA-D: distilled from a teacher (`--teacher DIR`) or from scratch (no `--teacher`).

    accelerate launch train_student.py --data_dir CREMA-D/AudioWAV --teacher ./teacher --output_dir ./student
    python train_student.py --data_dir CREMA-D/AudioWAV --output_dir ./student-scratch     # the paper's "Student"
    python train_student.py args.json

The teacher's logits are computed once before training (eval mode, no gradients, batched) and cached beside the
prepared dataset under a key of the teacher's weights, its preprocessing, the window and the clips: a second run
reuses them, a different teacher recomputes them. The output folder is hub-ready: weights, `config.json` (labels,
the split, the teacher), `preprocessor_config.json`, the two model files for `trust_remote_code`, a model card,
metrics and the confusion matrix. `--push_to_hub --hub_model_id org/litecnn-cremad` uploads it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
from transformers import HfArgumentParser, Wav2Vec2FeatureExtractor, set_seed

from configuration_litecnn import LiteCNNConfig
from data.audio import SAMPLING_RATE
from data.functionals import FEATURE_SETS
from data.views import View, view_grid
from litecnn_ser.arguments import DataArguments, parse_args
from litecnn_ser.crowd_votes import MODALITIES
from litecnn_ser.distillation import (
    DistillationTrainer,
    DistillationTrainingArguments,
    attach_corpus_head,
    attach_hint_head,
)
from litecnn_ser.metrics import metrics_from_logits
from litecnn_ser.mixstyle import MIXSTYLE_LAYERS
from litecnn_ser.model_card import write_model_card
from litecnn_ser.splits import TRAINING_DATA_KEY, label_names, load_splits, training_data_record
from litecnn_ser.teachers import (
    LOGIT_SOURCES,
    FeatureHints,
    ModelTeacher,
    TeacherTargets,
    cached_logits,
    check_teacher,
    ensemble_logits,
    open_teacher,
)
from litecnn_ser.trainer import build_trainer, setup_logging, train_and_evaluate
from litecnn_ser.transforms import set_transforms
from modeling_litecnn import LiteCNNForAudioClassification

logger = logging.getLogger("train_student")


@dataclass
class StudentModelArguments:
    teacher: list[str] | None = field(
        default=None,
        metadata={
            "help": "Teacher folder(s): any AutoModelForAudioClassification (train_teacher.py's output) or a "
            "classical teacher (train_feature_teacher.py's), or CREMA-D's crowd votes (tabulatedVotes.csv). "
            "Several: an ensemble (mean probability). Without it the student trains from scratch with cross-entropy."
        },
    )
    votes_modality: str = field(
        default="audiovisual",
        metadata={
            "help": "Which of CREMA-D's three ratings of a clip a votes table (tabulatedVotes.csv) teaches: "
            "audiovisual (listeners saw and heard the clip; the default, what every committed votes run used), "
            "voice (they heard the audio alone) or face (they saw the video alone). litecnn_ser/crowd_votes.py.",
            "choices": list(MODALITIES),
        },
    )
    teacher_logits: str = field(
        default="in_sample",
        metadata={
            "help": f"Which logits of the training clips: one of {LOGIT_SOURCES}. out_of_fold: each clip scored by a "
            "fit that never heard its actor (classical teachers trained with --oof_folds)."
        },
    )
    view_speeds: list[float] | None = field(
        default=None,
        metadata={
            "help": "View-consistent distillation: cache the teacher's logits for these speed factors (e.g. 0.9 1.0 "
            "1.1) x --view_offsets_s, and train on a random cached view with the teacher's logits for that view."
        },
    )
    view_offsets_s: list[float] | None = field(
        default=None,
        metadata={"help": "Window starts (s) of the cached views, e.g. 0 0.5 1 1.5 (default with --view_speeds: 0)."},
    )
    teacher_batch_size: int = field(default=32, metadata={"help": "Batch size of the one teacher pass over the data."})
    teacher_max_duration_s: float | None = field(
        default=None,
        metadata={
            "help": "Window the teacher hears when its logits are computed (default: the window it was trained "
            "on, as recorded in its config, else --max_duration_s). A teacher that hears more of each clip "
            "than the student passes on what the student's window misses."
        },
    )
    hint_features: str | None = field(
        default=None,
        metadata={
            "help": f"Feature hint: the pooled embedding also regresses each training clip's standardised openSMILE "
            f"functionals, one of {FEATURE_SETS} (through a linear head used in training only; weight "
            "--hint_weight). With or without --teacher."
        },
    )
    hint_normalization: str = field(
        default="clips",
        metadata={
            "help": "How the hint's functionals are standardised: clips (over all training clips), corpus (then "
            "within each training corpus: a corpus's microphone, room and level leave the target) or speaker "
            "(then within each speaker's training clips: the target is how a clip departs from its speaker's "
            "usual voice and recording; the student still hears one clip)."
        },
    )
    student_config: str | None = field(
        default=None, metadata={"help": "A LiteCNN config.json to start from (the flags below override it)."}
    )
    stem_channels: int | None = field(default=None, metadata={"help": "LiteCNN stem width (default 32)."})
    stem_pool: int | None = field(default=None, metadata={"help": "Max-pool after the stem (default 4; 1 = paper)."})
    stem_normalization: str | None = field(
        default=None,
        metadata={
            "help": "utterance: divide each stem filter's output by its RMS over the clip (removes a recording's "
            "constant gain per band; default none, the paper)."
        },
    )
    block_channels: list[int] | None = field(
        default=None, metadata={"help": "Widths of the depthwise-separable blocks (default 64 128 256)."}
    )
    block_kernel_size: int | None = field(default=None, metadata={"help": "Depthwise kernel (default 3)."})
    pooling: str | None = field(default=None, metadata={"help": "Global pooling: mean (default) or mean_std."})
    classifier_hidden_size: int | None = field(
        default=None, metadata={"help": "Classifier hidden units (default 3928)."}
    )
    classifier_dropout: float | None = field(default=None, metadata={"help": "Classifier dropout (default 0.2)."})

    def config_overrides(self) -> dict:
        architecture = {f.name for f in fields(self)} - {
            "teacher",
            "teacher_logits",
            "view_speeds",
            "view_offsets_s",
            "teacher_batch_size",
            "teacher_max_duration_s",
            "hint_features",
            "hint_normalization",
            "student_config",
        }
        return {name: getattr(self, name) for name in sorted(architecture) if getattr(self, name) is not None}


def build_student(model_args: StudentModelArguments, labels: list[str]) -> LiteCNNForAudioClassification:
    label_kwargs = {"id2label": dict(enumerate(labels)), "label2id": {label: i for i, label in enumerate(labels)}}
    try:
        if model_args.student_config:
            config = LiteCNNConfig.from_pretrained(
                model_args.student_config, **model_args.config_overrides(), **label_kwargs
            )
        else:
            config = LiteCNNConfig(**model_args.config_overrides(), **label_kwargs)
    except (ValueError, OSError) as error:
        raise SystemExit(f"error: LiteCNN configuration: {error}") from None
    return LiteCNNForAudioClassification(config)


def student_feature_extractor() -> Wav2Vec2FeatureExtractor:
    """Zero-mean unit-variance per clip (the paper), 16 kHz, attention masks (LiteCNN pools over real frames only)."""
    return Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=SAMPLING_RATE, padding_value=0.0, do_normalize=True, return_attention_mask=True
    )


def student_views(model_args: StudentModelArguments) -> list[View]:
    """The cached views (the view grid), or the one fixed view of the classic cache."""
    if not model_args.view_speeds and not model_args.view_offsets_s:
        return [View()]
    return view_grid(model_args.view_speeds or [1.0], model_args.view_offsets_s or [0.0], None)


def teacher_targets(model_args, data_args, training_args, splits, data_record: dict):
    """Every teacher checked first (labels, split), then its logits (cached), combined; and what to record."""
    window = model_args.teacher_max_duration_s
    teachers = [
        open_teacher(folder, window, model_args.teacher_batch_size, model_args.votes_modality)
        for folder in model_args.teacher
    ]
    for folder, teacher in zip(model_args.teacher, teachers):
        check_teacher(teacher, folder, label_names(splits), data_record)
    for teacher in teachers:  # a model teacher without a recorded window hears what the student hears
        if isinstance(teacher, ModelTeacher) and teacher.window_s is None:
            teacher.window_s = data_args.max_duration_s
    views = student_views(model_args)
    members = []
    with training_args.main_process_first(desc="teacher logits"):  # rank 0 computes, the others read the cache
        for teacher in teachers:
            logits, cache_file, reused = cached_logits(teacher, splits["train"], views, model_args.teacher_logits)
            members.append((teacher, logits, cache_file, reused))
        ensemble_validation = ensemble_metrics(teachers, splits["validation"]) if len(teachers) > 1 else None
    combined = members[0][1] if len(members) == 1 else ensemble_logits([logits for _, logits, _, _ in members])
    targets = TeacherTargets(list(splits["train"]["id"]), combined, views if views != [View()] else None)
    labels = np.asarray(splits["train"]["label"])
    record = {
        **members[0][0].describe(),
        "members": [
            {
                **teacher.describe(),
                "train_accuracy": float(np.mean(logits[0].argmax(-1) == labels)),
                "validation": teacher_validation_metrics(teacher),
                "teacher_logits_cache": str(cache_file),
                "teacher_logits_reused": reused,
            }
            for teacher, logits, cache_file, reused in members
        ],
        "ensemble": "mean of probabilities" if len(members) > 1 else None,
        "ensemble_validation": ensemble_validation,
        "teacher_logits": model_args.teacher_logits,
        "views": [view.as_tuple() for view in views] if targets.views else None,
        "train_accuracy": float(np.mean(combined[0].argmax(-1) == labels)),
        "alpha": training_args.alpha,
        "temperature": training_args.temperature,
        "teacher_logits_cache": str(members[0][2]),
        "teacher_logits_reused": all(reused for *_, reused in members),
    }
    if len(members) > 1:
        record["teacher"] = [str(teacher.folder) for teacher, *_ in members]
        record["teacher_model_type"] = "ensemble of " + ", ".join(
            t.describe()["teacher_model_type"] for t, *_ in members
        )
        record["uses_speaker_statistics"] = any(t.describe()["uses_speaker_statistics"] for t, *_ in members)
    return targets, record


def feature_hints(model_args, training_args, splits) -> FeatureHints | None:
    """The training clips' standardised functionals when `--hint_features` asks for them (computed once, cached)."""
    if model_args.hint_features is None:
        if model_args.hint_normalization != "clips":
            raise SystemExit("error: --hint_normalization: there is no hint to normalise (add --hint_features)")
        return None
    if model_args.hint_features not in FEATURE_SETS:
        raise SystemExit(f"error: --hint_features must be one of {FEATURE_SETS}, got {model_args.hint_features!r}")
    with training_args.main_process_first(desc="feature hints"):
        try:
            return FeatureHints.from_dataset(splits["train"], model_args.hint_features, model_args.hint_normalization)
        except ValueError as error:
            raise SystemExit(f"error: {error}") from None


def adversarial_corpora(training_args, splits) -> list[str] | None:
    """The training corpora the corpus-adversarial head tells apart (in order of appearance), when it is asked for."""
    if training_args.corpus_adversarial_weight == 0:
        return None
    train = splits["train"]
    corpora = list(dict.fromkeys(train["corpus"])) if "corpus" in train.column_names else []
    if len(corpora) < 2:
        raise SystemExit(
            f"error: --corpus_adversarial_weight {training_args.corpus_adversarial_weight:g}: the training clips come "
            f"from {'one corpus' if corpora else 'a single corpus folder'}; give a mix (several --data_dir)"
        )
    return corpora


def ensemble_metrics(teachers: list, validation) -> dict:
    """The ensemble's own validation accuracy, UAR and macro-F1 (each member's validation logits are cached too)."""
    logits = [cached_logits(teacher, validation, [View()])[0][0] for teacher in teachers]
    metrics = metrics_from_logits(ensemble_logits(logits), np.asarray(validation["label"]))  # headline numbers only
    return {key: metrics[key] for key in ("accuracy", "uar", "macro_f1")}


def teacher_validation_metrics(teacher) -> dict | None:
    """The teacher's own validation metrics (its `eval_results.json`), if it has them."""
    path = Path(teacher.folder) / "eval_results.json"
    if not path.is_file():
        return None
    metrics = json.loads(path.read_text())
    return {
        key.removeprefix("eval_"): metrics[key]
        for key in ("eval_accuracy", "eval_uar", "eval_macro_f1")
        if key in metrics
    }


def parse_student_args(argv: list[str] | None = None):
    """(model, data, training) arguments from `[args.json] [--flag value ...]`."""
    parser = HfArgumentParser((StudentModelArguments, DataArguments, DistillationTrainingArguments))
    return parse_args(parser, argv)


def main(argv: list[str] | None = None) -> dict[str, float]:
    model_args, data_args, training_args = parse_student_args(argv)
    setup_logging(training_args)
    set_seed(training_args.seed)
    if training_args.push_to_hub:
        check_hub_access(training_args.hub_model_id)

    with training_args.main_process_first(desc="preparing the dataset"):
        splits, _ = load_splits(data_args, training_args.seed)
    labels = label_names(splits)
    data_record = training_data_record(data_args, splits, training_args.seed)
    model = build_student(model_args, labels)
    feature_extractor = student_feature_extractor()

    targets, distilled_from = None, None
    if model_args.teacher:
        targets, distilled_from = teacher_targets(model_args, data_args, training_args, splits, data_record)
    else:
        training_args.alpha = 1.0  # no teacher: plain cross-entropy (the paper's "Student" column)
    hints = feature_hints(model_args, training_args, splits)
    if hints is not None:
        attach_hint_head(model, hints.num_features)
    corpora = adversarial_corpora(training_args, splits)
    if corpora is not None:
        attach_corpus_head(model, len(corpora))
        model.config.corpus_adversarial = {
            "weight": training_args.corpus_adversarial_weight,
            "corpora": corpora,
            "how": "corpus head behind a gradient reversal (Ganin's ramp), training only",
        }
    setattr(model.config, TRAINING_DATA_KEY, data_record)
    model.config.distillation = distilled_from
    if training_args.mixup_alpha > 0:  # said only when used: a paper-recipe config is unchanged
        model.config.mixup = {"alpha": training_args.mixup_alpha, "how": "waveforms and every loss term"}
    if training_args.mixstyle_p > 0:
        model.config.mixstyle = {
            "p": training_args.mixstyle_p,
            "alpha": training_args.mixstyle_alpha,
            "layers": list(MIXSTYLE_LAYERS),
            "how": "per-clip channel statistics mixed with another clip's of the batch, training only",
        }
    if training_args.weight_averaging_decay > 0:
        model.config.weight_averaging = {
            "decay": training_args.weight_averaging_decay,
            "how": "exponential moving average of the weights and batch-norm statistics, evaluated, selected, saved",
        }
    if hints is not None:
        model.config.feature_hint = {**hints.describe(), "hint_weight": training_args.hint_weight}
    train_transform = set_transforms(splits, feature_extractor, data_args, training_args.seed, targets, hints, corpora)
    logger.info(
        "student: LiteCNN, %d parameters, %s", model.num_parameters(), "distilled" if targets else "from scratch"
    )

    trainer = build_trainer(
        StudentTrainer, model, training_args, splits, feature_extractor, train_transform, data_args.corpus_balance
    )
    metrics = train_and_evaluate(trainer, training_args, labels)
    if trainer.is_world_process_zero():
        trainer.create_model_card()
    if training_args.push_to_hub:
        trainer.push_to_hub()
    return metrics


class StudentTrainer(DistillationTrainer):
    """Writes this project's model card (labels, data, metrics beside the teacher's, limits) instead of the generic one."""

    def create_model_card(self, **kwargs) -> None:
        write_model_card(Path(self.args.output_dir), self.model, self.args)


def check_hub_access(hub_model_id: str | None) -> None:
    """Fails before any training when the upload cannot work, saying how to upload later."""
    from huggingface_hub import HfApi

    if not hub_model_id:
        raise SystemExit("error: --push_to_hub needs --hub_model_id ORG/NAME (e.g. org/litecnn-cremad)")
    try:
        HfApi().whoami()
    except Exception as error:  # offline, no token, or the hub is down: all mean the same to the user
        raise SystemExit(
            f"error: --push_to_hub {hub_model_id}: cannot reach the Hugging Face hub or no login "
            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}). Train without "
            f"--push_to_hub and upload the folder later: hf upload {hub_model_id} OUTPUT_DIR"
        ) from None


if __name__ == "__main__":
    main()
