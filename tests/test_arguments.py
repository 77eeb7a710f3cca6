"""litecnn_ser.arguments: the recipe's defaults and the args file."""

from __future__ import annotations

import json

import pytest

import train_student
from litecnn_ser.arguments import DataArguments, PaperTrainingArguments, parse_args


def test_save_strategy_follows_the_evaluation_strategy(tmp_path):
    args = PaperTrainingArguments(output_dir=str(tmp_path), eval_strategy="steps", eval_steps=7, report_to="none")
    assert (str(args.save_strategy.value), args.save_steps) == ("steps", 7)
    args = PaperTrainingArguments(output_dir=str(tmp_path), eval_strategy="no", report_to="none")
    assert args.save_strategy.value == "epoch" and args.load_best_model_at_end is False


def test_args_file_then_flags_that_override_it(tmp_path):
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"split": "speaker", "speed_perturbation": [0.9, 1.1], "learning_rate": 0.01}))
    parser = train_student.HfArgumentParser((DataArguments, PaperTrainingArguments))
    data_args, training_args = parse_args(
        parser, [str(recipe), "--output_dir", str(tmp_path), "--learning_rate", "0.002", "--report_to", "none"]
    )
    assert data_args.split == "speaker" and data_args.speed_perturbation == [0.9, 1.1]
    assert training_args.learning_rate == 0.002
    with pytest.raises(SystemExit, match="missing.json: no such file"):
        parse_args(parser, [str(tmp_path / "missing.json")])
    # a flag the script does not take, or a refused value: one line naming it, not a traceback
    with pytest.raises(SystemExit, match=r"error: .*not used by the HfArgumentParser: \['--colour', 'red'\]"):
        parse_args(parser, ["--output_dir", str(tmp_path), "--colour", "red"])
    with pytest.raises(SystemExit, match="error: bogus is not a valid SchedulerType"):
        parse_args(parser, ["--output_dir", str(tmp_path), "--lr_scheduler_type", "bogus"])
