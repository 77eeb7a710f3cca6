"""The README's "Distillation on a CPU" tables, from experiments/results/t_* (teachers) and
experiments/results/s_*_seed* (students).

    python experiments/cpu_distillation/cpu_table.py            # prints Markdown
    python experiments/cpu_distillation/cpu_table.py --curves experiments/results/cpu_curves.png   # + accuracy curves
    python experiments/cpu_distillation/cpu_table.py --leads    # + the curves' means over epoch ranges, leads over scratch

Students are grouped by run name without the seed (`s_scratch_seed1` -> `s_scratch`): mean and sample standard
deviation over the seeds present; wall time is the mean over the runs that were not resumed from a checkpoint.
"Last epoch" comes from `experiments/results/<run>/trainer_state.json` (copied by `experiments/run_step.sh` since this
column exists; n/a for older runs). `experiments/results/<run>/speaker_adapted.json` (written by `speaker_adaptation.sh` with
`eval.py --speaker_adaptation`) adds the speaker-adapted column.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from litecnn_ser.metrics import mean_sd

RESULTS = Path(__file__).resolve().parents[1] / "results"
TEACHERS = {  # run -> (what it is, whether it uses a speaker's other clips)
    "t_egemaps_svm": ("eGeMAPS (88) + RBF SVM", False),
    "t_egemaps_svm_spk": ("eGeMAPS (88) + RBF SVM, per-speaker normalisation", True),
    "t_compare_mlp": ("ComParE 2016 (6,373) + MLP", False),
    "t_compare_mlp_spk": ("ComParE 2016 (6,373) + MLP, per-speaker normalisation", True),
    "t_compare_svm_spk": ("ComParE 2016 (6,373) + RBF SVM, per-speaker normalisation", True),
}
STUDENTS = {
    "s_scratch": "LiteCNN from scratch",
    "s_distilled_oof": "LiteCNN distilled from ComParE+MLP (per-speaker), out-of-fold logits",
    "s_distilled_insample": "LiteCNN distilled from ComParE+MLP (per-speaker), in-sample logits",
    "s_distilled_plainensemble_oof": "LiteCNN distilled from ComParE+MLP & eGeMAPS+SVM (no speaker statistics), out-of-fold",
    "s_distilled_views": "LiteCNN distilled, in-sample logits for 12 cached views (3 speeds x 4 offsets)",
    "s_long_scratch": "LiteCNN from scratch, 2 s training windows",
    "s_long_distilled_plainensemble_oof": "LiteCNN distilled from ComParE+MLP & eGeMAPS+SVM (no speaker statistics), out-of-fold, 2 s training windows",
    "s_long_distilled_plainensemble_insample": "the same, in-sample logits (fixed cache: the teacher hears the whole clip), 2 s",
    "s_long_distilled_plainensemble_views": "the same, in-sample logits for 6 cached views (3 speeds x 2 offsets; the teacher hears the student's 2 s window), 2 s",
    "s_long_distilled_a01_oof": "the same ensemble, out-of-fold, alpha 0.1 (90% of the loss on the teacher), 2 s",
    "s_long_distilled_ens4_oof": "distilled from ComParE+MLP x 3 seeds & eGeMAPS+SVM (0.605, no speaker statistics), out-of-fold, 2 s",
    "s_whole_scratch": "LiteCNN from scratch, whole clips (length-grouped batches)",
    "s_whole_distilled_plainensemble_oof": "the same ensemble, out-of-fold, whole clips (length-grouped batches)",
    "s_long_ms_scratch": "LiteCNN with mean+std pooling (not the paper's; 1.08M parameters), from scratch, 2 s",
    "s_long_ms_distilled_ens4_oof": "the same, distilled from the 0.605 ensemble, out-of-fold, 2 s",
    "s_long_ms_distilled_ens4_oof_hint": "the same, plus a feature hint (eGeMAPS functionals, weight 1), 2 s",
    "s_long_ms_scratch_hint": "mean+std pooling, no teacher, the feature hint alone (cross-entropy + hint), 2 s",
    "s_long_ms_distilled_ens4_oof_hint3": "the 0.605 ensemble plus the eGeMAPS hint at weight 3 instead of 1, 2 s",
    "s_long_ms_distilled_ens4_oof_hintcompare": "the 0.605 ensemble plus a ComParE hint (6,373 functionals, weight 1), 2 s",
    "s_long_ms_distilled_ens4_oof_hint3_t4": "the 0.605 ensemble plus the eGeMAPS hint at weight 3, temperature 4 instead of 2, 2 s",
    "s_long_ms_scratch_e40": "LiteCNN with mean+std pooling, from scratch, 2 s, 40 epochs instead of 20",
    "s_long_ms_distilled_ens4_oof_e40": "the same, distilled from the 0.605 ensemble, out-of-fold, 2 s, 40 epochs",
    "s_long_deep_scratch": "LiteCNN with 7 blocks (frames hear 259 ms, not 19 ms; not the paper's; 1.08M parameters), mean+std pooling, from scratch, 2 s",
    "s_long_deep_distilled_ens4_oof": "the same 7-block LiteCNN, distilled from the 0.605 ensemble, out-of-fold, 2 s",
    "s_long_deep_distilled_spk_oof": "the same 7-block LiteCNN, distilled from ComParE+MLP (per-speaker, 0.671), out-of-fold, 2 s",
    "s_long_deep_distilled_ens4_oof_hint3": "the same 7-block LiteCNN, the 0.605 ensemble plus the eGeMAPS hint at weight 3, 2 s",
    "s_long_deep_scratch_hint3": "the same 7-block LiteCNN, no teacher, the eGeMAPS hint alone at weight 3 (cross-entropy + hint), 2 s",
    "s_long_deep_distilled_votes_hint3": "the same 7-block LiteCNN, CREMA-D's crowd votes as the only teacher plus the eGeMAPS hint at weight 3, 2 s",
    "s_long_deep_distilled_ens4votes_oof_hint3": "the same 7-block LiteCNN, the 0.605 ensemble and the crowd votes (5 members) plus the eGeMAPS hint at weight 3, 2 s",
}


def _load(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def teacher_table() -> list[str]:
    """One row per teacher: `experiments/results/NAME` (seed 42) and `.../NAME_seedN` (other fitting seeds, same split)."""
    lines = [
        "| teacher | uses a speaker's other clips | seeds | accuracy | UAR | macro-F1 | wall time (seed 42) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, (what, speaker) in TEACHERS.items():
        folders = [RESULTS / name, *sorted(RESULTS.glob(f"{name}_seed*"))]
        runs = [metrics for metrics in (_load(f / "eval_results.json") for f in folders) if metrics]
        if runs:
            cells = [mean_sd([m[f"eval_{key}"] for m in runs]) for key in ("accuracy", "uar", "macro_f1")]
            wall = _load(RESULTS / name / "run.json").get("wall_time_s", 0)
            lines.append(
                f"| {what} | {'yes' if speaker else 'no'} | {len(runs)} | {' | '.join(cells)} | {wall:.0f} s |"
            )
    return lines


def student_table() -> list[str]:
    groups = defaultdict(list)
    for folder in sorted(RESULTS.glob("s_*_seed*")):
        metrics = _load(folder / "all_results.json")
        if metrics:
            groups[re.sub(r"_seed\d+$", "", folder.name)].append((folder, metrics))
    lines = [
        "| student (same recipe) | seeds | accuracy | UAR | macro-F1 | accuracy, speaker-adapted "
        "| accuracy, last epoch | wall time per run |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for group, what in STUDENTS.items():
        runs = groups.get(group, [])
        if not runs:
            continue
        column = {key: [m[f"eval_{key}"] for _, m in runs] for key in ("accuracy", "uar", "macro_f1")}
        adapted = [_load(f / "speaker_adapted.json").get("speaker_adapted", {}).get("accuracy") for f, _ in runs]
        adapted = [a for a in adapted if a is not None]
        last = [_last_epoch_accuracy(f) for f, _ in runs]
        last = [a for a in last if a is not None]
        # A run resumed from a checkpoint (its run.json says `resumed_from`) timed only its second part.
        records = [_load(f / "run.json") for f, _ in runs]
        walls = [r["wall_time_s"] for r in records if "wall_time_s" in r and "resumed_from" not in r]
        lines.append(
            f"| {what} | {len(runs)} | {mean_sd(column['accuracy'])} | {mean_sd(column['uar'])} | "
            f"{mean_sd(column['macro_f1'])} | {_partial(adapted, len(runs))} | "
            f"{mean_sd(last) if len(last) == len(runs) else 'n/a'} | "
            f"{f'{statistics.mean(walls) / 60:.0f} min' if walls else 'n/a'} |"
        )
    return lines


def _partial(values: list[float], seeds: int) -> str:
    """A column some seeds lack (a model that did not survive to be scored again) says over how many it is."""
    if not values:
        return "n/a"
    return mean_sd(values, of=seeds)


def _last_epoch_accuracy(folder: Path) -> float | None:
    """The last epoch's validation accuracy (`trainer_state.json`): the model without choosing a checkpoint on the
    validation actors, where the reported one is the checkpoint of lowest validation loss (the paper's protocol)."""
    curve = validation_curve(folder)
    return curve[-1] if curve else None


CURVES = {  # panel title -> {student group: its label}; each curve is a mean over the group's seeds
    "3 blocks (19 ms frames), 20 epochs": {
        "s_long_ms_scratch": "from scratch",
        "s_long_ms_scratch_hint": "no teacher, eGeMAPS hint",
        "s_long_ms_distilled_ens4_oof": "distilled (0.605 ensemble)",
        "s_long_ms_distilled_ens4_oof_hint": "distilled + eGeMAPS hint, weight 1",
        "s_long_ms_distilled_ens4_oof_hint3": "distilled + eGeMAPS hint, weight 3",
        "s_long_ms_distilled_ens4_oof_hint3_t4": "distilled + eGeMAPS hint, weight 3, T 4",
    },
    "3 blocks, 40 epochs": {"s_long_ms_scratch_e40": "from scratch", "s_long_ms_distilled_ens4_oof_e40": "distilled"},
    "7 blocks (259 ms frames), 20 epochs": {
        "s_long_deep_scratch": "from scratch",
        "s_long_deep_scratch_hint3": "no teacher, eGeMAPS hint, weight 3",
        "s_long_deep_distilled_ens4_oof": "distilled (0.605 ensemble)",
        "s_long_deep_distilled_spk_oof": "distilled (per-speaker ComParE+MLP)",
        "s_long_deep_distilled_ens4_oof_hint3": "distilled + eGeMAPS hint, weight 3",
        "s_long_deep_distilled_votes_hint3": "crowd votes + eGeMAPS hint, weight 3",
        "s_long_deep_distilled_ens4votes_oof_hint3": "0.605 ensemble + votes + eGeMAPS hint, weight 3",
    },
}
# The epoch ranges (first and last epoch, 1-based, inclusive) over which `--leads` averages each curve: early
# learning, the rest, and the end, by schedule length.
EPOCH_RANGES = {20: [(3, 10), (11, 20), (16, 20)], 40: [(3, 20), (21, 30), (31, 40)]}


def validation_curve(folder: Path) -> list[float]:
    """Validation accuracy after each epoch, from the run's `trainer_state.json` (empty for older runs)."""
    history = _load(folder / "trainer_state.json").get("log_history", [])
    return [entry["eval_accuracy"] for entry in history if "eval_accuracy" in entry]


def mean_curves(groups: dict[str, str]) -> dict[str, tuple[int, list[float]]]:
    """Each group's validation accuracy per epoch, averaged over its seeds (cut to the shortest run), with the
    number of seeds; groups without any recorded curve are left out."""
    means = {}
    for group in groups:
        curves = [validation_curve(f) for f in sorted(RESULTS.glob(f"{group}_seed*"))]
        curves = [c for c in curves if c]
        if curves:
            epochs = min(len(c) for c in curves)
            means[group] = (len(curves), [statistics.mean(c[e] for c in curves) for e in range(epochs)])
    return means


def leads_table() -> list[str]:
    """Per CURVES panel, each curve's mean over EPOCH_RANGES and its lead over the panel's first curve (from
    scratch), in points: the numbers behind the README's "leads by X points over epochs A-B". The mean of a
    difference is the difference of the means, so two rows' leads subtract to their lead over each other."""
    lines = []
    for title, groups in CURVES.items():
        means = mean_curves(groups)
        first = next(iter(groups))
        if first not in means:  # no from-scratch curve: nothing to lead over
            continue
        baseline = means[first][1]
        ranges = EPOCH_RANGES.get(len(baseline), [(1, len(baseline))])
        header = " | ".join(f"epochs {a}-{b}" for a, b in ranges)
        lines += [f"{title}: mean validation accuracy (lead over {groups[first]}, points)", ""]
        lines += [f"| curve | seeds | {header} |", "|---|---:|" + "---:|" * len(ranges)]
        for group, (seeds, curve) in means.items():
            cells = []
            for first, last in ranges:
                if len(curve) < last:
                    cells.append("n/a")
                    continue
                own = statistics.mean(curve[first - 1 : last])
                lead = own - statistics.mean(baseline[first - 1 : last])
                cells.append(f"{own:.3f} ({100 * lead:+.1f})")
            lines.append(f"| {groups[group]} | {seeds} | {' | '.join(cells)} |")
        lines.append("")
    return lines


def plot_curves(path: Path) -> None:
    """Mean validation accuracy per epoch of the CURVES groups (mean+std pooling, 2 s, the 0.605 ensemble), from
    the real `train_student.py` runs: where distillation leads from scratch, and by how much at the end."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, panels = plt.subplots(1, len(CURVES), figsize=(5.5 * len(CURVES), 4.8), sharey=True)
    for axes, (title, groups) in zip(panels, CURVES.items()):
        for group, (seeds, mean) in mean_curves(groups).items():
            axes.plot(
                range(1, len(mean) + 1),
                mean,
                label=f"{groups[group]} ({seeds} seeds)",
                lw=2 if "scratch" in group else 1.2,
            )
        axes.set_title(f"LiteCNN, {title}\nmean+std pooling, 2 s windows; 820 clips of 10 unseen actors", fontsize=9)
        axes.set_xlabel("epoch")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8, loc="lower right")
    panels[0].set_ylabel("validation accuracy, mean over seeds")
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--curves", type=Path, help="also plot validation accuracy per epoch into this PNG")
    parser.add_argument(
        "--leads", action="store_true", help="also print each curve's mean over epoch ranges and its lead over scratch"
    )
    args = parser.parse_args()
    sys.stdout.write("\n".join([*teacher_table(), "", *student_table()]) + "\n")
    if args.leads:
        sys.stdout.write("\n" + "\n".join(leads_table()))
    if args.curves:
        plot_curves(args.curves)


if __name__ == "__main__":
    main()
