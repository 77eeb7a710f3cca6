"""Knowledge distillation: the loss, its `Trainer`, and the teacher's logits computed once and cached.

    loss = alpha * CE(student, labels) + (1 - alpha) * T**2 * KL(softmax(teacher / T) || softmax(student / T))

The T**2 factor keeps the soft term's gradients on the same scale as the hard term's when T changes (Hinton et
al., 2015). The teacher never runs during student training: its logits come from a cached table (`teachers.py`),
and the trainer does not know or care what kind of teacher made them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import torch
from torch.nn import functional as F

from training_utils import TEACHER_LOGITS, MeanLossTrainer, PaperTrainingArguments

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

    def __post_init__(self):
        super().__post_init__()
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"--alpha must be in [0, 1], got {self.alpha}")
        if self.temperature <= 0:
            raise ValueError(f"--temperature must be positive, got {self.temperature}")


class DistillationTrainer(MeanLossTrainer):
    """A `Trainer` whose loss is `distillation_loss` when the batch carries `teacher_logits`, cross-entropy otherwise
    (evaluation batches carry none, so validation loss is the same cross-entropy with and without a teacher)."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        teacher_logits = inputs.pop(TEACHER_LOGITS, None)
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        if teacher_logits is None:
            loss = F.cross_entropy(outputs.logits, labels)
        else:
            loss = distillation_loss(
                outputs.logits, teacher_logits.to(outputs.logits), labels, self.args.alpha, self.args.temperature
            )
        return (loss, outputs) if return_outputs else loss
