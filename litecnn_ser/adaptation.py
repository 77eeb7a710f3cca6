"""Adaptation to a new recording setup from its unlabelled clips: batch-norm statistics re-estimated (AdaBN,
Li et al. 2016, "Revisiting batch normalization for practical domain adaptation").

Why: a batch normalisation's running mean and variance describe the training corpus's activations, microphone
and room included. On clips from another setup the activations shift (a different gain and colouration move the
stem's filter outputs), every later layer sees inputs off its training distribution, and accuracy drops towards
chance. Re-estimating the statistics on the new setup's clips re-centres every layer without labels and without
changing a weight.

How: `adapt_batch_norm` works on a deep copy (the given model, and the weights on disk, are never modified: the
caller opts in by using the returned model). The statistics are exact: one batch-norm layer at a time, in forward
order, with the model in eval mode (earlier layers already adapted, so each layer sees what it will see at
inference), its input's per-channel mean and population variance pooled over every frame of every clip (Chan's
parallel update in float64). This is what a train-mode pass with `momentum=None` approximates: that averages
per-batch variances (missing the spread of the batch means) and normalises later layers by per-batch
statistics, not by the ones inference will use. Clips are batched only with clips of the same length, so no
zero padding enters the statistics.

This module imports torch: it is not part of the torch-free runtime. The ONNX export fuses batch norm into the
convolutions, so an adapted model is exported like any other (adapt first, then export); no numpy version here.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import torch
from torch import nn

ADAPTATION_ASSUMPTION = (
    "Batch-norm adaptation assumes all the clips come from one recording setup (the same microphone, room and "
    "corpus) and that together they hold a mix of emotions, as speaker adaptation assumes a speaker's clips span "
    "emotions: the statistics of one emotion only, or of several setups mixed, would move the model away from "
    "the new setup instead of towards it."
)
"""For command-line help texts: when re-estimating batch-norm statistics on unlabelled clips is sound."""

BATCH_SIZE = 16
"""Clips per forward pass (same-length clips only): throughput only, the statistics do not depend on it."""

Clips = Sequence[np.ndarray | torch.Tensor] | Callable[[], Iterable[np.ndarray | torch.Tensor]]
"""Normalised input waveforms: a list of 1-D arrays (any lengths), or a callable returning an iterable of 1-D
clips or unpadded (batch, samples) tensors of equal-length clips."""


class _StopForward(Exception):
    """Raised by the hook once it has the layer's input: the rest of the forward pass is not needed."""


def adapt_batch_norm(
    model: nn.Module, clips: Clips, batch_size: int = BATCH_SIZE, device: torch.device | str | None = None
) -> nn.Module:
    """A deep copy of `model` (eval mode) whose batch norms' running mean and variance are those of `clips`.

    Only the batch-norm buffers (`running_mean`, `running_var`, `num_batches_tracked`) differ from `model`'s;
    `model` itself is untouched. See the module docstring for why the statistics are exact and unbiased by
    padding, and `ADAPTATION_ASSUMPTION` for when adapting is sound."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    adapted = copy.deepcopy(model).eval()
    if device is not None:
        adapted.to(device)
    parameter = next(adapted.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    batches = [batch.to(device) for batch in _batches(clips, batch_size)]
    if not batches:
        raise ValueError("adapt_batch_norm needs at least one clip")
    norms = [module for module in adapted.modules() if isinstance(module, nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for norm in _forward_order(adapted, norms, batches[0]):
            mean, variance = _input_statistics(adapted, norm, batches)
            norm.running_mean.copy_(mean.to(norm.running_mean))
            norm.running_var.copy_(variance.to(norm.running_var))
            if norm.num_batches_tracked is not None:
                norm.num_batches_tracked.fill_(len(batches))
    return adapted


def _batches(clips: Clips, batch_size: int) -> list[torch.Tensor]:
    """(batch, samples) float32 tensors, each of clips of one length (no padding)."""
    source = clips() if callable(clips) else clips
    items = [c if isinstance(c, torch.Tensor) else torch.as_tensor(np.asarray(c)) for c in source]
    batches, singles = [], []
    for item in items:
        item = item.to(torch.float32)
        if item.dim() == 2:
            batches.append(item)
        elif item.dim() == 1:
            singles.append(item)
        else:
            raise ValueError(f"clips must be 1-D waveforms or (batch, samples) tensors, got shape {tuple(item.shape)}")
    by_length: dict[int, list[torch.Tensor]] = {}
    for clip in singles:
        by_length.setdefault(int(clip.numel()), []).append(clip)
    for length in sorted(by_length):
        group = by_length[length]
        batches.extend(torch.stack(group[start : start + batch_size]) for start in range(0, len(group), batch_size))
    return batches


def _forward_order(model: nn.Module, norms: list[nn.Module], batch: torch.Tensor) -> list[nn.Module]:
    """The batch norms in the order the forward pass calls them (registration order need not be call order)."""
    called: list[nn.Module] = []
    handles = [norm.register_forward_pre_hook(lambda module, _: called.append(module)) for norm in norms]
    try:
        model(batch)
    finally:
        for handle in handles:
            handle.remove()
    order = list(dict.fromkeys(called))
    return order + [norm for norm in norms if norm not in order]  # never called: left as they are below


def _input_statistics(model: nn.Module, norm: nn.Module, batches: list[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    """Per-channel mean and population variance of `norm`'s input over every frame of every batch (float64)."""
    count, mean, m2 = 0, None, None

    def hook(module, inputs):
        nonlocal count, mean, m2
        hidden = inputs[0].detach().to(torch.float64)
        hidden = hidden.transpose(0, 1).reshape(hidden.shape[1], -1)  # (C, B * frames)
        n = hidden.shape[1]
        batch_mean = hidden.mean(dim=1)
        batch_m2 = ((hidden - batch_mean[:, None]) ** 2).sum(dim=1)
        if mean is None:
            count, mean, m2 = n, batch_mean, batch_m2
        else:  # Chan et al.'s parallel combination
            delta = batch_mean - mean
            total = count + n
            mean = mean + delta * (n / total)
            m2 = m2 + batch_m2 + delta**2 * (count * n / total)
            count = total
        raise _StopForward

    handle = norm.register_forward_pre_hook(hook)
    try:
        for batch in batches:
            with contextlib.suppress(_StopForward):
                model(batch)
    finally:
        handle.remove()
    if mean is None:  # the layer is not on the forward path: keep its statistics
        return norm.running_mean.clone(), norm.running_var.clone()
    return mean, m2 / count
