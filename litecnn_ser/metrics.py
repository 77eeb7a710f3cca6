"""Classification metrics by scikit-learn (accuracy, UAR, macro precision/recall/F1, per-class recall) and the
confusion matrix as JSON and PNG. No torch: `eval.py` and the experiments use these on any model's logits."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, precision_recall_fscore_support


def mean_sd(values: list[float], of: int | None = None) -> str:
    """`0.573 ± 0.008`: the mean and sample standard deviation of runs that differ by seed; one run, its number.
    `of`: how many seeds the row has, when some lack this column (`0.450 ± 0.071 (2 of 3 seeds)`)."""
    text = (
        f"{values[0]:.3f}" if len(values) == 1 else f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"
    )
    return text if of is None or len(values) == of else f"{text} ({len(values)} of {of} seeds)"


class LabelledMetrics:
    """The Trainer's `compute_metrics`: `metrics_from_logits` of its predictions, per-class recall by label name."""

    def __init__(self, names: list[str]):
        self.names = names

    def __call__(self, eval_pred) -> dict[str, float]:
        logits = eval_pred.predictions
        logits = logits[0] if isinstance(logits, tuple) else logits
        return metrics_from_logits(logits, eval_pred.label_ids, self.names)


def metrics_from_logits(logits: np.ndarray, labels: np.ndarray, names: list[str] | None = None) -> dict[str, float]:
    """Accuracy, unweighted average recall (UAR), macro precision/recall/F1 and per-class recall (`recall_<name>`,
    `names` in label order; the class index without them), by scikit-learn."""
    predictions = np.argmax(logits, axis=-1)
    classes = list(range(logits.shape[-1]))
    precision, recall, f1, _ = precision_recall_fscore_support(
        labels, predictions, labels=classes, average="macro", zero_division=0
    )
    per_class = precision_recall_fscore_support(labels, predictions, labels=classes, average=None, zero_division=0)[1]
    metrics = {
        "accuracy": float(np.mean(predictions == labels)),
        "uar": float(balanced_accuracy_score(labels, predictions)),
        "macro_precision": float(precision),
        "macro_recall": float(recall),
        "macro_f1": float(f1),
    }
    names = names or [str(c) for c in classes]
    metrics.update({f"recall_{name}": float(value) for name, value in zip(names, per_class)})
    return metrics


def save_confusion_matrix(
    labels: np.ndarray,
    predictions: np.ndarray,
    names: list[str],
    output_dir: Path,
    title: str = "Validation confusion matrix",
) -> np.ndarray:
    """`confusion_matrix.json` (rows: true emotion, columns: predicted) and the same as a readable PNG, titled
    `title (N clips, accuracy A)`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = confusion_matrix(labels, predictions, labels=list(range(len(names))))
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "confusion_matrix.json").write_text(
        json.dumps({"labels": names, "rows": "true", "columns": "predicted", "matrix": matrix.tolist()}, indent=1)
    )
    figure, axes = plt.subplots(figsize=(6.4, 5.6))
    image = axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(names)), names, rotation=35, ha="right")
    axes.set_yticks(range(len(names)), names)
    axes.set_xlabel("predicted emotion")
    axes.set_ylabel("true emotion")
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    axes.set_title(f"{title} ({matrix.sum()} clips, accuracy {accuracy:.3f})")
    threshold = matrix.max() / 2 if matrix.size else 0
    for (row, column), count in np.ndenumerate(matrix):
        axes.text(column, row, str(count), ha="center", va="center", color="white" if count > threshold else "black")
    figure.colorbar(image, ax=axes, fraction=0.046)
    figure.tight_layout()
    figure.savefig(output_dir / "confusion_matrix.png", dpi=120)
    plt.close(figure)
    return matrix
