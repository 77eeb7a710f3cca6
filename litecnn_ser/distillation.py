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
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from litecnn_ser.arguments import PaperTrainingArguments
from litecnn_ser.trainer import MeanLossTrainer
from litecnn_ser.transforms import HINT_TARGETS, TEACHER_LOGITS

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
    mixup_alpha: float = field(
        default=0.0,
        metadata={
            "help": "Mixup of training waveforms with lam ~ Beta(a, a), every loss term mixed alike "
            "(litecnn_ser/distillation.py). 0: off (the paper)."
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
        if self.mixup_alpha < 0:
            raise ValueError(f"--mixup_alpha must be non-negative (0: off), got {self.mixup_alpha}")


HINT_HEAD = "hint_head"
"""Attribute of the student that holds the feature-hint head while it trains (never in the saved model)."""


def attach_hint_head(model: nn.Module, num_features: int) -> nn.Linear:
    """A linear map from the pooled embedding to `num_features` hint targets, registered on the model so that the
    optimizer, checkpoints and an exact resume include it; `DistillationTrainer.save_model` drops it at the end."""
    head = nn.Linear(model.config.hidden_size, num_features)
    setattr(model, HINT_HEAD, head)
    return head


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
    the feature-hint term when the batch carries `hint_targets` (training batches of a run with `--hint_features`)."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        teacher_logits = inputs.pop(TEACHER_LOGITS, None)
        hints = inputs.pop(HINT_TARGETS, None)
        labels = inputs.pop("labels")
        mixup = None
        if model.training and self.args.mixup_alpha > 0:
            mixup = mixup_draw(self.args.seed, self.state.global_step, len(labels), self.args.mixup_alpha)
            inputs = mix_inputs(inputs, *mixup)
        embedding = []
        if hints is not None:  # the pooled embedding: the very tensor the classifier reads (one graph, one backward)
            student = self.accelerator.unwrap_model(model)
            hook = student.classifier.register_forward_pre_hook(lambda module, args: embedding.append(args[0]))
        try:
            outputs = model(**inputs)
        finally:
            if hints is not None:
                hook.remove()
        # the hint head's prediction from the pooled embedding (B, hidden_size), once for both mixup terms
        predicted = getattr(student, HINT_HEAD)(embedding[0]) if hints is not None else None

        def loss_for(labels, teacher_logits, hints):
            if teacher_logits is None:
                loss = F.cross_entropy(outputs.logits, labels)
            else:
                loss = distillation_loss(
                    outputs.logits, teacher_logits.to(outputs.logits), labels, self.args.alpha, self.args.temperature
                )
            if hints is not None:
                loss = loss + self.args.hint_weight * F.mse_loss(predicted, hints.to(predicted))
            return loss

        if mixup is None:
            loss = loss_for(labels, teacher_logits, hints)
        else:
            lam, index = mixup
            shuffled = [None if target is None else target[index] for target in (labels, teacher_logits, hints)]
            loss = lam * loss_for(labels, teacher_logits, hints) + (1.0 - lam) * loss_for(*shuffled)
        return (loss, outputs) if return_outputs else loss

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False):
        """Checkpoints keep the hint head (an exact resume needs it); the final model is the plain student."""
        if not _internal_call and hasattr(self.model, HINT_HEAD):
            delattr(self.model, HINT_HEAD)
        super().save_model(output_dir, _internal_call)
