"""Fine-tune the teacher: `Wav2Vec2ForSequenceClassification` (or any audio classifier) on CREMA-D.

    # the paper's teacher, on a GPU machine with hub access
    accelerate launch train_teacher.py --data_dir CREMA-D/AudioWAV --output_dir ./teacher
    # offline: a tiny wav2vec2 trained from scratch (how the tests run)
    python train_teacher.py --config_name tests/fixtures/tiny_wav2vec2.json --data_dir demo/AudioWAV \
        --output_dir ./teacher --num_train_epochs 5
    # or every flag in a JSON file
    python train_teacher.py args.json

Writes a folder that `AutoModelForAudioClassification` and `AutoFeatureExtractor` load, with the labels, the
preprocessing and the split it was trained on (`config.json` -> `training_data`), `all_results.json`, and the
validation confusion matrix as JSON and PNG.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from transformers import (
    AutoConfig,
    AutoFeatureExtractor,
    AutoModelForAudioClassification,
    HfArgumentParser,
    PreTrainedModel,
    Wav2Vec2FeatureExtractor,
    set_seed,
)

import modeling_litecnn  # noqa: F401  (registers LiteCNN with the Auto classes: a LiteCNN can be a teacher too)
from data.audio import SAMPLING_RATE
from litecnn_ser.arguments import DataArguments, PaperTrainingArguments, parse_args
from litecnn_ser.splits import TRAINING_DATA_KEY, label_names, load_splits, training_data_record
from litecnn_ser.trainer import MeanLossTrainer, build_trainer, setup_logging, train_and_evaluate
from litecnn_ser.transforms import set_transforms

logger = logging.getLogger("train_teacher")

PAPER_TEACHER = "facebook/wav2vec2-large-960h-lv60-self"


@dataclass
class TeacherModelArguments:
    model_name_or_path: str = field(
        default=PAPER_TEACHER,
        metadata={
            "help": "Hub id or local folder of a pretrained checkpoint: the paper's wav2vec2-large-960h-lv60-self, "
            "facebook/wav2vec2-base (the paper's '94.6M parameters'), or any AutoModelForAudioClassification "
            "checkpoint (HuBERT, WavLM, ...). Ignored when --config_name is given."
        },
    )
    config_name: str | None = field(
        default=None,
        metadata={
            "help": "A config.json to train from scratch instead (no download), e.g. tests/fixtures/tiny_wav2vec2.json."
        },
    )
    freeze_feature_encoder: bool = field(
        default=True, metadata={"help": "Freeze the convolutional feature encoder of wav2vec2-like models."}
    )
    model_cache_dir: str | None = field(default=None, metadata={"help": "Where downloaded checkpoints are stored."})


def build_teacher(
    model_args: TeacherModelArguments, labels: list[str]
) -> tuple[PreTrainedModel, Wav2Vec2FeatureExtractor]:
    """The model with a fresh `len(labels)`-way head, and its feature extractor; one clear error when offline."""
    label_kwargs = {
        "num_labels": len(labels),
        "id2label": dict(enumerate(labels)),
        "label2id": {label: index for index, label in enumerate(labels)},
    }
    if model_args.config_name:
        if not Path(model_args.config_name).is_file():
            raise SystemExit(f"error: --config_name {model_args.config_name}: no such file")
        config = AutoConfig.from_pretrained(model_args.config_name, **label_kwargs)
        model = AutoModelForAudioClassification.from_config(config)
        # Group-norm models (wav2vec2-base style) were trained without attention masks and must not get one.
        takes_mask = getattr(config, "feat_extract_norm", "layer") == "layer"
        feature_extractor = Wav2Vec2FeatureExtractor(
            sampling_rate=SAMPLING_RATE, do_normalize=True, return_attention_mask=takes_mask
        )
        logger.info("training %s from scratch (%s)", config.model_type, model_args.config_name)
    else:
        name, cache = model_args.model_name_or_path, model_args.model_cache_dir
        try:
            original = AutoConfig.from_pretrained(name, cache_dir=cache)
            feature_extractor = AutoFeatureExtractor.from_pretrained(name, cache_dir=cache)
            model = AutoModelForAudioClassification.from_pretrained(
                name, cache_dir=cache, ignore_mismatched_sizes=True, **label_kwargs
            )
        except OSError as error:
            raise SystemExit(
                f"error: --model_name_or_path {name}: cannot load it ({str(error).splitlines()[0]}). If the hub is "
                "unreachable, pass a local folder with --model_name_or_path, or train from scratch with "
                "--config_name CONFIG.json (e.g. tests/fixtures/tiny_wav2vec2.json)."
            ) from None
        old_labels = list((getattr(original, "id2label", None) or {}).values())
        is_classifier = any(arch.endswith("Classification") for arch in original.architectures or [])
        if is_classifier and old_labels != labels:
            logger.warning(
                "%s has a %d-way classifier (%s): it is replaced by a new %d-way head for %s",
                name,
                len(old_labels),
                old_labels,
                len(labels),
                labels,
            )
    if getattr(feature_extractor, "sampling_rate", SAMPLING_RATE) != SAMPLING_RATE:
        raise SystemExit(
            f"error: the feature extractor expects {feature_extractor.sampling_rate} Hz, the data is 16 kHz"
        )
    if model_args.freeze_feature_encoder and hasattr(model, "freeze_feature_encoder"):
        model.freeze_feature_encoder()
    return model, feature_extractor


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = HfArgumentParser((TeacherModelArguments, DataArguments, PaperTrainingArguments))
    model_args, data_args, training_args = parse_args(parser, argv)
    setup_logging(training_args)
    set_seed(training_args.seed)

    splits, _ = load_splits(data_args, training_args.seed)
    labels = label_names(splits)
    model, feature_extractor = build_teacher(model_args, labels)
    setattr(model.config, TRAINING_DATA_KEY, training_data_record(data_args, splits, training_args.seed))
    train_transform = set_transforms(splits, feature_extractor, data_args, training_args.seed)
    logger.info(
        "teacher: %s, %.1fM parameters (%.1fM trainable)",
        model.config.model_type,
        model.num_parameters() / 1e6,
        model.num_parameters(only_trainable=True) / 1e6,
    )

    trainer = build_trainer(MeanLossTrainer, model, training_args, splits, feature_extractor, train_transform)
    metrics = train_and_evaluate(trainer, training_args, labels)
    if training_args.push_to_hub and trainer.is_world_process_zero():
        trainer.push_to_hub(finetuned_from=None if model_args.config_name else model_args.model_name_or_path)
    return metrics


if __name__ == "__main__":
    main()
