"""LiteCNN configuration: the architecture, nothing about training."""

from __future__ import annotations

from transformers import PretrainedConfig

EMOTIONS = ("anger", "disgust", "fear", "happiness", "neutral", "sadness")
POOLINGS = ("mean", "mean_std")
STEM_NORMALIZATIONS = (None, "utterance")


class LiteCNNConfig(PretrainedConfig):
    r"""
    Configuration of [`LiteCNNModel`] and [`LiteCNNForAudioClassification`]: a 1-D CNN on raw 16 kHz audio, from
    "lightweight speech emotion recognition by knowledge distillation" (stem convolution, three depthwise-separable
    blocks, global pooling, a two-layer classifier).

    Why these widths. The paper fixes 1.08M parameters but not the widths. A convolution costs
    `channels_in * channels_out * kernel * frames` multiply-accumulates (MACs) while its parameters do not depend on
    `frames`, and the time resolution is high through the blocks (one second of audio is still ~2,000 frames in
    the first block). Parameters spent early are therefore expensive and parameters spent in the classifier, which
    runs once per clip, are nearly free. The default keeps the convolutions narrow (32-64-128-256: 47k parameters)
    and puts the rest of the 1.08M into the classifier's hidden layer (3,928 units, 1.03M parameters). Per second of
    audio it costs 50M MACs: stem 20.4M, blocks 4.3M / 8.3M / 16.4M, classifier 1.0M (`python bench.py`).

    Measured with `python bench.py --variants` (2 CPU threads, batch 1, 1 s, median of 50 runs), all at 1.08M
    parameters: this default 50M MACs and 2.9 ms; widths 64-128-256-512 157M MACs and 4.2 ms; the paper's layout
    without `stem_pool` 138M MACs and 4.8 ms; a wav2vec2-base-sized classifier 6,877M MACs and 137 ms (47x slower).

    `stem_pool` is the one deviation from the paper: a max-pool of 4 after the stem divides the cost of every later
    layer by 4 (2.8x fewer MACs in all). On all 7,442 CREMA-D clips it cut a training epoch from ~250 s to ~47 s at
    the same first-epoch accuracy (docs/design.md); `stem_pool=1` gives the paper's architecture.

    Args:
        stem_channels (`int`, *optional*, defaults to 32):
            Output channels of the stem convolution on the waveform.
        stem_kernel_size (`int`, *optional*, defaults to 80):
            Kernel of the stem convolution in samples (80 = 5 ms at 16 kHz), as in the paper.
        stem_stride (`int`, *optional*, defaults to 2):
            Stride of the stem convolution, as in the paper.
        stem_pool (`int`, *optional*, defaults to 4):
            Max-pool (kernel = stride) after the stem; 1 disables it (the paper's architecture).
        stem_normalization (`str`, *optional*):
            `None` (the paper) or `"utterance"`: each stem filter's output is divided by its root mean square over
            the clip's real frames, before the batch norm. The stem is a learnt filterbank and a convolution is
            linear, so a recording's constant colouring (a microphone's or room's gain per band) and its level
            multiply each filter's output by a constant, which this division removes: the per-utterance
            normalisation of the first filterbank, from one clip, with no statistics of other clips.
        block_channels (`list[int]`, *optional*, defaults to `[64, 128, 256]`):
            Output channels of the depthwise-separable blocks.
        block_kernel_size (`int`, *optional*, defaults to 3):
            Kernel of each block's depthwise convolution (odd, "same" padding).
        pool_kernel_size (`int`, *optional*, defaults to 3):
            Max-pool kernel after each block, as in the paper.
        pool_stride (`int`, *optional*, defaults to 2):
            Max-pool stride after each block, as in the paper.
        pooling (`str`, *optional*, defaults to `"mean"`):
            Global pooling over time, ignoring padding: `"mean"` (the paper's adaptive average pooling) or
            `"mean_std"` (mean and standard deviation concatenated).
        classifier_hidden_size (`int`, *optional*, defaults to 3928):
            Hidden units of the first fully connected layer; the default brings the model to 1.08M parameters.
        classifier_dropout (`float`, *optional*, defaults to 0.2):
            Dropout after each fully connected hidden layer, as in the paper.
        batch_norm_eps (`float`, *optional*, defaults to 1e-5):
            Epsilon of the batch normalisations.
        sampling_rate (`int`, *optional*, defaults to 16000):
            The sampling rate of `input_values`.
    """

    model_type = "litecnn"

    def __init__(
        self,
        stem_channels: int = 32,
        stem_kernel_size: int = 80,
        stem_stride: int = 2,
        stem_pool: int = 4,
        stem_normalization: str | None = None,
        block_channels: list[int] | tuple[int, ...] = (64, 128, 256),
        block_kernel_size: int = 3,
        pool_kernel_size: int = 3,
        pool_stride: int = 2,
        pooling: str = "mean",
        classifier_hidden_size: int = 3928,
        classifier_dropout: float = 0.2,
        batch_norm_eps: float = 1e-5,
        sampling_rate: int = 16_000,
        **kwargs,
    ):
        for name, value in (
            ("stem_channels", stem_channels),
            ("stem_kernel_size", stem_kernel_size),
            ("stem_stride", stem_stride),
            ("stem_pool", stem_pool),
            ("block_kernel_size", block_kernel_size),
            ("pool_kernel_size", pool_kernel_size),
            ("pool_stride", pool_stride),
            ("classifier_hidden_size", classifier_hidden_size),
            ("sampling_rate", sampling_rate),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer, got {value!r}")
        block_channels = list(block_channels)
        if not block_channels or any(not isinstance(c, int) or c < 1 for c in block_channels):
            raise ValueError(f"`block_channels` must be a non-empty list of positive integers, got {block_channels!r}")
        if block_kernel_size % 2 == 0:
            raise ValueError(f"`block_kernel_size` must be odd (for 'same' padding), got {block_kernel_size}")
        if stem_normalization not in STEM_NORMALIZATIONS:
            raise ValueError(f"`stem_normalization` must be one of {STEM_NORMALIZATIONS}, got {stem_normalization!r}")
        if pooling not in POOLINGS:
            raise ValueError(f"`pooling` must be one of {POOLINGS}, got {pooling!r}")
        if not 0.0 <= classifier_dropout < 1.0:
            raise ValueError(f"`classifier_dropout` must be in [0, 1), got {classifier_dropout}")
        if batch_norm_eps <= 0:
            raise ValueError(f"`batch_norm_eps` must be positive, got {batch_norm_eps}")
        if "id2label" not in kwargs and "num_labels" not in kwargs:
            kwargs["id2label"] = dict(enumerate(EMOTIONS))
            kwargs["label2id"] = {label: index for index, label in enumerate(EMOTIONS)}

        self.stem_channels = stem_channels
        self.stem_kernel_size = stem_kernel_size
        self.stem_stride = stem_stride
        self.stem_pool = stem_pool
        self.stem_normalization = stem_normalization
        self.block_channels = block_channels
        self.block_kernel_size = block_kernel_size
        self.pool_kernel_size = pool_kernel_size
        self.pool_stride = pool_stride
        self.pooling = pooling
        self.classifier_hidden_size = classifier_hidden_size
        self.classifier_dropout = classifier_dropout
        self.batch_norm_eps = batch_norm_eps
        self.sampling_rate = sampling_rate
        super().__init__(**kwargs)

    @property
    def hidden_size(self) -> int:
        """Size of the pooled embedding that `LiteCNNModel` returns."""
        return self.block_channels[-1] * (2 if self.pooling == "mean_std" else 1)
