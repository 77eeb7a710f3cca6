"""Knowledge distillation: the loss, its `Trainer`, and the teacher's logits computed once and cached.

    loss = alpha * CE(student, labels) + (1 - alpha) * T**2 * KL(softmax(teacher / T) || softmax(student / T))

The T**2 factor keeps the soft term's gradients on the same scale as the hard term's when T changes (Hinton et
al., 2015). The teacher never runs during student training: its logits come from a cached table (`teachers.py`),
and the trainer does not know or care what kind of teacher made them.

A feature hint (`--hint_features`) adds `hint_weight * MSE(head(pooled embedding), standardised functionals)`: a
linear head, used in training only and dropped from the saved model, maps the student's pooled embedding onto the
clip's openSMILE functionals (what the classical teachers see), asking the embedding to carry them (FitNets'
hints, Romero et al., 2015, with hand-crafted features as the hint).

Mixup (`--mixup_alpha`, Zhang et al., 2018; off by default, as in the paper): each training batch's waveforms are
mixed with a shuffled copy of the batch, `lam * x + (1 - lam) * x[perm]` with `lam ~ Beta(a, a)`, and the loss is
`lam * loss(targets) + (1 - lam) * loss(targets[perm])` for every term (labels, teacher logits, hints). A voice
heard over another clip's voice, room and microphone cannot be recognised by its recording alone. `lam` and `perm`
are drawn from the run's seed and the optimizer step, so a resumed run mixes exactly as an uninterrupted one.

MixStyle (`--mixstyle_p`, Zhou et al., 2021; off by default): in training, the stem's and the first block's
per-clip channel statistics are mixed with another clip's of the batch (`litecnn_ser/mixstyle.py`), so that a
recording's colouring of the early layers stops telling the emotion; drawn from the seed and step like mixup.

A corpus-adversarial head (`--corpus_adversarial_weight`, domain-adversarial training, Ganin & Lempitsky, 2015; off
by default) adds `weight * CE(head(reverse(pooled embedding)), corpus)` on a mix of corpora: a small MLP, used in
training only and dropped from the saved model like the hint head, learns which corpus a training clip came from,
while the gradient reversal hands the embedding the opposite gradient, scaled by `2 / (1 + exp(-10 p)) - 1` at
training progress `p` (Ganin's ramp: the head learns before the embedding is pushed), so that the recording setup
of a corpus becomes what the embedding cannot tell.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from litecnn_ser.arguments import PaperTrainingArguments
from litecnn_ser.mixstyle import mixing_styles, mixstyle_draws
from litecnn_ser.trainer import MeanLossTrainer, corpus_weights
from litecnn_ser.transforms import CORPUS_LABELS, HINT_TARGETS, TEACHER_LOGITS
from litecnn_ser.weight_averaging import TRAINING_WEIGHTS, WeightAveraging

logger = logging.getLogger(__name__)


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor,
    alpha: float = 0.5,
    temperature: float = 2.0,
) -> torch.Tensor:
    """`alpha * CE + (1 - alpha) * T**2 * KL(teacher || student)`, both terms averaged over the batch."""
    hard = F.cross_entropy(student_logits, labels)
    soft = F.kl_div(
        F.log_softmax(student_logits / temperature, dim=-1),
        F.log_softmax(teacher_logits / temperature, dim=-1),
        log_target=True,
        reduction="batchmean",
    )
    return alpha * hard + (1.0 - alpha) * temperature**2 * soft


@dataclass
class DistillationTrainingArguments(PaperTrainingArguments):
    alpha: float = field(
        default=0.5, metadata={"help": "Weight of the cross-entropy on true labels; 1 - alpha goes to the KL term."}
    )
    temperature: float = field(default=2.0, metadata={"help": "Softmax temperature T of the KL term (paper: 2)."})
    hint_weight: float = field(
        default=1.0, metadata={"help": "Weight of the feature-hint MSE (only with --hint_features)."}
    )
    corpus_adversarial_weight: float = field(
        default=0.0,
        metadata={
            "help": "Weight of a corpus-adversarial head behind a gradient reversal: the pooled embedding learns to "
            "hide which training corpus a clip came from (litecnn_ser/distillation.py; needs a mix of corpora). "
            "0: off (the paper)."
        },
    )
    mixup_alpha: float = field(
        default=0.0,
        metadata={
            "help": "Mixup of training waveforms with lam ~ Beta(a, a), every loss term mixed alike "
            "(litecnn_ser/distillation.py). 0: off (the paper)."
        },
    )
    mixstyle_p: float = field(
        default=0.0,
        metadata={
            "help": "Probability that a training batch mixes its clips' early-layer styles (MixStyle on the stem's "
            "and first block's channel statistics, litecnn_ser/mixstyle.py). 0: off (the paper)."
        },
    )
    mixstyle_alpha: float = field(
        default=0.1, metadata={"help": "MixStyle's Beta(a, a) for each clip's weight (the paper's 0.1)."}
    )
    weight_averaging_decay: float = field(
        default=0.0,
        metadata={
            "help": "Decay of a moving average of the weights (e.g. 0.997: about the last 330 steps) that is "
            "evaluated, selected and saved instead of the last step's (litecnn_ser/weight_averaging.py). 0: off (the paper)."
        },
    )

    def __post_init__(self):
        super().__post_init__()
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"--alpha must be in [0, 1], got {self.alpha}")
        if self.temperature <= 0:
            raise ValueError(f"--temperature must be positive, got {self.temperature}")
        if self.hint_weight < 0:
            raise ValueError(f"--hint_weight must be non-negative, got {self.hint_weight}")
        if self.corpus_adversarial_weight < 0:
            raise ValueError(
                f"--corpus_adversarial_weight must be non-negative (0: off), got {self.corpus_adversarial_weight}"
            )
        if self.mixup_alpha < 0:
            raise ValueError(f"--mixup_alpha must be non-negative (0: off), got {self.mixup_alpha}")
        if not 0.0 <= self.mixstyle_p <= 1.0:
            raise ValueError(f"--mixstyle_p must be a probability in [0, 1] (0: off), got {self.mixstyle_p}")
        if self.mixstyle_alpha <= 0:
            raise ValueError(f"--mixstyle_alpha must be positive, got {self.mixstyle_alpha}")
        if self.weight_averaging_decay != 0 and not 0.0 < self.weight_averaging_decay < 1.0:
            raise ValueError(f"--weight_averaging_decay must be in (0, 1) (0: off), got {self.weight_averaging_decay}")


STATISTICS_CLIPS = 256
"""Training clips that the averaged weights' batch-norm statistics are estimated on (`--weight_averaging_decay`)."""

HINT_HEAD = "hint_head"
"""Attribute of the student that holds the feature-hint head while it trains (never in the saved model)."""


def attach_hint_head(model: nn.Module, num_features: int) -> nn.Linear:
    """A linear map from the pooled embedding to `num_features` hint targets, registered on the model so that the
    optimizer, checkpoints and an exact resume include it; `DistillationTrainer.save_model` drops it at the end."""
    head = nn.Linear(model.config.hidden_size, num_features)
    setattr(model, HINT_HEAD, head)
    return head


CORPUS_HEAD = "corpus_head"
"""Attribute of the student that holds the corpus-adversarial head while it trains (never in the saved model)."""
TRAINING_HEADS = (HINT_HEAD, CORPUS_HEAD)


def attach_corpus_head(model: nn.Module, num_corpora: int, hidden: int = 128) -> nn.Module:
    """The corpus discriminator (pooled embedding -> one logit per training corpus), registered like the hint head."""
    head = nn.Sequential(nn.Linear(model.config.hidden_size, hidden), nn.ReLU(), nn.Linear(hidden, num_corpora))
    setattr(model, CORPUS_HEAD, head)
    return head


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, tensor: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return tensor.view_as(tensor)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.scale * grad, None


def reverse_gradient(tensor: torch.Tensor, scale: float) -> torch.Tensor:
    """The identity forward; backward, the gradient times `-scale` (the gradient reversal layer)."""
    return _ReverseGradient.apply(tensor, scale)


def reversal_scale(step: int, max_steps: int) -> float:
    """Ganin's ramp `2 / (1 + exp(-10 p)) - 1` at progress `p = step / max_steps`: 0 at the start, near 1 from
    half-way; a function of the step alone (exact resume)."""
    progress = min(step / max_steps, 1.0) if max_steps > 0 else 1.0
    return float(2.0 / (1.0 + np.exp(-10.0 * progress)) - 1.0)


def mixup_draw(seed: int, step: int, batch_size: int, alpha: float) -> tuple[float, torch.Tensor]:
    """`(lam, perm)` for optimizer step `step` of a run seeded `seed`: a function of those alone (exact resume)."""
    generator = np.random.default_rng([seed, step])
    return float(generator.beta(alpha, alpha)), torch.as_tensor(generator.permutation(batch_size))


def mix_inputs(inputs: dict, lam: float, index: torch.Tensor) -> dict:
    """The model inputs of a mixed batch: waveforms mixed, the attention mask the union of both clips' masks."""
    mixed = dict(inputs)
    mixed["input_values"] = lam * inputs["input_values"] + (1.0 - lam) * inputs["input_values"][index]
    if inputs.get("attention_mask") is not None:
        mixed["attention_mask"] = torch.maximum(inputs["attention_mask"], inputs["attention_mask"][index])
    return mixed


class DistillationTrainer(MeanLossTrainer):
    """A `Trainer` whose loss is `distillation_loss` when the batch carries `teacher_logits`, cross-entropy otherwise
    (evaluation batches carry none, so validation loss is the same cross-entropy with and without a teacher), plus
    the feature-hint term when the batch carries `hint_targets` (training batches of a run with `--hint_features`)
    and the corpus-adversarial term when it carries `corpus_labels` (`--corpus_adversarial_weight`). With
    `--weight_averaging_decay`, a moving average of the weights is what is evaluated, checkpointed and saved."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        decay = self.args.weight_averaging_decay
        self.weight_averaging = WeightAveraging(decay, self.statistics_clips) if decay > 0 else None
        if self.weight_averaging is not None:
            self.add_callback(self.weight_averaging)

    def statistics_clips(self) -> list[np.ndarray]:
        """A fixed draw of `STATISTICS_CLIPS` training clips (the run's seed; a mix's clips with `--corpus_balance`'s
        weights), as training presents them this epoch: where the averaged weights' batch-norm statistics come from."""
        dataset = self.train_dataset
        count = min(STATISTICS_CLIPS, len(dataset))
        weights = None
        if self.corpus_balance > 0 and "corpus" in dataset.column_names:
            weights = corpus_weights(dataset.with_format(None)["corpus"], self.corpus_balance).numpy()
            weights = weights / weights.sum()
        indices = np.random.default_rng(self.args.seed).choice(len(dataset), count, replace=False, p=weights)
        return [np.asarray(dataset[int(index)]["input_values"], dtype=np.float32) for index in sorted(indices)]

    def _maybe_log_save_evaluate(self, *args, **kwargs):
        """Evaluations and checkpoints see the averaged weights; training steps go on with the raw ones."""
        if self.weight_averaging is None or not (self.control.should_evaluate or self.control.should_save):
            return super()._maybe_log_save_evaluate(*args, **kwargs)
        self.weight_averaging.swap(self.model)
        try:
            return super()._maybe_log_save_evaluate(*args, **kwargs)
        finally:
            self.weight_averaging.swap(self.model)

    def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
        super()._load_from_checkpoint(resume_from_checkpoint, model)
        if self.weight_averaging is not None:
            self.weight_averaging.resume(model or self.model, resume_from_checkpoint)
        elif (Path(resume_from_checkpoint) / TRAINING_WEIGHTS).is_file():
            raise SystemExit(
                f"error: --resume_from_checkpoint {resume_from_checkpoint} was saved with weight averaging: resume "
                "it with its --weight_averaging_decay (its model holds the average, not the weights being trained)"
            )

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        teacher_logits = inputs.pop(TEACHER_LOGITS, None)
        hints = inputs.pop(HINT_TARGETS, None)
        corpora = inputs.pop(CORPUS_LABELS, None)
        labels = inputs.pop("labels")
        mixup = None
        if model.training and self.args.mixup_alpha > 0:
            mixup = mixup_draw(self.args.seed, self.state.global_step, len(labels), self.args.mixup_alpha)
            inputs = mix_inputs(inputs, *mixup)
        embedding = []
        heads = hints is not None or corpora is not None
        student = self.accelerator.unwrap_model(model)
        if heads:  # the pooled embedding: the very tensor the classifier reads (one graph, one backward)
            hook = student.classifier.register_forward_pre_hook(lambda module, args: embedding.append(args[0]))
        styles = []
        if model.training and self.args.mixstyle_p > 0:
            p, alpha = self.args.mixstyle_p, self.args.mixstyle_alpha
            styles = mixstyle_draws(self.args.seed, self.state.global_step, len(labels), p, alpha)
        try:
            with mixing_styles(student, inputs.get("attention_mask"), styles):
                outputs = model(**inputs)
        finally:
            if heads:
                hook.remove()
        # the training heads' outputs from the pooled embedding (B, hidden_size), once for both mixup terms
        predicted = getattr(student, HINT_HEAD)(embedding[0]) if hints is not None else None
        corpus_logits = None
        if corpora is not None:
            scale = reversal_scale(self.state.global_step, self.state.max_steps)
            corpus_logits = getattr(student, CORPUS_HEAD)(reverse_gradient(embedding[0], scale))

        def loss_for(labels, teacher_logits, hints, corpora):
            if teacher_logits is None:
                loss = F.cross_entropy(outputs.logits, labels)
            else:
                loss = distillation_loss(
                    outputs.logits, teacher_logits.to(outputs.logits), labels, self.args.alpha, self.args.temperature
                )
            if hints is not None:
                loss = loss + self.args.hint_weight * F.mse_loss(predicted, hints.to(predicted))
            if corpora is not None:
                loss = loss + self.args.corpus_adversarial_weight * F.cross_entropy(corpus_logits, corpora)
            return loss

        targets = (labels, teacher_logits, hints, corpora)
        if mixup is None:
            loss = loss_for(*targets)
        else:
            lam, index = mixup
            shuffled = [None if target is None else target[index] for target in targets]
            loss = lam * loss_for(*targets) + (1.0 - lam) * loss_for(*shuffled)
        return (loss, outputs) if return_outputs else loss

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False):
        """Checkpoints keep the training heads (an exact resume needs them) and, with weight averaging, the raw
        weights beside the averaged model; the final model is the plain student."""
        if not _internal_call:
            for head in TRAINING_HEADS:
                if hasattr(self.model, head):
                    delattr(self.model, head)
        super().save_model(output_dir, _internal_call)
        if _internal_call and self.weight_averaging is not None and self.args.should_save:
            self.weight_averaging.save_training_weights(Path(output_dir))
