"""LiteCNN: a 1.08M-parameter 1-D CNN for speech emotion recognition on raw 16 kHz audio.

Reading order: blocks -> `LiteCNNPreTrainedModel` -> `LiteCNNModel` (pooled embedding) ->
`LiteCNNForAudioClassification` (logits). This file and `configuration_litecnn.py` travel to the hub with the
weights, so `AutoModel.from_pretrained(repo, trust_remote_code=True)` works without this repository.

Padding: `attention_mask` marks the real samples of each clip. Every layer's output frames that depend only on
real samples are computed exactly as for the clip alone; the others are zeroed before the next convolution and
left out of the global pooling, so in eval mode a padded batch gives the same logits as each clip on its own.

Half precision: the frame masks are applied with `masked_fill` (no float32 tensor meets the hidden states) and the
global pooling takes its sums in float32, so a model loaded with `dtype=torch.bfloat16` or `torch.float16` runs
with an `attention_mask`, and a float16 sum over a long clip cannot overflow.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForAudioClassification,
    PreTrainedModel,
)
from transformers import (
    initialization as init,
)
from transformers.modeling_outputs import BaseModelOutputWithPooling, SequenceClassifierOutput

try:  # as a dynamic module from the hub (`trust_remote_code`): a sibling file
    from .configuration_litecnn import LiteCNNConfig
except ImportError:  # from this repository
    from configuration_litecnn import LiteCNNConfig


AUTO_MAP = {
    "AutoConfig": "configuration_litecnn.LiteCNNConfig",
    "AutoModel": "modeling_litecnn.LiteCNNModel",
    "AutoModelForAudioClassification": "modeling_litecnn.LiteCNNForAudioClassification",
}
STD_FLOOR = 1e-3  # `pooling="mean_std"`: the smallest standard deviation it reports (see `LiteCNNModel._pool`)
STEM_RMS_EPS = 1e-6  # `stem_normalization="utterance"`: added to a filter's mean square (a filter silent on a clip)


class LiteCNNStem(nn.Module):
    """Conv1d(kernel 80, stride 2) [+ per-utterance RMS normalisation] + BatchNorm + ReLU on the waveform, then an
    optional max-pool."""

    def __init__(self, config: LiteCNNConfig):
        super().__init__()
        self.conv = nn.Conv1d(1, config.stem_channels, config.stem_kernel_size, config.stem_stride, bias=False)
        self.utterance_normalization = config.stem_normalization == "utterance"
        self.norm = nn.BatchNorm1d(config.stem_channels, eps=config.batch_norm_eps)
        self.pool = nn.MaxPool1d(config.stem_pool) if config.stem_pool > 1 else nn.Identity()

    def forward(self, waveform: torch.Tensor, conv_lengths: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 1, T) -> (B, C0, T // (2 * stem_pool)); `conv_lengths` (B,): the convolution's valid output frames
        per clip (None: all), the frames that per-utterance normalisation averages over."""
        hidden = self.conv(waveform)
        if self.utterance_normalization:
            hidden = _utterance_rms_normalize(hidden, conv_lengths)
        return self.pool(torch.relu(self.norm(hidden)))


def _utterance_rms_normalize(hidden: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """Divide each channel of (B, C, F) by its root mean square over the valid frames of its clip (in float32)."""
    stats = hidden.to(torch.promote_types(hidden.dtype, torch.float32))
    if lengths is None:
        mean_square = stats.pow(2).mean(-1, keepdim=True)
    else:
        mask = _frame_mask(lengths, hidden.shape[-1])[:, None, :].to(stats.dtype)
        mean_square = (stats.pow(2) * mask).sum(-1, keepdim=True) / mask.sum(-1, keepdim=True)
    return (stats * torch.rsqrt(mean_square + STEM_RMS_EPS)).to(hidden.dtype)


class LiteCNNBlock(nn.Module):
    """Depthwise conv (groups = channels) + pointwise 1x1 conv + BatchNorm + ReLU + MaxPool(3, 2)."""

    def __init__(self, config: LiteCNNConfig, in_channels: int, out_channels: int):
        super().__init__()
        kernel = config.block_kernel_size
        self.depthwise = nn.Conv1d(
            in_channels, in_channels, kernel, padding=kernel // 2, groups=in_channels, bias=False
        )
        self.pointwise = nn.Conv1d(in_channels, out_channels, 1, bias=False)
        self.norm = nn.BatchNorm1d(out_channels, eps=config.batch_norm_eps)
        self.pool = nn.MaxPool1d(config.pool_kernel_size, config.pool_stride)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        # (B, C_in, F) -> (B, C_out, (F - 3) // 2 + 1)
        return self.pool(torch.relu(self.norm(self.pointwise(self.depthwise(hidden)))))


class LiteCNNPreTrainedModel(PreTrainedModel):
    config_class = LiteCNNConfig
    base_model_prefix = "litecnn"
    main_input_name = "input_values"
    supports_gradient_checkpointing = False
    # The loss is a batch mean: the Trainer must scale it for gradient accumulation and leave it alone across processes.
    accepts_loss_kwargs = False

    def __init__(self, config: LiteCNNConfig, *inputs, **kwargs):
        super().__init__(config, *inputs, **kwargs)
        # Whichever class is saved, config.json names both, so `AutoModel` and `AutoModelForAudioClassification`
        # load any exported folder with `trust_remote_code=True`.
        self.config.auto_map = {**(getattr(self.config, "auto_map", None) or {}), **AUTO_MAP}

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Conv1d):
            init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.Linear):
            init.kaiming_uniform_(module.weight, nonlinearity="relu")
            init.zeros_(module.bias)
        else:
            super()._init_weights(module)

    def _layer_shapes(self) -> list[tuple[int, int]]:
        """(kernel, stride) of every length-changing layer, in order: the stem conv, its pool, the block pools."""
        config = self.config
        shapes = [(config.stem_kernel_size, config.stem_stride)]
        if config.stem_pool > 1:
            shapes.append((config.stem_pool, config.stem_pool))
        return shapes + [(config.pool_kernel_size, config.pool_stride)] * len(config.block_channels)

    def frame_lengths(self, sample_lengths: torch.Tensor) -> list[torch.Tensor]:
        """Valid frames at the input of each block and at the output, for clips of `sample_lengths` samples."""
        lengths, per_stage = sample_lengths, []
        for index, (kernel, stride) in enumerate(self._layer_shapes()):
            lengths = torch.div(lengths - kernel, stride, rounding_mode="floor") + 1
            if index >= len(self._layer_shapes()) - len(self.config.block_channels) - 1:
                per_stage.append(lengths)
        return per_stage

    def sample_lengths(self, attention_mask: torch.Tensor) -> torch.Tensor:
        """(B,) real samples of each clip of an `attention_mask` (B, T), at least `min_input_length` (a shorter
        input is padded to it). Counted as integers: a float mask in half precision would round the sum."""
        return (attention_mask != 0).sum(-1).clamp(min=self.min_input_length)

    @property
    def min_input_length(self) -> int:
        """The shortest input in samples that leaves at least one frame after the last pool."""
        needed = 1
        for kernel, stride in reversed(self._layer_shapes()):
            needed = (needed - 1) * stride + kernel
        return needed

    @property
    def receptive_field(self) -> int:
        """Input samples that one output frame depends on: wider than `min_input_length` by the blocks' depthwise
        convs. Anything longer reaches the classifier only through the global pooling."""
        config = self.config
        layers = [(config.stem_kernel_size, config.stem_stride)]
        if config.stem_pool > 1:
            layers.append((config.stem_pool, config.stem_pool))
        for _ in config.block_channels:
            layers += [(config.block_kernel_size, 1), (config.pool_kernel_size, config.pool_stride)]
        span, step = 1, 1
        for kernel, stride in layers:  # each layer widens the span by (kernel - 1) of its input steps
            span, step = span + (kernel - 1) * step, step * stride
        return span


class LiteCNNModel(LiteCNNPreTrainedModel):
    """Waveform -> pooled embedding of `config.hidden_size` (no classifier)."""

    def __init__(self, config: LiteCNNConfig):
        super().__init__(config)
        widths = [config.stem_channels, *config.block_channels]
        self.stem = LiteCNNStem(config)
        self.blocks = nn.ModuleList(LiteCNNBlock(config, c_in, c_out) for c_in, c_out in zip(widths, widths[1:]))
        self.post_init()

    def forward(
        self,
        input_values: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPooling | tuple:
        """`input_values` (B, T): normalised 16 kHz audio; `attention_mask` (B, T): 1 for real samples, 0 for padding.

        Inputs shorter than `min_input_length` are zero-padded to it (zero is the mean after normalisation), so any
        length gives a defined result.

        With `output_hidden_states` (or `config.output_hidden_states`), `hidden_states` is a tuple of
        `1 + len(config.block_channels)` tensors, as in transformers' CNNs (ResNet, ConvNext): the stem's output
        (B, stem_channels, F_0), then each block's output (B, block_channels[i], F_{i+1}); the last one is
        `last_hidden_state`. They are the layers' outputs as computed: in a padded batch, the frames of clip b past
        `frame_lengths(lengths)[i][b]` are padding (the next layer sees them zeroed). With `return_dict=False` the
        output is `(last_hidden_state, pooler_output)`, plus `hidden_states` when asked for."""
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        if input_values.dim() != 2:
            raise ValueError(f"input_values must be (batch, samples), got shape {tuple(input_values.shape)}")
        batch, samples = input_values.shape
        min_length = self.min_input_length
        if samples < min_length:
            input_values = nn.functional.pad(input_values, (0, min_length - samples))
        lengths = conv_lengths = None
        if attention_mask is not None:
            sample_lengths = self.sample_lengths(attention_mask)
            lengths = self.frame_lengths(sample_lengths)
            kernel, stride = self._layer_shapes()[0]
            conv_lengths = torch.div(sample_lengths - kernel, stride, rounding_mode="floor") + 1

        hidden = self.stem(input_values[:, None, :], conv_lengths)  # (B, C0, F0)
        hidden_states = (hidden,) if output_hidden_states else None
        for index, block in enumerate(self.blocks):
            if lengths is not None:  # zero the frames that padding reached, before the "same"-padded depthwise conv
                hidden = hidden.masked_fill(~_frame_mask(lengths[index], hidden.shape[-1])[:, None, :], 0.0)
            hidden = block(hidden)  # (B, C_i, F_i)
            if hidden_states is not None:
                hidden_states += (hidden,)
        pooled = self._pool(hidden, None if lengths is None else lengths[-1])  # (B, hidden_size)

        if not return_dict:
            return (hidden, pooled) if hidden_states is None else (hidden, pooled, hidden_states)
        return BaseModelOutputWithPooling(last_hidden_state=hidden, pooler_output=pooled, hidden_states=hidden_states)

    def pool(self, last_hidden_state: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The pooled embedding (B, hidden_size) of a `last_hidden_state` (or `hidden_states[-1]`) computed with
        this `attention_mask`: equal to the forward's `pooler_output`, for callers that hold only the hidden states."""
        lengths = None if attention_mask is None else self.frame_lengths(self.sample_lengths(attention_mask))[-1]
        return self._pool(last_hidden_state, lengths)

    def _pool(self, hidden: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        mean_std = self.config.pooling == "mean_std"
        # The statistics are taken in at least float32 and the result cast back (in float32 a no-op): a float16 sum
        # over thousands of frames, or of their squared deviations, overflows its 65504 to inf, and a bfloat16 frame
        # count above 256 is rounded.
        stats = hidden.to(torch.promote_types(hidden.dtype, torch.float32))
        if lengths is None:
            mean = stats.mean(-1)
            variance = stats.var(-1, unbiased=False) if mean_std else None
        else:
            mask = _frame_mask(lengths, hidden.shape[-1])[:, None, :].to(stats.dtype)  # (B, 1, F)
            count = mask.sum(-1)
            mean = (stats * mask).sum(-1) / count
            variance = (((stats - mean[..., None]) * mask) ** 2).sum(-1) / count if mean_std else None
        if variance is None:
            return mean.to(hidden.dtype)
        # The floor keeps the gradient finite where a channel is constant over a clip (a ReLU that never fires, a
        # max-pool of silence): the derivative of sqrt is infinite at 0, and one such clip turns every weight to NaN.
        return torch.cat([mean, variance.clamp(min=STD_FLOOR**2).sqrt()], dim=-1).to(hidden.dtype)


def _frame_mask(lengths: torch.Tensor, frames: int) -> torch.Tensor:
    """(B,) valid lengths -> (B, frames) boolean mask, True on the valid frames; callers pick the dtype they need."""
    return torch.arange(frames, device=lengths.device)[None, :] < lengths[:, None]


class LiteCNNForAudioClassification(LiteCNNPreTrainedModel):
    """LiteCNN with two fully connected layers (ReLU, dropout) on the pooled embedding; returns logits."""

    def __init__(self, config: LiteCNNConfig):
        super().__init__(config)
        self.litecnn = LiteCNNModel(config)
        self.classifier = nn.Sequential(
            nn.Linear(config.hidden_size, config.classifier_hidden_size),
            nn.ReLU(),
            nn.Dropout(config.classifier_dropout),
            nn.Linear(config.classifier_hidden_size, config.num_labels),
        )
        self.post_init()

    def forward(
        self,
        input_values: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> SequenceClassifierOutput | tuple:
        """Logits (B, num_labels); with `labels` (B,), also the mean cross-entropy as `loss`.

        With `output_hidden_states` (or `config.output_hidden_states`), `hidden_states` is `LiteCNNModel`'s: the
        stem's output and each block's, (B, channels, frames), `1 + len(config.block_channels)` tensors (the pooled
        classifier input is `self.litecnn.pool(hidden_states[-1], attention_mask)`). With `return_dict=False` the
        output is `(loss, logits, hidden_states)`, leaving out `loss` without labels and `hidden_states` unasked."""
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states
        outputs = self.litecnn(
            input_values, attention_mask=attention_mask, output_hidden_states=output_hidden_states, return_dict=True
        )
        logits = self.classifier(outputs.pooler_output)  # (B, num_labels)
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        if not return_dict:
            output = (logits,) if outputs.hidden_states is None else (logits, outputs.hidden_states)
            return output if loss is None else (loss, *output)
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=None)


# Local use: `AutoModel.from_pretrained(folder)` finds LiteCNN once this module is imported.
AutoConfig.register(LiteCNNConfig.model_type, LiteCNNConfig, exist_ok=True)
AutoModel.register(LiteCNNConfig, LiteCNNModel, exist_ok=True)
AutoModelForAudioClassification.register(LiteCNNConfig, LiteCNNForAudioClassification, exist_ok=True)
# Hub use: `save_pretrained` writes `auto_map` into config.json and copies both .py files beside the weights.
LiteCNNConfig.register_for_auto_class()
LiteCNNModel.register_for_auto_class("AutoModel")
LiteCNNForAudioClassification.register_for_auto_class("AutoModelForAudioClassification")
