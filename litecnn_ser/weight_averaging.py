"""Weight averaging (`--weight_averaging_decay`, off by default as in the paper): a moving average of the student's
weights, updated after every optimizer step, is what is evaluated, selected as the best checkpoint and saved; the
optimizer keeps training the raw weights.

    average = decay_t * average + (1 - decay_t) * weights,   decay_t = min(decay, (t - 1) / t) after step t

that is, the plain mean of every step's weights so far until the run is `1 / (1 - decay)` steps long (0.997: 333
steps), then an exponential average over about that many steps: the initial random weights never count.

Batch-norm statistics are not averaged: running means and variances gathered under other weights do not describe
the averaged network's activations (measured: averaged statistics left a 7-block student at chance, 0.146 on
CREMA-D's validation actors, where the same averaged weights with their own statistics scored 0.423). Each time the
average is swapped in, its statistics are estimated exactly on a fixed draw of training clips, as training presents
them (`adaptation.adapt_batch_norm`, the estimator of AdaBN; SWA's `update_bn` step). Averaged weights sit in a wider,
flatter region of the loss than the last step's, which is what travels to data from other domains (SWA, Izmailov et
al., 2018; SWAD, Cha et al., 2021; weight averages on DomainBed, Arpit et al., 2022).

Checkpoints hold the averaged weights as the model (so that `load_best_model_at_end` and a checkpoint's evaluation
are the averaged model's) and the raw weights beside them (`training_weights.safetensors`); a resumed run takes the
average from the first and the raw weights from the second, and so continues exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import TrainerCallback

from litecnn_ser.adaptation import adapt_batch_norm

TRAINING_WEIGHTS = "training_weights.safetensors"
"""The raw (optimised) weights in a checkpoint whose model is the average."""


def averaging_decay(decay: float, step: int) -> float:
    """`min(decay, (step - 1) / step)` after optimizer step `step` (1, 2, ...): the mean of the steps so far, until
    the exponential average's horizon is reached."""
    return min(decay, (step - 1.0) / step)


class WeightAveraging(TrainerCallback):
    """Keeps the moving average of the parameters (`on_step_end`), and swaps it in and out of the model for
    evaluation and saving (`swap`, called by the trainer around each evaluation and checkpoint); swapped in, the
    average gets batch-norm statistics estimated on `statistics_clips()` (normalised waveforms)."""

    def __init__(self, decay: float, statistics_clips: Callable[[], Sequence[np.ndarray]] | None = None):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"--weight_averaging_decay must be in (0, 1) (0: off), got {decay}")
        self.decay = decay
        self.statistics_clips = statistics_clips
        self.average: dict[str, torch.Tensor] | None = None
        self.swapped = False  # True while the model holds the average and `average` the raw weights

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if self.average is None:  # a resumed run has taken it from its checkpoint already (`resume`)
            self.average = _copy(model)

    @torch.no_grad()
    def on_step_end(self, args, state, control, model=None, **kwargs):
        weight = 1.0 - averaging_decay(self.decay, state.global_step)
        for name, value in model.named_parameters():
            self.average[name].lerp_(value.detach(), weight)

    def on_train_end(self, args, state, control, model=None, **kwargs):
        """The final model is the average: loaded with the best checkpoint already, else swapped in now."""
        if not (args.load_best_model_at_end and state.best_model_checkpoint):
            self.swap(model)

    @torch.no_grad()
    def swap(self, model: nn.Module) -> None:
        """Exchanges the model's weights and buffers with the average's (twice: back to where it was); swapped in,
        the average's batch-norm statistics are re-estimated first."""
        for name, value in model.state_dict().items():
            held = value.clone()
            value.copy_(self.average[name])
            self.average[name].copy_(held)
        self.swapped = not self.swapped
        if self.swapped and self.statistics_clips is not None:
            estimated = dict(adapt_batch_norm(model, self.statistics_clips()).named_buffers())
            for name, buffer in model.named_buffers():
                buffer.copy_(estimated[name])

    def save_training_weights(self, checkpoint: Path) -> None:
        """Beside a checkpoint saved while the average is swapped in: the raw weights the optimizer trains."""
        if not self.swapped:
            raise RuntimeError("a checkpoint with weight averaging must be saved while the average is swapped in")
        save_file({name: value.contiguous() for name, value in self.average.items()}, checkpoint / TRAINING_WEIGHTS)

    def resume(self, model: nn.Module, checkpoint: str | Path) -> None:
        """After the trainer loaded a checkpoint's model (the average): the average from it, the raw weights back."""
        path = Path(checkpoint) / TRAINING_WEIGHTS
        if not path.is_file():
            raise SystemExit(
                f"error: --weight_averaging_decay: {checkpoint} has no {TRAINING_WEIGHTS}: it was saved without "
                "weight averaging. Resume it with the flags it was trained with."
            )
        self.average = _copy(model)
        model.load_state_dict(load_file(path))


def _copy(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in model.state_dict().items()}
