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

import logging
from dataclasses import dataclass, field, fields
from pathlib import Path

from transformers import (
    AutoConfig,
    AutoFeatureExtractor,
    AutoModelForAudioClassification,
    HfArgumentParser,
    Wav2Vec2FeatureExtractor,
    set_seed,
)

from configuration_litecnn import LiteCNNConfig
from data.audio import SAMPLING_RATE
from data.cremad import EMOTIONS
from distillation import TEACHER_LOGITS, DistillationTrainer, DistillationTrainingArguments, cached_teacher_logits
from model_card import write_model_card
from modeling_litecnn import LiteCNNForAudioClassification
from training_utils import (
    TRAINING_DATA_KEY,
    DataArguments,
    build_trainer,
    load_splits,
    parse_args,
    set_transforms,
    setup_logging,
    train_and_evaluate,
    training_data_record,
)

logger = logging.getLogger("train_student")


@dataclass
class StudentModelArguments:
    teacher: str | None = field(
        default=None,
        metadata={
            "help": "Folder of the teacher (any AutoModelForAudioClassification, e.g. train_teacher.py's "
            "output). Without it the student trains from scratch with cross-entropy."
        },
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
    student_config: str | None = field(
        default=None, metadata={"help": "A LiteCNN config.json to start from (the flags below override it)."}
    )
    stem_channels: int | None = field(default=None, metadata={"help": "LiteCNN stem width (default 32)."})
    stem_pool: int | None = field(default=None, metadata={"help": "Max-pool after the stem (default 4; 1 = paper)."})
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
            "teacher_batch_size",
            "teacher_max_duration_s",
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


def load_teacher(teacher_dir: str, labels: list[str], data_record: dict):
    """The teacher and its feature extractor; one clear error for a missing folder or other labels, before training."""
    folder = Path(teacher_dir)
    if not (folder / "config.json").is_file():
        raise SystemExit(f"error: --teacher {teacher_dir}: not a model folder (no config.json)")
    config = AutoConfig.from_pretrained(folder, trust_remote_code=True)
    teacher_labels = [config.id2label[i] for i in range(config.num_labels)]
    if teacher_labels != labels:
        raise SystemExit(
            f"error: --teacher {teacher_dir} predicts {teacher_labels}, but the data's labels are {labels}: "
            "distillation needs the same labels in the same order"
        )
    recorded = getattr(config, TRAINING_DATA_KEY, None)
    if recorded is None:
        logger.warning(
            "--teacher %s does not record its training split: make sure it never saw the validation clips", teacher_dir
        )
    else:
        mismatched = [k for k in ("split", "test_size", "seed", "num_validation") if recorded.get(k) != data_record[k]]
        if mismatched:
            raise SystemExit(
                f"error: --teacher {teacher_dir} was trained on another split ({', '.join(f'{k}={recorded.get(k)!r}' for k in mismatched)}; "
                f"this run: {', '.join(f'{k}={data_record[k]!r}' for k in mismatched)}): its logits would leak validation "
                "clips into training. Use the teacher's --split, --test_size and --seed."
            )
    teacher = AutoModelForAudioClassification.from_pretrained(folder, trust_remote_code=True)
    return teacher, AutoFeatureExtractor.from_pretrained(folder)


def teacher_targets(model_args, data_args, training_args, train_split, data_record: dict) -> tuple[dict, dict]:
    """The teacher's logits for every training clip (computed once, then cached) and what to record about them."""
    teacher, teacher_extractor = load_teacher(model_args.teacher, list(EMOTIONS), data_record)
    recorded = getattr(teacher.config, TRAINING_DATA_KEY, None) or {}
    teacher_window = model_args.teacher_max_duration_s or recorded.get("max_duration_s", data_args.max_duration_s)
    with training_args.main_process_first(desc="teacher logits"):  # rank 0 computes, the others read the cache
        logits, cache_file, reused = cached_teacher_logits(
            Path(model_args.teacher),
            teacher,
            teacher_extractor,
            train_split,
            int(round(teacher_window * SAMPLING_RATE)),
            model_args.teacher_batch_size,
        )
    record = {
        "teacher": model_args.teacher,
        "teacher_model_type": teacher.config.model_type,
        "teacher_parameters": teacher.num_parameters(),
        "teacher_max_duration_s": teacher_window,
        "alpha": training_args.alpha,
        "temperature": training_args.temperature,
        "teacher_logits_cache": str(cache_file),
        "teacher_logits_reused": reused,
    }
    return {TEACHER_LOGITS: logits}, record


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = HfArgumentParser((StudentModelArguments, DataArguments, DistillationTrainingArguments))
    model_args, data_args, training_args = parse_args(parser, argv)
    setup_logging(training_args)
    set_seed(training_args.seed)
    if training_args.push_to_hub:
        check_hub_access(training_args.hub_model_id)

    labels = list(EMOTIONS)
    with training_args.main_process_first(desc="preparing the dataset"):
        splits, _ = load_splits(data_args, training_args.seed)
    data_record = training_data_record(data_args, splits, training_args.seed)
    model = build_student(model_args, labels)
    feature_extractor = student_feature_extractor()

    extra, distilled_from = None, None
    if model_args.teacher:
        extra, distilled_from = teacher_targets(model_args, data_args, training_args, splits["train"], data_record)
    else:
        training_args.alpha = 1.0  # no teacher: plain cross-entropy (the paper's "Student" column)
    setattr(model.config, TRAINING_DATA_KEY, data_record)
    model.config.distillation = distilled_from
    set_transforms(splits, feature_extractor, data_args, training_args.seed, extra)
    logger.info(
        "student: LiteCNN, %d parameters, %s", model.num_parameters(), "distilled" if extra else "from scratch"
    )

    trainer = build_trainer(StudentTrainer, model, training_args, splits, feature_extractor)
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
