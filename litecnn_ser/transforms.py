"""From a table of clips to training batches: decode, window or view, augment, normalise (`AudioTransform`), pad
(`AudioCollator`).

One preprocessing path for both training scripts (and for `predict.py`): decode with `data.audio.load_audio`, crop
to the training window, normalise with the model's saved feature extractor, pad in the collator.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import datasets
import numpy as np
import torch
from transformers import FeatureExtractionMixin

from data.audio import SAMPLING_RATE, crop, load_audio, random_offset
from data.views import View, apply_view, change_speed
from litecnn_ser.arguments import DataArguments
from litecnn_ser.augment import ChannelAugmentation
from litecnn_ser.vad import trim_silence

TEACHER_LOGITS = "teacher_logits"
"""Name of the per-clip teacher logits in a training batch."""
HINT_TARGETS = "hint_targets"
"""Name of the per-clip feature-hint targets in a training batch (`--hint_features`)."""
CORPUS_LABELS = "corpus_labels"
"""Name of the per-clip training-corpus index in a training batch (`--corpus_adversarial_weight`)."""


class AudioTransform:
    """`Dataset.set_transform` callable: decode, take the clip's window (or view), augment, normalise.

    Decoding happens here, on the fly, from the Arrow cache: nothing decoded is held in memory between batches.
    Every random choice (window, view, speed, noise) is drawn from a generator seeded by (seed, epoch, clip id),
    never from a running random state: a run resumed from a checkpoint sees exactly the crops an uninterrupted run
    sees (`EpochCallback` tells the transform the epoch). `targets` adds the teacher's logits of each clip, or of
    the view of it that the student gets (view-consistent distillation); `hints` each clip's feature-hint targets
    (anything with `lookup(clip_id)`, see `teachers.FeatureHints`); `corpora` the training corpora's names, in the
    order of the corpus-adversarial head's outputs (each clip gets its corpus's index)."""

    def __init__(
        self,
        feature_extractor: FeatureExtractionMixin,
        max_samples: int,
        random_crop: bool = False,
        seed: int = 0,
        targets=None,
        augmentation: Augmentation | None = None,
        hints=None,
        channel: ChannelAugmentation | None = None,
        trim: bool = False,
        corpora: list[str] | None = None,
    ):
        self.feature_extractor = feature_extractor
        self.max_samples = max_samples
        self.random_crop = random_crop
        self.seed = seed
        self.targets = targets
        self.augmentation = augmentation or Augmentation()
        self.hints = hints
        self.channel = channel
        self.trim = trim
        self.corpora = corpora
        self.epoch = 0

    def rng(self, clip_id: str) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, zlib.crc32(clip_id.encode())])

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        clips, soft, generators = [], [], []
        views = self.targets.views if self.targets is not None else None
        for audio, clip_id in zip(batch["audio"], batch["id"]):
            rng = self.rng(clip_id)
            waveform = load_audio(audio)
            if self.trim:  # before any window: the window is taken from the speech
                waveform = trim_silence(waveform)
            if views:  # the student hears its window of one cached view; the teacher's logits are for that view
                index = int(rng.integers(len(views)))
                view = views[index]
                waveform = apply_view(waveform, View(view.speed, view.offset_s, self.max_samples / SAMPLING_RATE))
            else:
                index = 0
                waveform = change_speed(waveform, self.augmentation.draw_speed(rng))
                offset = random_offset(waveform.size, self.max_samples, rng) if self.random_crop else 0
                waveform = crop(waveform, self.max_samples, offset)
            clips.append(self.augmentation.add_noise(waveform, rng))
            generators.append(rng)
            if self.targets is not None:
                soft.append(self.targets.lookup(clip_id, index))
        if self.channel is not None and self.channel.enabled:  # babble: the batch's other clips
            clips = [
                self.channel(clip, rng, babble=clips[:i] + clips[i + 1 :] or [clip])
                for i, (clip, rng) in enumerate(zip(clips, generators))
            ]
        features = self.feature_extractor(clips, sampling_rate=SAMPLING_RATE, return_attention_mask=False)
        output = {"input_values": list(features["input_values"]), "labels": list(batch["label"])}
        if self.targets is not None:
            output[TEACHER_LOGITS] = soft
        if self.hints is not None:
            output[HINT_TARGETS] = [self.hints.lookup(clip_id) for clip_id in batch["id"]]
        if self.corpora is not None:
            output[CORPUS_LABELS] = [self.corpora.index(corpus) for corpus in batch["corpus"]]
        return output


@dataclass
class Augmentation:
    """Training-time augmentation of the student's waveform (every field off by default: the paper's recipe).

    No gain augmentation: each clip is normalised to zero mean and unit variance, which undoes any gain."""

    speeds: tuple[float, ...] = ()
    noise_snr_db: tuple[float, float] | None = None

    def draw_speed(self, rng: np.random.Generator) -> float:
        return float(rng.choice(self.speeds)) if self.speeds else 1.0

    def add_noise(self, waveform: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """White noise at a signal-to-noise ratio drawn uniformly from `noise_snr_db` (in dB)."""
        if self.noise_snr_db is None:
            return waveform
        snr_db = rng.uniform(*self.noise_snr_db)
        power = float(np.mean(np.square(waveform, dtype=np.float64)))
        noise = rng.standard_normal(waveform.size) * np.sqrt(power / 10 ** (snr_db / 10))
        return (waveform + noise).astype(np.float32)


class AudioCollator:
    """Pads a list of normalised clips to the longest; an attention mask only for models that take one."""

    def __init__(self, feature_extractor: FeatureExtractionMixin):
        self.feature_extractor = feature_extractor

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        batch = self.feature_extractor.pad(
            {"input_values": [np.asarray(f["input_values"], dtype=np.float32) for f in features]},
            return_attention_mask=bool(self.feature_extractor.return_attention_mask),
            return_tensors="pt",
        )
        batch["labels"] = torch.tensor([f["labels"] for f in features], dtype=torch.long)
        for key in features[0].keys() - {"input_values", "labels"}:  # targets: indices stay integers
            values = np.stack([f[key] for f in features])
            integer = np.issubdtype(values.dtype, np.integer)
            batch[key] = torch.tensor(values, dtype=torch.long if integer else torch.float32)
        return dict(batch)


def set_transforms(
    splits: datasets.DatasetDict,
    feature_extractor: FeatureExtractionMixin,
    data_args: DataArguments,
    seed: int,
    targets=None,
    hints=None,
    corpora: list[str] | None = None,
) -> AudioTransform:
    """Training clips get the training crop, augmentation and any teacher targets, feature hints and corpus indices;
    validation clips the first evaluation window. Returns the training transform (for `EpochCallback`)."""
    augmentation = Augmentation(
        speeds=tuple(data_args.speed_perturbation or ()),
        noise_snr_db=tuple(data_args.noise_snr_db) if data_args.noise_snr_db else None,
    )
    random_crop = data_args.train_crop == "random"
    channel = ChannelAugmentation.from_names(data_args.channel_augmentation)
    train_transform = AudioTransform(
        feature_extractor,
        data_args.max_samples,
        random_crop,
        seed,
        targets,
        augmentation,
        hints,
        channel=channel,
        trim=data_args.trim_silence,
        corpora=corpora,
    )
    splits["train"].set_transform(train_transform)
    validation = AudioTransform(feature_extractor, data_args.eval_max_samples, trim=data_args.trim_silence)
    splits["validation"].set_transform(validation)
    return train_transform
