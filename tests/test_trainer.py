"""litecnn_ser.trainer: the batch-mean loss across processes, length-grouped batches, a stop at the first NaN
weight."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import QUICK, ROOT
from safetensors.torch import load_file
from test_train_student import _student_args

import train_student
from litecnn_ser import transforms


def test_a_diverged_run_stops_at_the_step_and_names_the_last_good_checkpoint(corpus_dir, dataset_cache, tmp_path):
    """At a learning rate of 1e30 the weights are NaN within a few steps. transformers alone would log a finite loss
    and train on at chance; the run must stop there, before it saves or evaluates that model."""
    output = tmp_path / "diverged"
    args = ["--learning_rate", "1e30", "--max_steps", "8", "--save_strategy", "steps", "--save_steps", "1"]
    with pytest.raises(SystemExit) as stopped:
        train_student.main(_student_args(None, corpus_dir, dataset_cache, output, *args, "--eval_strategy", "no"))
    message = str(stopped.value)
    step = int(message.split("diverged at step ")[1].split()[0])
    assert 1 < step < 8 and "no longer finite" in message
    assert f"The last checkpoint saved before it: {output / f'checkpoint-{step - 1}'}." in message
    assert not (output / f"checkpoint-{step}").exists()  # the NaN model was not saved
    last = load_file(output / f"checkpoint-{step - 1}" / "model.safetensors")
    assert all(np.isfinite(tensor.numpy()).all() for tensor in last.values())


def test_two_processes_train_like_one(corpus_dir, dataset_cache, tmp_path):
    """The two-process CPU form from docs/design.md: world size 2, the loss on one process's scale, one saved model."""
    output = tmp_path / "ddp"
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        str(ROOT / "train_student.py"),
        "--use_cpu",
        *_student_args(None, corpus_dir, dataset_cache, output, "--num_train_epochs", "2", "--learning_rate", "1e-3"),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert process.returncode == 0, process.stdout[-2000:] + process.stderr[-4000:]
    results = json.loads((output / "all_results.json").read_text())
    assert results["world_size"] == 2
    losses = [
        entry["loss"]
        for entry in json.loads((output / "trainer_state.json").read_text())["log_history"]
        if "loss" in entry
    ]
    # a mean cross-entropy over 6 classes starts near ln 6 = 1.79; multiplied by the world size it would be ~3.6
    assert 0.5 < losses[0] < 2.5, losses
    assert len(list(output.glob("model.safetensors"))) == 1
    assert not list(output.glob("*rank*"))


class _Built(Exception):
    """Stops `train_student.main` once its Trainer is built."""


def _student_trainer(monkeypatch, *args):
    def stop(trainer, *_):
        raise _Built(trainer)

    monkeypatch.setattr(train_student, "train_and_evaluate", stop)
    with pytest.raises(_Built) as built:
        train_student.main(list(args))
    return built.value.args[0]


def test_whole_clip_batches_grouped_by_length_pad_less(corpus_dir, dataset_cache, tmp_path, monkeypatch):
    """`--train_sampling_strategy group_by_length` reads `duration_s` from the table (the stock sampler cannot read a
    column through the decoding transform, and decodes every clip to measure it) and gives batches of similar lengths:
    whole clips, little padding."""
    common = [
        *("--data_dir", str(corpus_dir), "--dataset_cache_dir", dataset_cache, *QUICK),
        *("--max_duration_s", "6", "--train_crop", "random", "--per_device_train_batch_size", "16"),
    ]
    padding = {}
    for strategy in ("random", "group_by_length"):
        trainer = _student_trainer(
            monkeypatch, *common, "--train_sampling_strategy", strategy, "--output_dir", str(tmp_path / strategy)
        )
        if strategy == "group_by_length":  # lengths come from the table: no clip is decoded to measure it
            with monkeypatch.context() as patch:
                patch.setattr(transforms, "load_audio", lambda *_: pytest.fail("decoded a clip for its length"))
                order = list(trainer._get_train_sampler())
            assert sorted(order) == list(range(len(trainer.train_dataset)))
        seen, padded, wasted = 0, 0, 0
        for batch in trainer.get_train_dataloader():
            lengths = batch["attention_mask"].sum(-1)
            seen += len(lengths)
            padded += batch["attention_mask"].numel()
            wasted += int((batch["attention_mask"].shape[-1] - lengths).sum())
        assert seen == len(trainer.train_dataset)  # every clip once per epoch
        padding[strategy] = wasted / padded
    # synthetic clips last 1.3-2.6 s: random batches of 16 pad ~24% of their samples; grouped ones ~10% (on 230 clips
    # the sampler sorts megabatches of only 3 batches; on the real subset, of 25)
    assert padding["group_by_length"] < padding["random"] / 2, padding


def test_length_grouping_names_a_missing_length_column(corpus_dir, dataset_cache, tmp_path, monkeypatch):
    args = [
        *("--data_dir", str(corpus_dir), "--dataset_cache_dir", dataset_cache, *QUICK),
        *("--train_sampling_strategy", "group_by_length", "--length_column_name", "frames"),
        *("--output_dir", str(tmp_path / "out")),
    ]
    trainer = _student_trainer(monkeypatch, *args)
    with pytest.raises(ValueError, match=r"no column 'frames' \(--length_column_name\)"):
        trainer.get_train_dataloader()
