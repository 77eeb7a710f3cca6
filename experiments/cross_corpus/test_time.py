"""Three one-clip levers at test time only, on students already trained by `loco.py` (no training, no other clip):

- `--speeds 0.9 1.0 1.1`: test-time augmentation, the clip's log-probabilities averaged over speed views
  (`data.views.View`: resampled, so pitch and tempo move together, as the training's speed perturbation);
- `--clip_statistics 1.0 0.9 0.75 0.5 0.0`: each batch norm normalises with `w` x its training statistics + (1 - w)
  x the clip's own (per channel, over the clip's frames; the mixed variance includes the spread of the two means):
  Schneider et al. 2020, "Improving robustness against common corruptions by covariate shift adaptation", for one
  sample. `w = 1` is the model as it is; `w = 0` is instance normalisation; the clip is scored alone (no padding);
- `--votes_prior 0 0.5 1`: the clip's log-probabilities minus `tau` x the log of the crowd votes' emotion marginal
  (each CREMA-D clip's vote shares in `tabulatedVotes.csv`'s audio-visual ratings, the votes teacher's default,
  averaged over the clips; "neutral" takes 25% of them): the bias towards neutral a votes teacher teaches, removed by one fixed vector (logit
  adjustment, Menon et al., 2021), so still a one-clip number. Each emotion's recall is kept.

    python experiments/cross_corpus/test_time.py --speeds 0.9 1.0 1.1 --models \
        runs/loco/mix_hint3_b05_aug_trim_votes_e10_seed1/savee runs/loco/mix_hint3_b05_aug_trim_votes_e10_seed1/tess
    python experiments/cross_corpus/test_time.py --clip_statistics 1.0 0.9 0.75 0.5 0.0 --models ...
    python experiments/cross_corpus/test_time.py --votes_prior 0 0.5 1 --models ...

A model folder `runs/loco/NAME/FOLD` is scored on its left-out corpus FOLD (`SHARED/FOLD`); the scores, per setting,
go to experiments/results/test_time/{speeds,clip_statistics,votes_prior}.json (one entry per model, replaced when scored again).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from data.sources import load_sources  # noqa: E402
from data.views import View  # noqa: E402
from litecnn_ser.crowd_votes import read_votes  # noqa: E402
from litecnn_ser.evaluation import load_model, load_scorer, model_inputs, to_model_labels  # noqa: E402
from litecnn_ser.metrics import metrics_from_logits  # noqa: E402
from litecnn_ser.scoring import config_labels, evaluation_window  # noqa: E402

RESULTS = ROOT / "experiments" / "results" / "test_time"


def accuracy_and_uar(logits: np.ndarray, labels: np.ndarray) -> dict:
    """The two numbers the JSON keeps, by `metrics_from_logits` (as eval.py), to 4 decimals."""
    metrics = metrics_from_logits(logits, labels)
    return {key: round(metrics[key], 4) for key in ("accuracy", "uar")}


def speed_views(model_dir: str, dataset, speeds: list[float]) -> dict:
    """Each speed alone, and the mean of their log-probabilities (`tta`)."""
    score, names, record, _ = load_scorer(model_dir, 32)
    labels = to_model_labels(dataset, names, model_dir)
    window = evaluation_window(record)
    log_probabilities = {
        speed: torch.log_softmax(torch.as_tensor(score(dataset, View(speed, 0.0, window))), -1).numpy()
        for speed in speeds
    }
    scores = {f"speed {speed:g}": accuracy_and_uar(z, labels) for speed, z in log_probabilities.items()}
    scores["tta"] = accuracy_and_uar(sum(log_probabilities.values()), labels)
    return scores


def votes_marginal(path: Path) -> np.ndarray:
    """The crowd votes' share of each emotion (EMOTIONS order), each rated clip's vote shares averaged."""
    shares = [counts / counts.sum() for counts in read_votes(path)[0].values()]
    return np.mean(shares, axis=0)


def votes_prior(model_dir: str, dataset, taus: list[float], votes: Path) -> dict:
    """For each `tau`: accuracy, UAR and each emotion's recall of log-probabilities - tau * log(votes marginal)."""
    score, names, _, _ = load_scorer(model_dir, 32)
    labels = to_model_labels(dataset, names, model_dir)
    log_probabilities = torch.log_softmax(torch.as_tensor(score(dataset)), -1).numpy()
    prior = np.log(votes_marginal(votes))
    scores = {}
    for tau in taus:
        metrics = metrics_from_logits(log_probabilities - tau * prior, labels, names)
        scores[f"tau {tau:g}"] = {
            key: round(value, 4) for key, value in metrics.items() if key in ("accuracy", "uar") or "recall_" in key
        }
    return scores


def _mixed_batch_norm(weight: dict):
    """A batch norm's forward that mixes its training statistics with the clip's, by `weight["w"]`."""

    def forward(self, x):
        shape = (1, -1) + (1,) * (x.dim() - 2)
        w = weight["w"]
        mean, variance = self.running_mean, self.running_var
        if w < 1.0 and x.dim() > 2:  # (1, channels, frames): the clip's frames; a pooled vector has no statistics
            dims = [0, *range(2, x.dim())]
            clip_mean, clip_variance = x.mean(dims), x.var(dims, unbiased=False)
            mean, variance = (  # the mean and variance of the mixture w x training + (1 - w) x clip
                w * self.running_mean + (1 - w) * clip_mean,
                w * self.running_var + (1 - w) * clip_variance + w * (1 - w) * (clip_mean - self.running_mean) ** 2,
            )
        normalised = (x - mean.view(shape)) / torch.sqrt(variance.view(shape) + self.eps)
        return normalised * self.weight.view(shape) + self.bias.view(shape)

    return forward


def with_clip_statistics(model: nn.Module) -> dict:
    """Makes every batch norm of `model` (in place) mix its statistics with the clip's; returns the mutable
    `{"w": weight}` they read (1.0: the model as it is)."""
    weight = {"w": 1.0}
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.forward = _mixed_batch_norm(weight).__get__(module)
    return weight


def clip_statistics(model_dir: str, dataset, weights: list[float]) -> dict:
    model, feature_extractor, record = load_model(model_dir)
    weight = with_clip_statistics(model)
    names = config_labels(model.config)
    labels = to_model_labels(dataset, names, model_dir)
    inputs = model_inputs(
        feature_extractor, dataset, View(1.0, 0.0, evaluation_window(record)), record.get("trim_silence")
    )
    scores = {}
    with torch.no_grad():
        for w in weights:
            weight["w"] = w
            logits = np.stack([model(torch.as_tensor(x)[None]).logits[0].numpy() for x in inputs])
            scores[f"w {w:g}"] = accuracy_and_uar(logits, labels)
    return scores


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", required=True, help="runs/loco/NAME/FOLD folders")
    lever = parser.add_mutually_exclusive_group(required=True)
    lever.add_argument("--speeds", nargs="+", type=float)
    lever.add_argument("--clip_statistics", nargs="+", type=float, metavar="W")
    lever.add_argument("--votes_prior", nargs="+", type=float, metavar="TAU")
    parser.add_argument("--shared", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--votes", type=Path, help="the votes table (default: SHARED/crema-d/tabulatedVotes.csv)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    kind = "speeds" if args.speeds else "clip_statistics" if args.clip_statistics else "votes_prior"
    votes = args.votes or Path(args.shared) / "crema-d" / "tabulatedVotes.csv"
    output = RESULTS / f"{kind}.json"
    results = json.loads(output.read_text()) if output.exists() else {}
    corpora = {}
    for model_dir in args.models:
        fold = Path(model_dir).name
        if fold not in corpora:
            corpora[fold] = load_sources([f"{fold}={Path(args.shared) / fold}"])[0]
        if args.speeds:
            scores = speed_views(model_dir, corpora[fold], args.speeds)
        elif args.clip_statistics:
            scores = clip_statistics(model_dir, corpora[fold], args.clip_statistics)
        else:
            scores = votes_prior(model_dir, corpora[fold], args.votes_prior, votes)
        results[str(Path(model_dir).relative_to(ROOT) if Path(model_dir).is_absolute() else model_dir)] = scores
        print(model_dir, json.dumps(scores), flush=True)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
