"""MixStyle: training clips heard through each other's recording "style" (Zhou et al., ICLR 2021).

A recording setup (microphone, room, level, the corpus's processing) colours every frame of a clip alike, and in a
CNN's early layers that colouring is mostly each channel's mean and standard deviation over the clip's frames (the
statistics instance normalisation removes). MixStyle, in training only, replaces them in the stem's and the first
block's outputs by a mix with another clip of the batch's:

    h' = (h - mu) / sigma * (lam * sigma + (1 - lam) * sigma[perm]) + lam * mu + (1 - lam) * mu[perm]

with `mu`, `sigma` (B, C, 1) each clip's per-channel statistics over its valid frames (treated as constants:
no gradient flows through them, as in the paper), `lam ~ Beta(a, a)` per clip and `perm` a shuffle of the batch.
The label, the teacher's logits and the hint stay the clip's own: the network must name the emotion of a clip
whose early "style" comes partly from another clip, very often of another corpus in a mix (`--corpus_balance`).
With probability `1 - p` a layer is left alone in a batch. Nothing is added to the model: the saved weights,
the exported graphs and inference are what they are without it.

The draws (`mixstyle_draws`) are a function of the run's seed and the optimizer step, like mixup's, so a resumed
run mixes exactly as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from modeling_litecnn import _frame_mask

MIXSTYLE_LAYERS = ("stem", "block 1")
"""Where the styles are mixed: the stem's output and the first block's (the paper mixes after early layers only,
where the statistics say more about the recording than about the content)."""
STYLE_EPS = 1e-6  # added to a channel's variance over a clip (a ReLU that never fires on a clip has none)

Draw = tuple[torch.Tensor, torch.Tensor] | None
"""One layer's draw for a batch: (lam (B,), perm (B,)), or None when the layer is left alone."""


def mixstyle_draws(seed: int, step: int, batch_size: int, p: float, alpha: float) -> list[Draw]:
    """Per layer of MIXSTYLE_LAYERS, for optimizer step `step` of a run seeded `seed`: whether it mixes (with
    probability `p`) and, if so, each clip's `lam ~ Beta(alpha, alpha)` and the batch's shuffle. A function of
    those alone (exact resume); a stream of its own, apart from mixup's."""
    generator = np.random.default_rng([seed, step, 1])
    draws: list[Draw] = []
    for _ in MIXSTYLE_LAYERS:
        mixes = generator.random() < p
        lam = torch.as_tensor(generator.beta(alpha, alpha, size=batch_size), dtype=torch.float32)
        perm = torch.as_tensor(generator.permutation(batch_size))
        draws.append((lam, perm) if mixes and batch_size > 1 else None)
    return draws


def clip_statistics(hidden: torch.Tensor, lengths: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Each clip's per-channel mean and standard deviation (B, C, 1) over its valid frames (all frames without
    `lengths`), in float32."""
    stats = hidden.float()
    if lengths is None:
        mean = stats.mean(-1, keepdim=True)
        variance = stats.var(-1, keepdim=True, unbiased=False)
    else:
        mask = _frame_mask(lengths, hidden.shape[-1])[:, None, :].float()  # the model's own mask of real frames
        count = mask.sum(-1, keepdim=True)
        mean = (stats * mask).sum(-1, keepdim=True) / count
        variance = (((stats - mean) * mask) ** 2).sum(-1, keepdim=True) / count
    return mean, (variance + STYLE_EPS).sqrt()


def mix_styles(hidden: torch.Tensor, lengths: torch.Tensor | None, lam: torch.Tensor, perm: torch.Tensor):
    """`hidden` (B, C, F) with each clip's channel statistics replaced by its mix with clip `perm[b]`'s."""
    mean, std = clip_statistics(hidden, lengths)
    mean, std = mean.detach(), std.detach()
    lam = lam.to(mean)[:, None, None]
    mixed_mean = lam * mean + (1.0 - lam) * mean[perm]
    mixed_std = lam * std + (1.0 - lam) * std[perm]
    return ((hidden.float() - mean) / std * mixed_std + mixed_mean).to(hidden.dtype)


@contextmanager
def mixing_styles(student: nn.Module, attention_mask: torch.Tensor | None, draws: list[Draw]) -> Iterator[None]:
    """Inside the block, the student's forward passes mix styles at MIXSTYLE_LAYERS as `draws` say (hooks on the
    stem and the first block, removed on the way out). `student`: a `LiteCNNForAudioClassification`."""
    backbone = student.litecnn
    lengths = None
    mixes = any(draw is not None for draw in draws)
    if attention_mask is not None and mixes:  # the frames of each layer that hold the clip, as the model counts them
        lengths = backbone.frame_lengths(backbone.sample_lengths(attention_mask))
    layers = (backbone.stem, backbone.blocks[0])
    hooks = []
    for index, (layer, draw) in enumerate(zip(layers, draws)):
        if draw is None:
            continue
        frames = None if lengths is None else lengths[index]

        def hook(module, args, output, draw=draw, frames=frames):
            return mix_styles(output, frames, *draw)

        hooks.append(layer.register_forward_hook(hook))
    try:
        yield
    finally:
        for hook in hooks:
            hook.remove()
