"""Test-time levers and probes on students already trained by `loco.py` (no training). Three one-clip levers (nothing
but the clip itself):

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

And probes of the students themselves, no lever one model can ship:

- `--tilt 0 4 8`: every clip filtered by a high shelf of G dB at 2 kHz (`TILT_SHELF_HZ`) before scoring: how far the
  model's answers follow the spectral tilt alone (high-frequency energy against low, a cue of vocal effort and so
  of arousal, and also of the microphone and room). Raising a corpus's high frequencies is tuning to that corpus:
  a diagnosis, not a lever;
- `--ensemble`: the `--models` of one fold (the same recipe's seeds, say) scored one clip at a time, each alone and
  as an ensemble (the mean of their log-probabilities), with the ensemble's recall of each emotion and its confusion
  matrix (JSON and PNG in `experiments/results/test_time/ensemble_FOLD/`). Averaging removes what one training
  drew by chance and keeps what every training learnt: an emotion the ensemble never says on a corpus is the
  recipe's bias there, not one seed's bad luck.

And two that are not one-clip levers: what adaptation asks of a user, and how far it can go:

- `--calibration_clips 5 10 20 50`: how many unlabelled clips of a new recording setup (or of a new speaker) the
  adaptations need. For each K, `--draws` times: K clips drawn at random from the scored corpus (`recording`: any
  speakers, the runtimes' `--adapt_recording`), K of each speaker (`speaker`), or K of the corpus's neutral clips
  (`recording, neutral only`: the calibration a user would naturally record, "speak normally", which breaks the
  assumption that the clips span emotions), or K clips for re-estimating batch-norm statistics (`adabn`, fewer
  draws: each is a scoring pass). The other clips are scored (never a calibration clip itself), the mean and sd
  over draws reported; `all` is the adaptation over every clip, the scored one included (what eval.py reports).
  Centring assumes the calibration clips' mean log-probability should be the same for every emotion; `referenced`
  settings move it to what it is on the model's own validation clips instead (CREMA-D's validation actors: all of
  them, or their neutral clips for a neutral calibration), so that a user's "speak normally" clips can calibrate.
- `--speaker_batch_norm`: AdaBN per speaker (batch-norm statistics re-estimated on each speaker's clips alone, each
  speaker's clips scored by their own copy), with and without per-speaker centring, against AdaBN on the whole
  corpus: the network's counterpart of the per-speaker feature normalisation that lets the classical teachers
  travel. Needs a speaker's other clips, as speaker adaptation does.

    python experiments/cross_corpus/test_time.py --speeds 0.9 1.0 1.1 --models \
        runs/loco/mix_hint3_b05_aug_trim_votes_e10_seed1/savee runs/loco/mix_hint3_b05_aug_trim_votes_e10_seed1/tess
    python experiments/cross_corpus/test_time.py --clip_statistics 1.0 0.9 0.75 0.5 0.0 --models ...
    python experiments/cross_corpus/test_time.py --votes_prior 0 0.5 1 --models ...
    python experiments/cross_corpus/test_time.py --calibration_clips 5 10 20 50 --corpus savee --models \
        models/litecnn-ser
    python experiments/cross_corpus/test_time.py --ensemble --models runs/loco/NAME/savee runs/loco/NAME_seed1/savee
    python experiments/cross_corpus/test_time.py --tilt -8 -4 0 4 8 --models runs/loco/NAME/savee
    python experiments/cross_corpus/test_time.py --speaker_batch_norm --corpus tess --models models/litecnn-ser

A model folder `runs/loco/NAME/FOLD` is scored on its left-out corpus FOLD (`SHARED/FOLD`), any other model on
`--corpus`; the scores, per setting, go to experiments/results/test_time/KIND.json (KIND: speeds, clip_statistics,
votes_prior, calibration_clips, ensemble, tilt, speaker_batch_norm; one entry per model and corpus, replaced when
scored again; `--calibration_clips` adds its settings to the entry, so AdaBN and centring can be measured by
separate runs).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import confusion_matrix
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from data.audio import SAMPLING_RATE  # noqa: E402
from data.sources import load_sources  # noqa: E402
from data.views import View  # noqa: E402
from litecnn_ser.adaptation import adapt_batch_norm  # noqa: E402
from litecnn_ser.augment import biquad  # noqa: E402
from litecnn_ser.crowd_votes import read_votes  # noqa: E402
from litecnn_ser.evaluation import load_model, load_scorer, model_inputs, to_model_labels  # noqa: E402
from litecnn_ser.metrics import metrics_from_logits, save_confusion_matrix  # noqa: E402
from litecnn_ser.scoring import config_labels, evaluation_window  # noqa: E402
from litecnn_ser.speaker_adaptation import centre_log_probabilities  # noqa: E402

RESULTS = ROOT / "experiments" / "results" / "test_time"
TILT_SHELF_HZ = 2_000.0
"""`--tilt`'s shelf frequency: the border between the 0-2 kHz and 2-5 kHz bands whose peaks eGeMAPS's Hammarberg
index compares (its alpha ratio compares 50 Hz-1 kHz with 1-5 kHz)."""


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


def with_recalls(logits: np.ndarray, labels: np.ndarray, names: list[str]) -> dict:
    """Accuracy, UAR and each emotion's recall (`recall_NAME`), to 4 decimals."""
    metrics = metrics_from_logits(logits, labels, names)
    return {key: round(value, 4) for key, value in metrics.items() if key in ("accuracy", "uar") or "recall_" in key}


def one_clip_log_probabilities(model_dir: str, dataset) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(log-probabilities of each clip, the clips' labels as class indices, the model's label names)."""
    score, names, _, _ = load_scorer(model_dir, 32)
    labels = to_model_labels(dataset, names, model_dir)
    return torch.log_softmax(torch.as_tensor(score(dataset)), -1).numpy(), labels, names


def votes_prior(model_dir: str, dataset, taus: list[float], votes: Path) -> dict:
    """For each `tau`: accuracy, UAR and each emotion's recall of log-probabilities - tau * log(votes marginal)."""
    log_probabilities, labels, names = one_clip_log_probabilities(model_dir, dataset)
    prior = np.log(votes_marginal(votes))
    return {f"tau {tau:g}": with_recalls(log_probabilities - tau * prior, labels, names) for tau in taus}


def ensemble_scores(
    log_probabilities: list[np.ndarray], labels: np.ndarray, names: list[str], models: list[str] | None = None
) -> dict:
    """Each model's accuracy and UAR (keyed by `models`, or `model N` in the given order) and their ensemble's (the
    mean of their log-probabilities: a geometric mean of probabilities), with its recalls and confusion matrix
    (rows: true)."""
    models = models or [f"model {i}" for i in range(len(log_probabilities))]
    scores = {model: accuracy_and_uar(z, labels) for model, z in zip(models, log_probabilities)}
    mean = np.mean(log_probabilities, axis=0)
    confusion = confusion_matrix(labels, mean.argmax(-1), labels=list(range(len(names))))
    scores["ensemble"] = {**with_recalls(mean, labels, names), "confusion": confusion.tolist()}
    return scores


def ensemble(model_dirs: list[str], dataset, fold: str) -> dict:
    """`ensemble_scores` of the models on `dataset` (one fold's left-out corpus), the ensemble's confusion matrix
    also as JSON and PNG in RESULTS/ensemble_FOLD/."""
    log_probabilities, labels, names = [], None, None
    for model_dir in model_dirs:
        z, model_labels, model_names = one_clip_log_probabilities(model_dir, dataset)
        if names is not None and model_names != names:
            raise SystemExit(f"error: --ensemble: {model_dir} predicts {model_names}, {model_dirs[0]} {names}")
        log_probabilities.append(z)
        labels, names = model_labels, model_names
    scores = ensemble_scores(log_probabilities, labels, names, model_dirs)
    title = f"{len(model_dirs)} students' mean log-probability on {fold}"
    predictions = np.mean(log_probabilities, axis=0).argmax(-1)
    save_confusion_matrix(labels, predictions, names, RESULTS / f"ensemble_{fold}", title)
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


def clips_for(model_dir: str, dataset):
    """(model, its feature extractor, label names, the clips' labels, each clip as the model's input) for scoring
    clip by clip: the model's evaluation window, its silence trimming, normalised by its feature extractor."""
    model, feature_extractor, record = load_model(model_dir)
    names = config_labels(model.config)
    labels = to_model_labels(dataset, names, model_dir)
    view = View(1.0, 0.0, evaluation_window(record))
    return (
        model,
        feature_extractor,
        names,
        labels,
        model_inputs(feature_extractor, dataset, view, record.get("trim_silence")),
    )


def clip_statistics(model_dir: str, dataset, weights: list[float]) -> dict:
    model, _, _, labels, inputs = clips_for(model_dir, dataset)
    weight = with_clip_statistics(model)
    scores = {}
    for w in weights:
        weight["w"] = w
        scores[f"w {w:g}"] = accuracy_and_uar(scored_alone(model, inputs), labels)
    return scores


def tilt(model_dir: str, dataset, gains_db: list[float]) -> dict:
    """For each gain: accuracy, UAR and each emotion's recall, every clip `shelved` by `gain` dB and then normalised
    by the model's feature extractor again, scored alone (0 dB: the model as is)."""
    model, feature_extractor, names, labels, inputs = clips_for(model_dir, dataset)
    scores = {}
    for gain in gains_db:
        filtered = [
            feature_extractor(shelved(x, gain), sampling_rate=SAMPLING_RATE)["input_values"][0] for x in inputs
        ]
        logits = scored_alone(model, [np.asarray(values) for values in filtered])
        scores[f"tilt {gain:+g} dB"] = with_recalls(logits, labels, names)
    return scores


def scored_alone(model: nn.Module, inputs: list[np.ndarray]) -> np.ndarray:
    """Each clip's logits, every clip scored alone (no padding, no other clip in its batch)."""
    with torch.no_grad():
        return np.stack([model(torch.as_tensor(x)[None]).logits[0].numpy() for x in inputs])


def speaker_batch_norm_logits(model: nn.Module, inputs: list[np.ndarray], speakers) -> np.ndarray:
    """Each clip's logits from a copy of `model` whose batch-norm statistics are those of its speaker's clips alone
    (`adapt_batch_norm`; `model` itself is untouched), every clip scored alone."""
    speakers = np.asarray(speakers)
    logits = np.zeros((len(inputs), model.config.num_labels), dtype=np.float32)
    for speaker in np.unique(speakers):
        indices = np.flatnonzero(speakers == speaker)
        own = [inputs[i] for i in indices]
        logits[indices] = scored_alone(adapt_batch_norm(model, own), own)
    return logits


def speaker_batch_norm(model_dir: str, dataset) -> dict:
    """Accuracy and UAR from one clip, after AdaBN on the whole corpus and after AdaBN per speaker, each also
    centred per speaker (`centre_log_probabilities`, eval.py's `--speaker_adaptation`)."""
    model, _, _, labels, inputs = clips_for(model_dir, dataset)
    speakers = list(dataset["actor_id"])
    if None in speakers:
        raise SystemExit(f"error: --speaker_batch_norm: {model_dir}'s corpus does not say who speaks each clip")
    scores = {}
    for name, logits in (
        ("one clip", scored_alone(model, inputs)),
        ("AdaBN on the corpus", scored_alone(adapt_batch_norm(model, inputs), inputs)),
        ("AdaBN per speaker", speaker_batch_norm_logits(model, inputs, speakers)),
    ):
        scores[name] = accuracy_and_uar(logits, labels)
        scores[f"{name}, centred per speaker"] = accuracy_and_uar(centre_log_probabilities(logits, speakers), labels)
    return scores


def shelved(waveform: np.ndarray, gain_db: float) -> np.ndarray:
    """The waveform through a high shelf of `gain_db` at `TILT_SHELF_HZ` (float32; 0 dB: the waveform itself)."""
    from scipy import signal

    shelf = biquad("highshelf", TILT_SHELF_HZ, gain_db)[None]
    return signal.sosfilt(shelf, np.asarray(waveform, dtype=np.float64)).astype(np.float32)


def _summary(runs: list[dict]) -> dict:
    summary = {"draws": len(runs)}
    for key in ("accuracy", "uar"):
        values = [run[key] for run in runs]
        summary[key] = round(float(np.mean(values)), 4)
        summary[f"{key}_sd"] = round(float(np.std(values, ddof=1)), 4) if len(values) > 1 else 0.0
    return summary


def calibration_draws(
    groups: dict, k: int, draws: int, rng: np.random.Generator, pool: np.ndarray | None = None
) -> list[tuple[list[np.ndarray], list[np.ndarray]]]:
    """`draws` x (calibration rows, scored rows), one array of each per group: K rows drawn in each group (a
    speaker, or the whole corpus), the group's other rows scored; `pool` restricts the calibration rows (the neutral
    clips), never the scored ones.
    Groups with no K rows to draw and one left to score are skipped; none at all gives []."""
    out = []
    for _ in range(draws):
        calibration, scored = [], []
        for rows in groups.values():
            candidates = rows if pool is None else np.intersect1d(rows, pool)
            if len(candidates) < k or len(rows) <= k:
                continue
            chosen = rng.choice(candidates, size=k, replace=False)
            calibration.append(chosen)
            scored.append(np.setdiff1d(rows, chosen))
        if not calibration:
            return []
        out.append((calibration, scored))
    return out


def _per_group_scores(log_probabilities: np.ndarray, labels: np.ndarray, draws, reference: np.ndarray) -> dict:
    """Mean and sd over draws of accuracy and UAR on the scored rows, each group's log-probabilities moved by the
    mean of its own calibration rows (a speaker's, or the corpus's) minus `reference` (what that mean is on the
    training setup; zeros: plain centring), all groups' scored rows pooled."""
    runs = []
    for calibration, scored in draws:
        moved = np.concatenate(
            [
                log_probabilities[s] - (log_probabilities[c].mean(axis=0) - reference)
                for c, s in zip(calibration, scored)
            ]
        )
        runs.append(accuracy_and_uar(moved, labels[np.concatenate(scored)]))
    return _summary(runs)


def reference_log_probabilities(score, record: dict, names: list[str], shared: Path) -> dict[str, np.ndarray] | None:
    """The mean log-probability of the model's own validation clips (CREMA-D's validation actors, which selected
    its checkpoint: the training setup, new voices), over all of them and over the neutral ones; None for a model
    validated elsewhere."""
    actors = set(record.get("validation_actors") or [])
    if not actors or "cremad" not in str(record.get("corpus", "cremad")).split("+"):
        return None
    corpus = load_sources([f"cremad={shared / 'crema-d' / 'AudioFLAC'}"])[0]
    validation = corpus.select(np.flatnonzero(np.isin(np.asarray(corpus["actor_id"], dtype=int), list(actors))))
    labels = to_model_labels(validation, names, "the reference clips")
    log_probabilities = torch.log_softmax(torch.as_tensor(score(validation)), -1).numpy().astype(np.float64)
    neutral = labels == names.index("neutral")
    return {"all": log_probabilities.mean(axis=0), "neutral": log_probabilities[neutral].mean(axis=0)}


def calibration_clips(
    model_dir: str, dataset, ks: list[int], draws: int, adabn_draws: int, shared: Path, seed: int = 0
) -> dict:
    """Accuracy and UAR after adapting with K unlabelled clips, for each K (module docstring)."""
    from litecnn_ser.adaptation import adapt_batch_norm
    from litecnn_ser.scoring import centre_over_recording
    from litecnn_ser.speaker_adaptation import centre_log_probabilities
    from litecnn_ser.teachers import compute_model_logits

    model, feature_extractor, record = load_model(model_dir)
    names = config_labels(model.config)
    labels = to_model_labels(dataset, names, model_dir)
    view = View(1.0, 0.0, evaluation_window(record))
    trim = record.get("trim_silence")

    def score(clips, scorer=model):
        return compute_model_logits(scorer, feature_extractor, clips, view, 32, trim)

    log_probabilities = torch.log_softmax(torch.as_tensor(score(dataset)), -1).numpy().astype(np.float64)
    speakers = np.asarray([str(s) for s in dataset["actor_id"]])
    everyone = {"all": np.arange(len(labels))}
    by_speaker = {s: np.flatnonzero(speakers == s) for s in np.unique(speakers)}
    neutral = np.flatnonzero(labels == names.index("neutral"))
    zero = np.zeros(len(names))
    settings = [
        ("recording", everyone, None, zero),
        ("speaker", by_speaker, None, zero),
        ("recording, neutral only", everyone, neutral, zero),
    ]
    reference = reference_log_probabilities(score, record, names, shared) if draws else None
    if reference is not None:
        settings += [
            ("recording, referenced", everyone, None, reference["all"]),
            ("recording, neutral only, referenced", everyone, neutral, reference["neutral"]),
            ("speaker, neutral only, referenced", by_speaker, neutral, reference["neutral"]),
        ]
    scores = {
        "one clip": accuracy_and_uar(log_probabilities, labels),
        "recording, all": accuracy_and_uar(centre_over_recording(log_probabilities), labels),
        "speaker, all": accuracy_and_uar(centre_log_probabilities(log_probabilities, speakers), labels),
    }
    if reference is not None:
        scores["reference"] = {key: np.round(value, 4).tolist() for key, value in reference.items()}
    inputs = model_inputs(feature_extractor, dataset, view, trim)
    rng = np.random.default_rng(seed)
    for k in ks:
        for setting, groups, pool, offset in settings if draws else ():
            chosen = calibration_draws(groups, k, draws, rng, pool)
            if chosen:
                scores[f"{setting}, K={k}"] = _per_group_scores(log_probabilities, labels, chosen, offset)
        runs = []
        for calibration, scored in calibration_draws(everyone, k, adabn_draws, rng):
            adapted_logits = score(dataset, adapt_batch_norm(model, [inputs[i] for i in calibration[0]]))
            runs.append(accuracy_and_uar(adapted_logits[scored[0]], labels[scored[0]]))
        if runs:
            scores[f"adabn, K={k}"] = _summary(runs)
        print(f"K={k}", json.dumps({key: v for key, v in scores.items() if key.endswith(f"K={k}")}), flush=True)
    return scores


CALIBRATION_ROWS = (
    "recording",
    "speaker",
    "adabn",
    "recording, neutral only",
    "recording, neutral only, referenced",
    "recording, referenced",
    "speaker, neutral only, referenced",
)


def calibration_table(results: dict) -> str:
    """calibration_clips.json as Markdown, one table per model and corpus: accuracy ± sd over draws (UAR)."""
    out = []
    for model, scores in results.items():
        ks = sorted({int(key.rsplit("K=", 1)[1]) for key in scores if "K=" in key})
        one, recording, speaker = (scores.get(key, {}) for key in ("one clip", "recording, all", "speaker, all"))
        out += [
            f"**{model}**: one clip {one.get('accuracy', 0):.4f} (UAR {one.get('uar', 0):.4f}); every clip of the "
            f"corpus (the clip itself included) {recording.get('accuracy', 0):.4f}, of each speaker "
            f"{speaker.get('accuracy', 0):.4f}",
            "",
            "| calibration | " + " | ".join(f"K = {k}" for k in ks) + " |",
            "|---|" + "---:|" * len(ks),
        ]
        for row in CALIBRATION_ROWS:
            cells = [scores.get(f"{row}, K={k}") for k in ks]
            if any(cells):
                out.append(
                    f"| {row} | "
                    + " | ".join(
                        f"{c['accuracy']:.3f} ± {c['accuracy_sd']:.3f} ({c['uar']:.3f})" if c else "-" for c in cells
                    )
                    + " |"
                )
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", help="runs/loco/NAME/FOLD folders (or any model, with --corpus)")
    lever = parser.add_mutually_exclusive_group(required=True)
    lever.add_argument("--speeds", nargs="+", type=float)
    lever.add_argument("--clip_statistics", nargs="+", type=float, metavar="W")
    lever.add_argument("--votes_prior", nargs="+", type=float, metavar="TAU")
    lever.add_argument("--calibration_clips", nargs="+", type=int, metavar="K")
    lever.add_argument("--ensemble", action="store_true", help="the --models of one fold, alone and averaged")
    lever.add_argument("--tilt", nargs="+", type=float, metavar="DB", help="high-shelf gains at 2 kHz (diagnosis)")
    lever.add_argument(
        "--speaker_batch_norm",
        action="store_true",
        help="AdaBN per speaker against AdaBN on the corpus (not one clip)",
    )
    lever.add_argument("--calibration_table", action="store_true", help="print calibration_clips.json and exit")
    parser.add_argument("--draws", type=int, default=50, help="--calibration_clips: draws per K (centring; 0: none)")
    parser.add_argument("--adabn_draws", type=int, default=3, help="--calibration_clips: draws per K (AdaBN; 0: none)")
    parser.add_argument("--corpus", help="the corpus to score (a folder of SHARED; default: the model folder's name)")
    parser.add_argument("--shared", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--votes", type=Path, help="the votes table (default: SHARED/crema-d/tabulatedVotes.csv)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.calibration_clips and min(args.calibration_clips) < 1:
        parser.error(f"--calibration_clips: K must be at least 1, got {min(args.calibration_clips)}")
    if args.calibration_table:
        output = RESULTS / "calibration_clips.json"
        print(calibration_table(json.loads(output.read_text())) if output.exists() else f"no {output} yet")
        return
    if not args.models:
        parser.error("--models is required")
    if 1 in (args.draws, args.adabn_draws) or min(args.draws, args.adabn_draws) < 0:
        parser.error("--draws and --adabn_draws: 0 (not measured) or at least 2 (a mean and an sd)")
    kinds = ("speeds", "clip_statistics", "votes_prior", "calibration_clips", "ensemble", "tilt", "speaker_batch_norm")
    kind = next(name for name in kinds if getattr(args, name))
    votes = args.votes or Path(args.shared) / "crema-d" / "tabulatedVotes.csv"
    output = RESULTS / f"{kind}.json"
    results = json.loads(output.read_text()) if output.exists() else {}
    if args.ensemble:
        folds = {args.corpus or Path(model_dir).name for model_dir in args.models}
        if len(folds) != 1 or len(args.models) < 2:
            parser.error(
                f"--ensemble: at least 2 --models of one fold (or one --corpus), got {len(args.models)} "
                f"of {sorted(folds)}"
            )
        fold = folds.pop()
        if not (Path(args.shared) / fold).is_dir():
            raise SystemExit(f"error: --ensemble: no corpus {Path(args.shared) / fold} to score (--corpus NAME)")
        scores = ensemble(args.models, load_sources([f"{fold}={Path(args.shared) / fold}"])[0], fold)
        results[f"{len(args.models)} models on {fold}: " + " ".join(args.models)] = scores
        print(json.dumps(scores, indent=1), flush=True)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(results, indent=1) + "\n")
        return
    corpora = {}
    for model_dir in args.models:
        fold = args.corpus or Path(model_dir).name
        if not (Path(args.shared) / fold).is_dir():
            raise SystemExit(f"error: {model_dir}: no corpus {Path(args.shared) / fold} to score (--corpus NAME)")
        if fold not in corpora:
            corpora[fold] = load_sources([f"{fold}={Path(args.shared) / fold}"])[0]
        if args.speeds:
            scores = speed_views(model_dir, corpora[fold], args.speeds)
        elif args.clip_statistics:
            scores = clip_statistics(model_dir, corpora[fold], args.clip_statistics)
        elif args.votes_prior:
            scores = votes_prior(model_dir, corpora[fold], args.votes_prior, votes)
        elif args.tilt:
            scores = tilt(model_dir, corpora[fold], args.tilt)
        elif args.speaker_batch_norm:
            scores = speaker_batch_norm(model_dir, corpora[fold])
        else:
            scores = calibration_clips(
                model_dir, corpora[fold], args.calibration_clips, args.draws, args.adabn_draws, Path(args.shared)
            )
        key = str(Path(model_dir).relative_to(ROOT) if Path(model_dir).is_absolute() else model_dir)
        entry = key if fold == Path(model_dir).name else f"{key} on {fold}"
        results[entry] = {**results.get(entry, {}), **scores} if kind == "calibration_clips" else scores
        print(model_dir, json.dumps(scores), flush=True)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
