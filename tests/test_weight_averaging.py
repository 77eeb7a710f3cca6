"""Weight averaging (`--weight_averaging_decay`): the average is the mean and then the exponential average of the
steps' weights, it is what is evaluated, selected and saved, the raw weights go on training, and a checkpoint made
with it cannot be resumed as if it were raw weights."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import QUICK
from safetensors.torch import load_file
from torch import nn

import train_student
from litecnn_ser.weight_averaging import TRAINING_WEIGHTS, WeightAveraging, averaging_decay


class _State:
    def __init__(self, step):
        self.global_step = step


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.norm = nn.Conv1d(1, 2, 3), nn.BatchNorm1d(2)

    def forward(self, waveforms):
        return self.norm(self.conv(waveforms[:, None, :]))


def test_average_is_the_mean_of_the_steps_then_an_exponential_average_with_its_own_statistics():
    model = _Tiny()
    clips = [np.random.default_rng(i).normal(size=50).astype(np.float32) for i in range(4)]
    averaging = WeightAveraging(decay=0.5, statistics_clips=lambda: clips)
    averaging.on_train_begin(None, None, None, model=model)
    seen = []
    for step in (1, 2, 3, 4):
        with torch.no_grad():
            model.conv.weight.normal_()
            model.norm.running_mean.normal_()  # what training's batches leave: not the average's statistics
        seen.append(model.conv.weight.detach().clone())
        averaging.on_step_end(None, _State(step), None, model=model)
    # step 1: w1 (the initial weights never count); step 2: mean(w1, w2); then decay 0.5 from step 3 on
    expected = ((seen[0] + seen[1]) / 2 * 0.5 + 0.5 * seen[2]) * 0.5 + 0.5 * seen[3]
    assert torch.allclose(averaging.average["conv.weight"], expected)
    assert [averaging_decay(0.998, step) for step in (1, 2, 1000)] == [0.0, 0.5, 0.998]

    raw = {name: value.clone() for name, value in model.state_dict().items()}
    averaging.swap(model)
    assert torch.allclose(model.conv.weight, expected) and averaging.swapped
    assert torch.equal(averaging.average["conv.weight"], raw["conv.weight"])  # the raw weights held while swapped
    # the average's statistics are its own activations' on the clips, not an average of training's
    with torch.no_grad():
        hidden = model.conv(torch.as_tensor(np.stack(clips))[:, None, :]).double()
    assert torch.allclose(model.norm.running_mean.double(), hidden.mean(dim=(0, 2)), atol=1e-5)
    assert torch.allclose(model.norm.running_var.double(), hidden.var(dim=(0, 2), unbiased=False), atol=1e-5)
    averaging.swap(model)
    assert all(torch.equal(model.state_dict()[name], value) for name, value in raw.items())
    with pytest.raises(ValueError, match="weight_averaging_decay"):
        WeightAveraging(1.0)


def test_the_average_is_evaluated_selected_and_saved(corpus_dir, dataset_cache, tmp_path):
    common = [
        *("--data_dir", str(corpus_dir), "--dataset_cache_dir", dataset_cache, *QUICK),
        *("--num_train_epochs", "3", "--learning_rate", "3e-3", "--save_total_limit", "3"),
        *("--stem_channels", "8", "--block_channels", "8", "16", "--classifier_hidden_size", "16"),
    ]
    output = tmp_path / "averaged"
    metrics = train_student.main([*common, "--weight_averaging_decay", "0.9", "--output_dir", str(output)])

    state = json.loads((output / "trainer_state.json").read_text())
    best = output / state["best_model_checkpoint"].split("/")[-1]
    averaged, raw = load_file(best / "model.safetensors"), load_file(best / TRAINING_WEIGHTS)
    final = load_file(output / "model.safetensors")
    assert set(final) <= set(averaged)
    assert all(torch.equal(final[name], averaged[name]) for name in final)  # the saved model is the average
    assert not torch.equal(raw["litecnn.stem.conv.weight"], averaged["litecnn.stem.conv.weight"])
    # what selected the checkpoint is what is saved: the epoch's logged evaluation is the final model's
    logged = next(
        log for log in state["log_history"] if log.get("step") == state["best_global_step"] and "eval_loss" in log
    )
    assert metrics["eval_loss"] == pytest.approx(logged["eval_loss"], abs=1e-6)
    config = json.loads((output / "config.json").read_text())
    assert config["weight_averaging"]["decay"] == 0.9

    with pytest.raises(SystemExit, match="weight_averaging_decay"):  # the average is not the weights being trained
        train_student.main([*common, "--output_dir", str(output), "--resume_from_checkpoint", str(best)])
    with pytest.raises(SystemExit, match="weight_averaging_decay must be in"):
        train_student.main([*common, "--weight_averaging_decay", "1.5", "--output_dir", str(tmp_path / "bad")])
