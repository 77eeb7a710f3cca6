"""Knowledge distillation: the loss, its `Trainer`, and the teacher's logits computed once and cached.

    loss = alpha * CE(student, labels) + (1 - alpha) * T**2 * KL(softmax(teacher / T) || softmax(student / T))

The T**2 factor keeps the soft term's gradients on the same scale as the hard term's when T changes (Hinton et
al., 2015). The teacher never runs during student training: its logits are computed once per (teacher weights,
preprocessing, clips) and cached on disk next to the prepared dataset.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import numpy as np
import torch
from torch.nn import functional as F
from tqdm.auto import tqdm
from transformers import FeatureExtractionMixin, PreTrainedModel

from training_utils import AudioCollator, AudioTransform, MeanLossTrainer, PaperTrainingArguments

logger = logging.getLogger(__name__)

TEACHER_LOGITS = "teacher_logits"
"""Name of the per-clip teacher logits in a training batch."""


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


def file_digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 22), b""):
                digest.update(chunk)
    return digest.hexdigest()


def teacher_logits_key(
    teacher_dir: Path, feature_extractor: FeatureExtractionMixin, max_samples: int, dataset: datasets.Dataset
) -> str:
    """Changes with the teacher's weights, its preprocessing, the window, and the clips (their ids and audio)."""
    weights = sorted(teacher_dir.glob("*.safetensors")) or sorted(teacher_dir.glob("*.bin"))
    if not weights:
        raise FileNotFoundError(f"--teacher {teacher_dir}: no model weights (*.safetensors or *.bin) in the folder")
    parts = {
        "weights": file_digest(weights),
        "preprocessing": feature_extractor.to_dict(),
        "max_samples": max_samples,
        "clips": hashlib.sha256("\n".join(dataset["id"]).encode()).hexdigest(),
        "corpus": [Path(f["filename"]).parent.name for f in dataset.cache_files],
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:20]


@torch.no_grad()
def compute_teacher_logits(
    teacher: PreTrainedModel,
    feature_extractor: FeatureExtractionMixin,
    dataset: datasets.Dataset,
    max_samples: int,
    batch_size: int = 32,
) -> np.ndarray:
    """The teacher's logits for every clip, in eval mode without gradients, on the first `max_samples` of each."""
    teacher.eval()
    transform, collate = AudioTransform(feature_extractor, max_samples), AudioCollator(feature_extractor)
    raw = dataset.with_format(None)
    logits = []
    for start in tqdm(range(0, len(raw), batch_size), desc="teacher logits", unit="batch"):
        rows = raw[start : start + batch_size]
        features = transform(rows)
        batch = collate([dict(zip(features, values)) for values in zip(*features.values())])
        batch.pop("labels")
        batch = {key: value.to(teacher.device) for key, value in batch.items()}
        logits.append(teacher(**batch).logits.float().cpu().numpy())
    return np.concatenate(logits)


def cached_teacher_logits(
    teacher_dir: Path,
    teacher: PreTrainedModel,
    feature_extractor: FeatureExtractionMixin,
    dataset: datasets.Dataset,
    max_samples: int,
    batch_size: int = 32,
) -> tuple[dict[str, np.ndarray], Path, bool]:
    """{clip id: logits}, the cache file, and whether it was reused. The cache sits beside the dataset's Arrow files."""
    key = teacher_logits_key(teacher_dir, feature_extractor, max_samples, dataset)
    cache_root = Path(dataset.cache_files[0]["filename"]).parent if dataset.cache_files else Path(".cache")
    cache_file = cache_root / TEACHER_LOGITS / f"{key}.npz"
    reused = cache_file.exists()
    if reused:
        stored = np.load(cache_file)
        ids, logits = stored["ids"].tolist(), stored["logits"]
        logger.info("reusing teacher logits for %d clips from %s", len(ids), cache_file)
    else:
        ids = list(dataset["id"])
        logits = compute_teacher_logits(teacher, feature_extractor, dataset, max_samples, batch_size)
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        partial = cache_file.with_suffix(".tmp.npz")
        np.savez(partial, ids=np.array(ids), logits=logits)
        partial.replace(cache_file)  # atomic: an interrupted run never leaves a half-written cache behind
        logger.info("cached teacher logits for %d clips in %s", len(ids), cache_file)
    return dict(zip(ids, logits.astype(np.float32))), cache_file, reused
