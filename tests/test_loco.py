"""experiments/cross_corpus/loco.py: each fold trains on every corpus but the one it scores, keeps CREMA-D's speaker
split, and its table reports every corpus's numbers (one clip, speaker-adapted, recording-centred, AdaBN) without inventing any."""

from __future__ import annotations

import json
from pathlib import Path

import loco
import pytest

CORPORA = {"cremad": Path("/c/AudioFLAC"), "savee": Path("/s"), "tess": Path("/t")}


@pytest.mark.parametrize("fold", ["savee", "tess", "cremad"])
def test_a_fold_never_trains_on_the_corpus_it_scores(fold):
    sources, split, scored = loco.fold_plan(fold, CORPORA)
    trained = [source.partition("=")[0] for source in sources]
    assert fold not in trained and sorted(trained + [fold]) == sorted(CORPORA)
    assert scored[:3] == [str(CORPORA[fold]), "--corpus", fold] and "--subset" not in scored
    # CREMA-D's 10 validation actors select the checkpoint whenever CREMA-D is in the mix; otherwise another corpus
    assert split[:2] == ["--validation_corpus", "cremad" if fold != "cremad" else "savee"]
    assert split[2:] == ["--split", "speaker", "--split_seed", "42"]


def test_fold_in_the_recipe_names_each_folds_own_teacher(tmp_path):
    recipe = ["configs/x.json", "--teacher", "votes.csv", "runs/t/svm_{fold}_oof", "--seed", "1"]
    commands = {}
    for fold in ("savee", "tess"):
        sources, split, _ = loco.fold_plan(fold, CORPORA)
        commands[fold] = loco.training_command(fold, sources, split, recipe, tmp_path / fold, "python")
    for fold, command in commands.items():
        teachers = command[command.index("--teacher") + 1 : command.index("--seed")]
        assert teachers == ["votes.csv", f"runs/t/svm_{fold}_oof"]  # each fold its own, the rest as given
        assert not any("{fold}" in argument for argument in command)
        assert command[command.index("--output_dir") + 1] == str(tmp_path / fold)
    assert recipe[3] == "runs/t/svm_{fold}_oof"  # the caller's list is left as it was, for the next fold


def test_a_teacher_that_heard_the_left_out_corpus_is_refused(tmp_path):
    corpora = {name: tmp_path / "data" / name for name in CORPORA}
    for fold in ("savee", "tess"):  # a classical teacher per fold, trained on the fold's mix (data_dir resolved)
        sources, _, _ = loco.fold_plan(fold, corpora)
        heard = [str(Path(source.partition("=")[2]).resolve()) for source in sources]
        (tmp_path / f"t_{fold}").mkdir()
        (tmp_path / f"t_{fold}" / "teacher_config.json").write_text(json.dumps({"training_data": {"data_dir": heard}}))
    recipe = ["--teacher", "votes.csv", str(tmp_path / "t_{fold}"), "--seed", "1"]
    for fold in ("savee", "tess"):
        command = loco.training_command(fold, *loco.fold_plan(fold, corpora)[:2], recipe, tmp_path / "run", "python")
        loco.check_teachers_never_heard(fold, command, corpora)  # each fold's own teacher: fine
    wrong = ["--teacher", str(tmp_path / "t_tess")]  # trained on CREMA-D + SAVEE, given to the savee fold
    command = loco.training_command("savee", *loco.fold_plan("savee", corpora)[:2], wrong, tmp_path / "run", "python")
    with pytest.raises(SystemExit, match=r"fold savee: --teacher .*t_tess was trained on .*savee"):
        loco.check_teachers_never_heard("savee", command, corpora)
    loco.check_teachers_never_heard("none", command, corpora)  # the none fold scores CREMA-D's held-out actors


def test_the_none_fold_trains_on_all_three_and_scores_the_validation_actors():
    sources, split, scored = loco.fold_plan("none", CORPORA)
    assert [source.partition("=")[0] for source in sources] == list(CORPORA)
    assert scored == [str(CORPORA["cremad"]), "--corpus", "cremad", "--subset", "validation"]
    with pytest.raises(SystemExit, match="--folds 'ravdess'"):
        loco.fold_plan("ravdess", CORPORA)


def test_the_table_has_a_row_per_recipe_and_fold_with_every_number(tmp_path):
    def write(recipe: str, fold: str, accuracy: float, adabn: dict | None, **more) -> None:
        row = {
            "one_clip": {"accuracy": accuracy, "uar": accuracy + 0.01, "macro_f1": 0.2, "num_clips": 420},
            "speaker_adapted": {"accuracy": 0.388, "uar": 0.357},
            "training_wall_time_s": 2701,
            **more,
        }
        if adabn:
            row["adabn"] = adabn
        (tmp_path / f"loco_{recipe}").mkdir(exist_ok=True)
        (tmp_path / f"loco_{recipe}" / f"{fold}.json").write_text(json.dumps(row))

    write("aug", "savee", 0.271, None)
    write(
        "aug",
        "tess",
        0.5,
        {"accuracy": 0.61, "uar": 0.6},
        recording_adapted={"accuracy": 0.455, "uar": 0.45},
        validation={"corpus": "cremad", "accuracy": 0.4976, "uar": 0.5054},
        train_command="python train_student.py --seed 42 --resume_from_checkpoint runs/loco/aug/tess/checkpoint-605",
    )
    write("aug", "none", 0.49, None)
    lines = loco.table(tmp_path).splitlines()
    assert len(lines) == 2 + 3
    assert lines[2] == "| aug | savee | 420 | 0.271 / 0.281 | 0.388 / 0.357 |  |  |  | 45 min |"  # missing: blank
    assert lines[3] == (
        "| aug | tess | 420 | 0.500 / 0.510 | 0.388 / 0.357 | 0.455 / 0.450 | 0.610 / 0.600 | cremad 0.498 / 0.505 "
        "| 45 min (resumed from checkpoint-605) |"
    )
    assert lines[4].startswith("| aug | none (CREMA-D validation actors) |")


def test_validation_scores_are_the_runs_own_final_ones(tmp_path):
    assert loco.validation_scores(tmp_path, "cremad") is None  # no finished run: nothing invented
    (tmp_path / "all_results.json").write_text(json.dumps({"eval_accuracy": 0.5, "eval_uar": 0.49, "epoch": 10}))
    assert loco.validation_scores(tmp_path, "cremad") == {"corpus": "cremad", "accuracy": 0.5, "uar": 0.49}
    assert loco._trained(tmp_path) == {}  # the kernels a row's training ran come from its own record, or nowhere
    (tmp_path / "train_results.json").write_text(json.dumps({"cpu_capability": "AVX512", "torch_num_threads": 1}))
    assert loco._trained(tmp_path)["cpu_capability"] == "AVX512"


def test_the_plot_draws_each_runs_own_scores(tmp_path):
    results = tmp_path / "results"
    for recipe, fold, one, adapted in (
        ("aug", "savee", 0.271, 0.388),
        ("aug", "tess", 0.292, 0.475),
        ("b", "tess", 0.3, 0.5),
    ):
        (results / f"loco_{recipe}").mkdir(parents=True, exist_ok=True)
        row = {"one_clip": {"accuracy": one}, "speaker_adapted": {"accuracy": adapted}}
        (results / f"loco_{recipe}" / f"{fold}.json").write_text(json.dumps(row))
    drawn = loco.plot(tmp_path / "loco.png", results)
    assert drawn == {"aug": {"savee": (0.271, 0.388), "tess": (0.292, 0.475)}, "b": {"tess": (0.3, 0.5)}}
    assert list(drawn) == ["b", "aug"]  # best mean one-clip accuracy over savee and tess on top, not file order
    assert (tmp_path / "loco.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(SystemExit, match="--plot: no protocol run"):
        loco.plot(tmp_path / "empty.png", tmp_path / "nothing")


def test_rescore_adds_what_a_row_lacks_and_keeps_what_it_has(tmp_path, monkeypatch):
    """--rescore on a fold scored before the recording-centred and AdaBN columns: both added from the run folder,
    the row's own one-clip and adapted numbers untouched; a row that has them is not rescored."""
    monkeypatch.setattr(loco, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(loco, "ROOT", tmp_path)
    run = tmp_path / "runs" / "loco" / "aug" / "savee"
    run.mkdir(parents=True)
    (run / "model.safetensors").write_bytes(b"weights")
    (run / "all_results.json").write_text(json.dumps({"eval_accuracy": 0.5, "eval_uar": 0.49}))
    row = {"one_clip": {"accuracy": 0.271}, "speaker_adapted": {"accuracy": 0.388}, "validation": None}
    (tmp_path / "results" / "loco_aug").mkdir(parents=True)
    path = tmp_path / "results" / "loco_aug" / "savee.json"
    path.write_text(json.dumps(row))
    calls = []

    def scored_as_is(output, scored, python):
        calls.append(output)
        metrics = {"accuracy": 0.271, "uar": 0.9, "macro_f1": 0.2, "num_clips": 420, "recall_anger": 0.5}
        fresh = {"metrics": {**metrics, "recall_sadness": 0.02}, "speaker_adapted": {"accuracy": 0.9, "uar": 0.9}}
        return ["eval.py", str(output)], {**fresh, "recording_adapted": {"accuracy": 0.42, "uar": 0.41}}

    monkeypatch.setattr(loco, "scored_as_is", scored_as_is)
    monkeypatch.setattr(loco, "adabn_scores", lambda output, scored, python: ({"accuracy": 0.3, "uar": 0.31}, "cmd"))
    loco.rescore("aug", "savee", CORPORA, "python")
    rescored = json.loads(path.read_text())
    assert calls == [run]
    assert rescored["recording_adapted"] == {"accuracy": 0.42, "uar": 0.41}
    assert rescored["adabn"] == {"accuracy": 0.3, "uar": 0.31}
    assert rescored["one_clip"] == {**row["one_clip"], "recall": {"anger": 0.5, "sadness": 0.02}}
    assert rescored["speaker_adapted"] == row["speaker_adapted"]
    assert rescored["validation"] == {"corpus": "cremad", "accuracy": 0.5, "uar": 0.49}
    loco.rescore("aug", "savee", CORPORA, "python")
    assert calls == [run]  # nothing left to add: no second evaluation


def test_rescore_refuses_recalls_of_a_model_that_no_longer_scores_the_row(tmp_path, monkeypatch, capsys):
    """A run folder that scores another one-clip accuracy today (retrained, other code) is not the row's model:
    its per-emotion recalls are not added to the row."""
    monkeypatch.setattr(loco, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(loco, "ROOT", tmp_path)
    run = tmp_path / "runs" / "loco" / "aug" / "savee"
    run.mkdir(parents=True)
    (run / "model.safetensors").write_bytes(b"weights")
    row = {
        "one_clip": {"accuracy": 0.271},
        "speaker_adapted": {"accuracy": 0.388},
        "recording_adapted": {},
        "adabn": {},
        "validation": {"corpus": "cremad", "accuracy": 0.5},
    }
    (tmp_path / "results" / "loco_aug").mkdir(parents=True)
    path = tmp_path / "results" / "loco_aug" / "savee.json"
    path.write_text(json.dumps(row))
    monkeypatch.setattr(
        loco, "scored_as_is", lambda *_: (["eval.py"], {"metrics": {"accuracy": 0.35, "recall_anger": 0.5}})
    )
    loco.rescore("aug", "savee", CORPORA, "python")
    assert json.loads(path.read_text()) == row
    assert "scores 0.3500 one clip today, the row 0.2710" in capsys.readouterr().out


def test_the_recall_table_averages_each_emotion_over_seeds_and_names_the_ones_never_said(tmp_path):
    """Each emotion's mean one-clip recall over a recipe's seeds; an emotion is 'never said' only when it is below
    0.10 on every seed (one seed at 0.12 keeps it off the list); rows scored before recalls were kept stay out."""
    runs = [
        ("votes", "savee", {"anger": 0.30, "neutral": 0.82, "sadness": 0.02}),
        ("votes_seed1", "savee", {"anger": 0.13, "neutral": 0.92, "sadness": 0.05}),
        ("votes_seed2", "savee", {"anger": 0.08, "neutral": 0.84, "sadness": 0.02}),
        ("votes", "tess", {"anger": 0.66, "neutral": 0.0, "sadness": 0.66}),
        ("votes_seed1", "tess", {"anger": 0.76, "neutral": 0.12, "sadness": 0.96}),
        ("old", "savee", None),
    ]
    for recipe, fold, recall in runs:
        one_clip = {"accuracy": 0.3, "uar": 0.3, "num_clips": 420} | ({"recall": recall} if recall else {})
        (tmp_path / f"loco_{recipe}").mkdir(exist_ok=True)
        (tmp_path / f"loco_{recipe}" / f"{fold}.json").write_text(json.dumps({"one_clip": one_clip}))
    lines = loco.recall_table(tmp_path).splitlines()
    assert (
        lines[0]
        == "| recipe | left out (scored on) | seeds | anger | neutral | sadness | recalled below 0.10 on every seed |"
    )
    assert lines[2:] == [
        "| votes | savee | 3 | 0.17 | 0.86 | 0.03 | sadness |",
        "| votes | tess | 2 | 0.71 | 0.06 | 0.81 | - |",
    ]


def test_a_fold_keeps_each_emotions_recall():
    metrics = {"accuracy": 0.39, "uar": 0.32, "macro_f1": 0.3, "num_clips": 420, "macro_recall": 0.32}
    metrics |= {"recall_anger": 0.3, "recall_sadness": 0.0167}
    assert loco.one_clip_scores(metrics) == {
        "accuracy": 0.39,
        "uar": 0.32,
        "macro_f1": 0.3,
        "num_clips": 420,
        "recall": {"anger": 0.3, "sadness": 0.0167},
    }


def test_the_seed_table_groups_a_recipes_seeds_and_nothing_else(tmp_path):
    """NAME and NAME_seedN are one recipe: mean ± sample sd per fold, seed 42 first, each seed's one-clip number;
    another recipe, and a fold with one seed, stay out; a column only some seeds have says how many."""
    runs = [
        ("votes", "savee", 42, 0.393, {"accuracy": 0.5}),
        ("votes_seed1", "savee", 1, 0.300, None),
        ("votes_seed2", "savee", 2, 0.351, {"accuracy": 0.4}),
        ("votes", "tess", 42, 0.343, None),  # one seed: no row
        ("votes_seedless", "savee", 7, 0.9, None),  # another recipe, whatever its name ends with
    ]
    for recipe, fold, seed, accuracy, centred in runs:
        row = {
            "one_clip": {"accuracy": accuracy, "uar": accuracy - 0.05, "num_clips": 420},
            "speaker_adapted": {"accuracy": accuracy + 0.1, "uar": 0.3},
            "train_command": f"python train_student.py --seed 42 --num_train_epochs 10 --seed {seed}",
            "training_wall_time_s": 60 * (70 + seed % 5),
        }
        if centred:
            row["recording_adapted"] = centred
        (tmp_path / f"loco_{recipe}").mkdir(exist_ok=True)
        (tmp_path / f"loco_{recipe}" / f"{fold}.json").write_text(json.dumps(row))
    lines = loco.seed_table(tmp_path).splitlines()
    assert len(lines) == 2 + 1
    assert lines[2] == (
        "| votes | savee | 42, 1, 2 | 0.348 ± 0.047 | 0.298 ± 0.047 | 0.393 / 0.300 / 0.351 | 0.448 ± 0.047 "
        "| 0.450 ± 0.071 (2 of 3 seeds) |  |  | 71-72 min |"
    )


def test_the_plot_draws_a_recipes_seeds_as_one_group(tmp_path):
    for recipe, one, adapted in (("votes", 0.4, 0.5), ("votes_seed1", 0.3, 0.4), ("votes_seed2", 0.2, 0.6)):
        (tmp_path / f"loco_{recipe}").mkdir()
        row = {"one_clip": {"accuracy": one}, "speaker_adapted": {"accuracy": adapted}}
        (tmp_path / f"loco_{recipe}" / "savee.json").write_text(json.dumps(row))
    drawn = loco.plot(tmp_path / "loco.png", tmp_path)
    assert list(drawn) == ["votes"]
    assert drawn["votes"]["savee"] == pytest.approx((0.3, 0.5))


def test_a_plot_label_names_the_folds_its_error_bars_cover():
    # only the folds run with several seeds are named: a fold run once must not borrow another fold's count
    assert loco.seed_label("votes", {"savee": 3, "tess": 3, "cremad": 1}) == "votes (3 seeds: savee, tess)"
    assert loco.seed_label("votes", {"savee": 3, "tess": 2}) == "votes (seeds: savee 3, tess 2)"
    assert loco.seed_label("votes", {"savee": 1, "tess": 1}) == "votes"
