"""The `Trainer` both training scripts build: a batch-mean loss, length-grouped sampling, the audio collator,
sklearn metrics, early stopping, reproducible random crops across a resume, a stop at the first NaN weight; and the
train, save, evaluate and report sequence."""

from __future__ import annotations

import logging
import math
import sys
from pathlib import Path

import datasets
import numpy as np
import torch
from torch.utils.data import WeightedRandomSampler
from transformers import EarlyStoppingCallback, FeatureExtractionMixin, Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_pt_utils import LengthGroupedSampler
from transformers.trainer_utils import get_last_checkpoint

from litecnn_ser.arguments import PaperTrainingArguments
from litecnn_ser.metrics import LabelledMetrics, save_confusion_matrix
from litecnn_ser.splits import label_names
from litecnn_ser.transforms import AudioCollator, AudioTransform


def setup_logging(training_args: TrainingArguments) -> None:
    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        handlers=[logging.StreamHandler(sys.stdout)],
    )
    level = training_args.get_process_log_level()
    for name in ("litecnn_ser", "data", "train_teacher", "train_student"):
        logging.getLogger(name).setLevel(level)
    datasets.utils.logging.set_verbosity(level)


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


class MeanLossTrainer(Trainer):
    """A `Trainer` told that the model's loss is already a batch mean.

    transformers assumes a model whose `forward` takes `**kwargs` normalises its loss by `num_items_in_batch`
    itself, and then neither divides it by the gradient-accumulation steps nor leaves it alone across processes
    (it multiplies by the world size). Audio classifiers return a plain mean cross-entropy, so both corrections
    are needed: with this flag off the loss has the same scale for any accumulation and any number of processes."""

    def __init__(self, *args, corpus_balance: float = 0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.model_accepts_loss_kwargs = False
        self.corpus_balance = corpus_balance

    def _get_train_sampler(self, train_dataset=None):
        """`--corpus_balance`: clips drawn with weights that even out a mix's corpora. Else
        `--train_sampling_strategy group_by_length` with each clip's length read from the table (`duration_s`):
        the stock sampler cannot read a column through the decoding transform. Batches of similar lengths make
        whole-clip training (`--max_duration_s 6`) pad little."""
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        if self.corpus_balance > 0 and isinstance(dataset, datasets.Dataset) and "corpus" in dataset.column_names:
            weights = corpus_weights(dataset.with_format(None)["corpus"], self.corpus_balance)
            # no generator: like the stock RandomSampler, it draws its seed from torch's (seeded, checkpointed) RNG
            return WeightedRandomSampler(weights, num_samples=len(dataset), replacement=True)
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


def corpus_weights(corpora: list[str], balance: float) -> torch.Tensor:
    """Each clip's sampling weight, n_c ** -balance for a clip of a corpus of n_c clips: 0 leaves the mix as it is,
    1 gives every corpus the same expected share of an epoch."""
    names, counts = np.unique(np.asarray(corpora, dtype=object).astype(str), return_counts=True)
    size = dict(zip(names.tolist(), counts.tolist()))
    return torch.tensor([size[str(name)] ** -balance for name in corpora], dtype=torch.double)


def build_trainer(
    trainer_class: type[MeanLossTrainer],
    model,
    training_args: PaperTrainingArguments,
    splits: datasets.DatasetDict,
    feature_extractor: FeatureExtractionMixin,
    train_transform: AudioTransform,
    corpus_balance: float = 0.0,
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
        corpus_balance=corpus_balance,
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
        # CPU results depend on it: one run at 1 and at 2 threads sums in another order and ends points apart
        result.metrics["torch_num_threads"] = torch.get_num_threads()
        # and on the CPU's instruction set: PyTorch picks other kernels on AVX512 than on AVX2 (another draw again)
        result.metrics["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
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
