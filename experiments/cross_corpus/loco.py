"""Leave one corpus out: train a student on a mix of corpora, score it on the corpus it never heard.

    python experiments/cross_corpus/loco.py --name mix_scratch_hint3 -- configs/student_recipe_deep.json \
        --hint_features eGeMAPSv02 --hint_weight 3
    python experiments/cross_corpus/loco.py --name mix_aug --folds savee tess -- configs/student_recipe_deep.json \
        --channel_augmentation reverb eq telephone codec noise babble
    python experiments/cross_corpus/loco.py --table            # every protocol run in experiments/results/, Markdown
    python experiments/cross_corpus/loco.py --seeds            # recipes run with several seeds (NAME, NAME_seedN)
    python experiments/cross_corpus/loco.py --recalls          # one-clip recall of each emotion, per recipe and fold
    python experiments/cross_corpus/loco.py --plot loco.png    # the same runs as bars: one clip and adapted, per fold

Folds (CREMA-D, SAVEE and TESS by default; `--corpora NAME=FOLDER ...` to point elsewhere):
- `savee`: trained on CREMA-D's 40 training actors + TESS, scored on all of SAVEE;
- `tess`: trained on CREMA-D's 40 training actors + SAVEE, scored on all of TESS;
- `cremad`: trained on SAVEE + TESS, scored on all 50 actors of CREMA-D (none was heard in training);
- `none`: trained on the three (CREMA-D's 40 training actors), scored on CREMA-D's 10 validation actors: the
  in-corpus number of the speaker split, for the same recipe.
Whenever CREMA-D is in the mix, its speaker split is today's (`--validation_corpus cremad --split speaker
--split_seed 42`: the same 10 validation actors, which select the checkpoint); without it, one speaker of the first
training corpus is held out for that (`--validation_corpus savee`). The left-out corpus never selects anything.

Each fold is scored from one clip, speaker-adapted (each speaker's mean log-probability removed, from that
speaker's other clips: not a one-clip number), centred over the whole left-out corpus (`--adapt_recording`: the
corpus as one recording setup, speakers unknown, what the ONNX runtime can do; not a one-clip number) and after AdaBN (`--adapt_batch_norm`: batch-norm statistics
re-estimated on the scored corpus's unlabelled clips: not a one-clip number either), accuracy and UAR, by `eval.py`.
Each row also keeps the one-clip recall of each emotion (which emotions the model never says on a corpus it never
heard: `--recalls`) and the score of the validation clips that selected the checkpoint (CREMA-D's 10 actors when CREMA-D
is in the mix). `--rescore` adds the recording-centred, AdaBN, validation and per-emotion scores to folds scored before they existed (when their run
folder is still there). A run goes to runs/loco/NAME/FOLD; its scores, commands and wall time to
experiments/results/loco_NAME/FOLD.json. Folds already scored are skipped, and an interrupted training goes on from
its newest checkpoint (the row then says so: its wall time is the resumed part's). `{fold}` in the recipe's
arguments is replaced by the fold's name: a teacher trained on each fold's mix, for example
`--teacher runs/loco_teachers/egemaps_svm_mix_{fold}_corpus --teacher_logits out_of_fold`
(experiments/cross_corpus/loco_teachers.sh fits them); a teacher whose recorded training data holds the left-out
corpus is refused before training.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

from litecnn_ser.metrics import mean_sd
from litecnn_ser.release import RARELY_SAID, SEED_SUFFIX, training_seed

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "experiments" / "results"
SHARED = ROOT.parent / "shared" / "datasets"
DEFAULT_CORPORA = {
    "cremad": SHARED / "crema-d" / "AudioFLAC",
    "savee": SHARED / "savee",
    "tess": SHARED / "tess",
}
FOLDS = ("savee", "tess", "cremad", "none")
SPLIT = ["--split", "speaker", "--split_seed", "42"]
"""CREMA-D's speaker split of every CREMA-D run in this project: the same 10 validation actors."""
RECALL = "recall_"
"""eval.py's metrics prefix of one emotion's recall."""
FOLD_FIELD = "{fold}"
"""Replaced by the fold's name in the recipe's arguments (a teacher per fold)."""


def parse_corpora(items: list[str] | None) -> dict[str, Path]:
    if not items:
        return dict(DEFAULT_CORPORA)
    corpora = {}
    for item in items:
        name, _, folder = item.partition("=")
        if name not in DEFAULT_CORPORA or not folder:
            raise SystemExit(
                f"error: --corpora {item!r}: expected NAME=FOLDER, NAME one of {', '.join(DEFAULT_CORPORA)}"
            )
        corpora[name] = Path(folder)
    return corpora


def fold_plan(fold: str, corpora: dict[str, Path]) -> tuple[list[str], list[str], list[str]]:
    """(training sources as KIND=FOLDER, the split flags, eval.py's arguments for the scored corpus) of one fold."""
    if fold not in FOLDS:
        raise SystemExit(f"error: --folds {fold!r}: one of {', '.join(FOLDS)}")
    training = [name for name in corpora if name != fold]
    if len(training) < 1:
        raise SystemExit(f"error: fold {fold}: nothing left to train on")
    sources = [f"{name}={corpora[name]}" for name in training]
    validation = "cremad" if "cremad" in training else training[0]
    split = ["--validation_corpus", validation, *SPLIT]
    if fold == "none":
        scored = [str(corpora["cremad"]), "--corpus", "cremad", "--subset", "validation"]
    else:
        scored = [str(corpora[fold]), "--corpus", fold]
    return sources, split, scored


def training_command(fold: str, sources: list[str], split: list[str], recipe: list[str], output: Path, python: str):
    """train_student.py's command line for one fold. `{fold}` in the recipe's arguments becomes the fold's name:
    what differs per fold but the data, such as a teacher trained on that fold's mix
    (`--teacher runs/loco_teachers/svm_{fold}`), which must never have heard the left-out corpus."""
    recipe = [argument.replace(FOLD_FIELD, fold) for argument in recipe]
    train = [python, "train_student.py", *recipe, "--data_dir", *sources, *split, "--output_dir", str(output)]
    return train + ["--disable_tqdm", "true"]


def teacher_arguments(command: list[str]) -> list[str]:
    """The values of every `--teacher` in a command line."""
    teachers, inside = [], False
    for argument in command:
        if argument.startswith("--"):
            inside = argument in ("--teacher", "--teachers")
        elif inside:
            teachers.append(argument)
    return teachers


def check_teachers_never_heard(fold: str, command: list[str], corpora: dict[str, Path]) -> None:
    """Refuses a teacher folder whose recorded training data holds the corpus the fold leaves out: its logits would
    carry that corpus's labels into the student. A votes table is fitted to nothing and passes."""
    if fold not in corpora:
        return
    left_out = str(corpora[fold].resolve())
    for teacher in teacher_arguments(command):
        folder = (ROOT / teacher) if not Path(teacher).is_absolute() else Path(teacher)
        for config in (folder / "teacher_config.json", folder / "config.json"):
            if config.is_file():
                heard = (json.loads(config.read_text()).get("training_data") or {}).get("data_dir") or []
                heard = [heard] if isinstance(heard, str) else heard
                if left_out in heard:  # both resolved: training_data_record writes resolved folders
                    raise SystemExit(
                        f"error: fold {fold}: --teacher {teacher} was trained on {left_out}, the corpus this fold "
                        f"leaves out: use a teacher trained on the fold's mix (`{FOLD_FIELD}` in its path)"
                    )
                break


def run_fold(name: str, fold: str, corpora: dict[str, Path], recipe: list[str], python: str) -> dict:
    output = ROOT / "runs" / "loco" / name / fold
    sources, split, scored = fold_plan(fold, corpora)
    train = training_command(fold, sources, split, recipe, output, python)
    check_teachers_never_heard(fold, train, corpora)
    checkpoints = sorted(output.glob("checkpoint-*"), key=lambda path: int(path.name.split("-")[1]))
    if checkpoints and not (output / "all_results.json").is_file():
        train += ["--resume_from_checkpoint", str(checkpoints[-1])]
    start = time.time()
    if not (output / "all_results.json").is_file():
        print(f"== {name}/{fold}: {shlex.join(train)}", flush=True)
        subprocess.run(train, cwd=ROOT, check=True)
    trained = time.time() - start
    evaluate, scores = scored_as_is(output, scored, python)
    adabn, adabn_command = adabn_scores(output, scored, python)
    return {
        "fold": fold,
        "trained_on": [source.partition("=")[0] for source in sources],
        "scored_on": scores["corpus"],
        "one_clip": one_clip_scores(scores["metrics"]),
        "speaker_adapted": {key: scores["speaker_adapted"][key] for key in ("accuracy", "uar")},
        "recording_adapted": {key: scores["recording_adapted"][key] for key in ("accuracy", "uar")},
        "adabn": adabn,
        "validation": validation_scores(output, split[1]),
        "train_command": shlex.join(train),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "cpu_capability": _trained(output).get("cpu_capability"),  # the kernels the training ran (AVX2, AVX512)
        "eval_command": shlex.join(evaluate),
        "adabn_command": adabn_command,
        "wall_time_s": round(time.time() - start),
        "training_wall_time_s": round(trained),
    }


def one_clip_scores(metrics: dict) -> dict:
    """A row's one-clip scores from eval.py's metrics: accuracy, UAR, macro-F1, clips, and each emotion's recall."""
    scores = {key: metrics[key] for key in ("accuracy", "uar", "macro_f1", "num_clips")}
    scores["recall"] = {key.removeprefix(RECALL): value for key, value in metrics.items() if key.startswith(RECALL)}
    return scores


def _trained(output: Path) -> dict:
    """The run's train_results.json (empty when it has none)."""
    path = output / "train_results.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def validation_scores(output: Path, corpus: str) -> dict | None:
    """The run's final validation scores (the checkpoint it kept), from its all_results.json."""
    path = output / "all_results.json"
    if not path.is_file():
        return None
    results = json.loads(path.read_text())
    return {"corpus": corpus, "accuracy": results["eval_accuracy"], "uar": results.get("eval_uar")}


def scored_as_is(output: Path, scored: list[str], python: str) -> tuple[list[str], dict]:
    """eval.py's command and scores of the run on the scored corpus: one clip, speaker-adapted, recording-centred."""
    command = [python, "eval.py", str(output), *scored, "--speaker_adaptation", "--adapt_recording", "--json"]
    print(f"== {shlex.join(command)}", flush=True)
    return command, json.loads(subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout)


def adabn_scores(output: Path, scored: list[str], python: str) -> tuple[dict, str]:
    """One-clip accuracy and UAR after AdaBN on the scored corpus, and the command that measured them."""
    command = [python, "eval.py", str(output), *scored, "--adapt_batch_norm", "--json"]
    print(f"== {shlex.join(command)}", flush=True)
    scores = json.loads(subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout)
    return {key: scores["metrics"][key] for key in ("accuracy", "uar")}, shlex.join(command)


def rescore(name: str, fold: str, corpora: dict[str, Path], python: str) -> None:
    """Adds the recording-centred, AdaBN, validation and per-emotion scores to a fold scored without them, from its
    run folder (the one-clip and speaker-adapted scores of the row are kept as they were). Per-emotion recalls are
    added only when the model scores today the row's one-clip accuracy: otherwise they would describe another run."""
    path = RESULTS / f"loco_{name}" / f"{fold}.json"
    row = json.loads(path.read_text())
    output = ROOT / "runs" / "loco" / name / fold
    if not (output / "model.safetensors").is_file():
        print(f"== {name}/{fold}: no model in {output}: nothing to rescore")
        return
    _, split, scored = fold_plan(fold, corpora)
    if "recording_adapted" not in row or "recall" not in row["one_clip"]:
        command, scores = scored_as_is(output, scored, python)
        if "recording_adapted" not in row:
            row["recording_adapted"] = {key: scores["recording_adapted"][key] for key in ("accuracy", "uar")}
            row["recording_command"] = shlex.join(command)
        if "recall" not in row["one_clip"]:
            if math.isclose(scores["metrics"]["accuracy"], row["one_clip"]["accuracy"], abs_tol=1e-9):
                row["one_clip"]["recall"] = one_clip_scores(scores["metrics"])["recall"]
                row["recall_command"] = shlex.join(command)
            else:
                print(
                    f"== {name}/{fold}: {output} scores {scores['metrics']['accuracy']:.4f} one clip today, the row "
                    f"{row['one_clip']['accuracy']:.4f}: its per-emotion recalls are not added"
                )
    if "adabn" not in row:
        row["adabn"], row["adabn_command"] = adabn_scores(output, scored, python)
    if row.get("validation") is None:
        row["validation"] = validation_scores(output, split[1])
    path.write_text(json.dumps(row, indent=1) + "\n")


def _left_out(fold: str) -> str:
    """A fold's "left out (scored on)" cell: the corpus, or for `none` the validation actors it scores."""
    return "none (CREMA-D validation actors)" if fold == "none" else fold


def _pair(scores: dict | None) -> str:
    return f"{scores['accuracy']:.3f} / {scores['uar']:.3f}" if scores else ""


def _rows(results: Path):
    """(recipe, fold, row) of every protocol run under `results` (loco_NAME/FOLD.json), recipes sorted, folds in
    FOLDS order."""
    for folder in sorted(results.glob("loco_*")):
        for fold in FOLDS:
            path = folder / f"{fold}.json"
            if path.is_file():
                yield folder.name.removeprefix("loco_"), fold, json.loads(path.read_text())


def table(results: Path = RESULTS) -> str:
    """Every protocol run under `results` (loco_NAME/FOLD.json) as one Markdown table, a row per run and fold."""
    lines = [
        "| recipe | left out (scored on) | clips | one clip: accuracy / UAR | speaker-adapted: accuracy / UAR "
        "| centred over the left-out corpus: accuracy / UAR | AdaBN on the left-out corpus: accuracy / UAR "
        "| validation that kept the checkpoint: accuracy / UAR | training wall time |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for recipe, fold, row in _rows(results):
        left_out = _left_out(fold)
        minutes = row.get("training_wall_time_s")
        wall = f"{minutes / 60:.0f} min" if minutes else ""
        resumed = shlex.split(row.get("train_command", ""))
        if wall and "--resume_from_checkpoint" in resumed:  # the wall time is the resumed part's
            wall += f" (resumed from {Path(resumed[resumed.index('--resume_from_checkpoint') + 1]).name})"
        validation = row.get("validation")
        held_out = f"{validation['corpus']} {validation['accuracy']:.3f}" if validation else ""
        if validation and validation.get("uar") is not None:
            held_out += f" / {validation['uar']:.3f}"
        lines.append(
            f"| {recipe} | {left_out} | {row['one_clip']['num_clips']} | "
            f"{_pair(row['one_clip'])} | {_pair(row['speaker_adapted'])} | {_pair(row.get('recording_adapted'))} | "
            f"{_pair(row.get('adabn'))} | "
            f"{held_out} | {wall} |"
        )
    return "\n".join(lines)


def _seed_groups(results: Path) -> dict[tuple[str, str], list[dict]]:
    """(recipe, fold) -> its rows, where `NAME_seedN` counts as NAME: the same command with another `--seed`."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for recipe, fold, row in _rows(results):
        groups.setdefault((SEED_SUFFIX.sub("", recipe), fold), []).append(row)
    return groups


def _over_seeds(rows: list[dict], get) -> str:
    """mean ± sd of `get(row)` over the rows that have it, saying how many when some do not."""
    values = [value for value in map(get, rows) if value is not None]
    if not values:
        return ""
    return mean_sd(values, of=len(rows))


def seed_table(results: Path = RESULTS) -> str:
    """The recipes run with several seeds (`loco_NAME` and `loco_NAME_seedN`, the same command but `--seed`), per
    fold: mean ± sample sd over the seeds, and each seed's one-clip accuracy. A fold with one seed is left out."""
    groups = _seed_groups(results)

    def score(key: str, metric: str = "accuracy"):
        return lambda row: (row.get(key) or {}).get(metric)

    lines = [
        "| recipe | left out (scored on) | seeds | one clip: accuracy | one clip: UAR | one clip, per seed "
        "| speaker-adapted accuracy | centred accuracy | AdaBN accuracy | validation accuracy | training wall time |",
        "|---|---|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for (recipe, fold), rows in groups.items():
        if len(rows) < 2:
            continue
        rows.sort(key=lambda row: (training_seed(row) != 42, training_seed(row) or 0))
        seeds = [training_seed(row) for row in rows]
        per_seed = " / ".join(f"{row['one_clip']['accuracy']:.3f}" for row in rows)
        walls = sorted(
            {f"{row['training_wall_time_s'] / 60:.0f}" for row in rows if row.get("training_wall_time_s")}, key=int
        )
        lines.append(
            f"| {recipe} | {_left_out(fold)} | "
            f"{', '.join('?' if seed is None else str(seed) for seed in seeds)} | "
            f"{_over_seeds(rows, score('one_clip'))} | {_over_seeds(rows, score('one_clip', 'uar'))} | {per_seed} | "
            f"{_over_seeds(rows, score('speaker_adapted'))} | {_over_seeds(rows, score('recording_adapted'))} | "
            f"{_over_seeds(rows, score('adabn'))} | {_over_seeds(rows, score('validation'))} | "
            f"{'-'.join(dict.fromkeys((walls[0], walls[-1]))) + ' min' if walls else ''} |"
        )
    return "\n".join(lines)


def recall_table(results: Path = RESULTS) -> str:
    """Per recipe and fold, each emotion's one-clip recall (mean over the seeds whose row has it) and the emotions
    recalled below RARELY_SAID on every one of those seeds: what a model says on a corpus it never heard, by class."""
    groups = {key: [row for row in rows if "recall" in row["one_clip"]] for key, rows in _seed_groups(results).items()}
    emotions = next((list(rows[0]["one_clip"]["recall"]) for rows in groups.values() if rows), [])
    lines = [
        f"| recipe | left out (scored on) | seeds | {' | '.join(emotions)} | recalled below {RARELY_SAID:.2f} on every seed |",
        f"|---|---|---:|{'---:|' * len(emotions)}---|",
    ]
    for (recipe, fold), rows in groups.items():
        if not rows:
            continue
        recalls = {emotion: [row["one_clip"]["recall"][emotion] for row in rows] for emotion in emotions}
        never = [emotion for emotion, values in recalls.items() if max(values) < RARELY_SAID]
        lines.append(
            f"| {recipe} | {_left_out(fold)} | {len(rows)} | "
            + " | ".join(f"{statistics.mean(values):.2f}" for values in recalls.values())
            + f" | {', '.join(never) or '-'} |"
        )
    return "\n".join(lines)


def seed_label(recipe: str, seeds: dict[str, int]) -> str:
    """A recipe's tick label saying which folds its error bars cover: `votes (3 seeds: savee, tess)`, or with
    uneven counts `votes (seeds: savee 3, tess 2)`; a recipe run once per fold is its bare name."""
    several = {fold: count for fold, count in seeds.items() if count > 1}
    if not several:
        return recipe
    if len(set(several.values())) == 1:
        return f"{recipe} ({next(iter(several.values()))} seeds: {', '.join(several)})"
    return f"{recipe} (seeds: {', '.join(f'{fold} {count}' for fold, count in several.items())})"


# issue 28's targets, per left-out corpus: (one clip, speaker-adapted); the none fold scores CREMA-D's speaker split
TARGETS = {"savee": (0.45, 0.55), "tess": (0.45, 0.55), "none": (0.60, None)}


def plot(path: Path, results: Path = RESULTS) -> dict[str, dict[str, tuple[float, float]]]:
    """Every protocol run as horizontal bars, one panel per left-out corpus: per recipe its one-clip accuracy and,
    hatched, its speaker-adapted accuracy, with the chance line and the issue's targets. A recipe run with several
    seeds (`NAME_seedN`) is one row, its bars the means and its error bars one standard deviation. Recipes are
    ordered by their mean one-clip accuracy over the savee and tess folds, best on top. Returns what it drew, in
    that order: recipe -> fold -> (one clip, adapted)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drawn: dict[str, dict[str, tuple[float, float]]] = {}
    spread: dict[str, dict[str, tuple[float, float]]] = {}
    seeds: dict[str, dict[str, int]] = {}
    for (recipe, fold), rows in _seed_groups(results).items():
        seeds.setdefault(recipe, {})[fold] = len(rows)
        kinds = [[row[kind]["accuracy"] for row in rows] for kind in ("one_clip", "speaker_adapted")]
        drawn.setdefault(recipe, {})[fold] = tuple(statistics.mean(values) for values in kinds)
        if len(rows) > 1:
            spread.setdefault(recipe, {})[fold] = tuple(statistics.stdev(values) for values in kinds)
    if not drawn:
        raise SystemExit(f"error: --plot: no protocol run in {results} (loco_NAME/FOLD.json)")
    folds = [fold for fold in FOLDS if any(fold in runs for runs in drawn.values())]

    def rank(recipe: str) -> float:
        scores = [drawn[recipe][fold][0] for fold in ("savee", "tess") if fold in drawn[recipe]]
        return -statistics.mean(scores) if scores else math.inf

    order = sorted(drawn, key=rank)
    height = 0.4
    kinds = (("one clip", None, "C0"), ("speaker-adapted", "//", "C1"))  # (label, hatch, colour): bars and targets
    right = max(0.7, max(score + 0.05 for runs in drawn.values() for scores in runs.values() for score in scores))
    figure, panels = plt.subplots(
        1, len(folds), sharey=True, squeeze=False, figsize=(3.2 * len(folds) + 5.5, 1.2 + 0.32 * len(order))
    )
    for fold, axes in zip(folds, panels[0]):
        for offset, (kind, hatch, colour) in enumerate(kinds):
            rows = [(number, recipe) for number, recipe in enumerate(order) if fold in drawn[recipe]]
            # NaN, not 0, where a fold has one seed: no zero-width cap pretending to be a spread
            errors = [spread.get(recipe, {}).get(fold, (math.nan, math.nan))[offset] for _, recipe in rows]
            axes.barh(
                [number + (offset - 0.5) * height for number, _ in rows],
                [drawn[recipe][fold][offset] for _, recipe in rows],
                height,
                xerr=errors if not all(map(math.isnan, errors)) else None,
                capsize=2,
                color=colour,
                hatch=hatch,
                alpha=0.6 if hatch else 1.0,
                label=kind,
            )
        axes.axvline(1 / 6, color="grey", linestyle=":", label="chance (6 classes)")
        for (_, _, colour), target in zip(kinds, TARGETS.get(fold, ())):
            if target is not None:
                axes.axvline(target, color=colour, linestyle="--", linewidth=1)
        axes.set_xlim(0, right)
        axes.set_title(f"left out: {fold}" if fold != "none" else "none (CREMA-D's validation actors)", fontsize=9)
        axes.grid(axis="x", alpha=0.3)
        axes.tick_params(axis="x", labelsize=8)
    panels[0][0].set_yticks(range(len(order)), [seed_label(recipe, seeds[recipe]) for recipe in order], fontsize=7)
    panels[0][0].invert_yaxis()
    panels[0][0].legend(fontsize=7, loc="lower right")
    figure.suptitle(
        "Leave one corpus out: accuracy on the corpus never heard (dashed: the issue's targets)", fontsize=10
    )
    figure.supxlabel("accuracy", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return {recipe: drawn[recipe] for recipe in order}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    recipe = argv[argv.index("--") + 1 :] if "--" in argv else []
    own = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", help="the recipe's name: runs/loco/NAME, experiments/results/loco_NAME")
    parser.add_argument("--folds", nargs="+", default=list(FOLDS), help=f"folds to run (default: {' '.join(FOLDS)})")
    parser.add_argument("--corpora", nargs="+", help="NAME=FOLDER for cremad, savee, tess (default: ../shared)")
    parser.add_argument("--python", default=sys.executable, help="the interpreter that runs the scripts")
    parser.add_argument("--table", action="store_true", help="print the table of every protocol run and exit")
    parser.add_argument(
        "--seeds", action="store_true", help="print mean ± sd over the seeds of recipes run with several, and exit"
    )
    parser.add_argument(
        "--recalls", action="store_true", help="print each emotion's one-clip recall per recipe and fold, and exit"
    )
    parser.add_argument("--plot", type=Path, metavar="PNG", help="draw every protocol run's accuracies there and exit")
    parser.add_argument(
        "--rescore",
        action="store_true",
        help="add the recording-centred, AdaBN, validation and per-emotion scores to --name's scored --folds, then exit",
    )
    args = parser.parse_args(own)
    if args.table:
        print(table())
        return 0
    if args.seeds:
        print(seed_table())
        return 0
    if args.recalls:
        print(recall_table())
        return 0
    if args.plot:
        plot(args.plot)
        print(f"== {args.plot}")
        return 0
    if not args.name:
        parser.error("--name is required (or --table)")
    corpora = parse_corpora(args.corpora)
    for name, folder in corpora.items():
        if not folder.is_dir():
            raise SystemExit(f"error: corpus {name}: no such folder {folder}")
    if args.rescore:
        for fold in args.folds:
            if (RESULTS / f"loco_{args.name}" / f"{fold}.json").is_file():
                rescore(args.name, fold, corpora, args.python)
        print(table())
        return 0
    for fold in args.folds:
        path = RESULTS / f"loco_{args.name}" / f"{fold}.json"
        if path.is_file():
            print(f"== {args.name}/{fold}: scored already ({path})")
            continue
        row = run_fold(args.name, fold, corpora, recipe, args.python)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(row, indent=1) + "\n")
        print(table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
